"""Tags: /tag a b and /untag a in a topic, /tags for every tag with its counts."""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command, CommandObject
from aiogram.types import Message

from bot.i18n import t
from bot.team.answers import shorten
from bot.team.context import Team, group_router
from bot.team.steps import done, mark, update_key
from core.dialogs import normalize_tag
from core.models import Dialog, Operator
from core.queries import tag_counts, tag_names


def hashtags(names: list[str] | tuple[str, ...]) -> str:
    return " ".join(f"#{n}" for n in names)


def tags_router(team: Team) -> Router:
    router = group_router("team-tags", team)
    dialogs = team.core.dialogs

    @router.message(Command("tag", "untag"), flags={"dialog": True})
    async def tag(
        message: Message,
        command: CommandObject,
        operator: Operator,
        lang: str,
        dialog: Dialog,
    ) -> None:
        names = [n for n in (normalize_tag(w) for w in (command.args or "").split()) if n]
        adding = command.command.lower() == "tag"
        if not names:
            await team.answer(message, t("tags.usage_tag" if adding else "tags.usage_untag", lang))
            return
        step = update_key(message, command.command.lower())
        if await done(step):
            # The same update again (its answer failed, the process died): the change was
            # made then; tell it as it was, not as "already has".
            now = await tag_names(dialog.id)
            changed = tuple(n for n in names if (n in now) == adding)
        else:
            if adding:
                changed = await dialogs.tag(dialog.id, names, operator)
            else:
                changed = await dialogs.untag(dialog.id, names, operator)
            await mark(step, team.core.clock.now())
            now = await tag_names(dialog.id)
        if changed:
            key = "tags.added" if adding else "tags.removed"
            text = t(key, lang, tags=hashtags(changed), now=hashtags(now) or "—")
        else:
            key = "tags.already" if adding else "tags.not_there"
            text = t(key, lang, tags=hashtags(names))
        await team.answer(message, text)

    @router.message(Command("tags"))
    async def all_tags(message: Message, lang: str) -> None:
        counts = await tag_counts()
        if not counts:
            await team.answer(message, t("tags.none", lang))
            return
        lines = [t("tags.title", lang)]
        lines += [
            t("tags.line", lang, tag=name, total=total, open=open_) for name, total, open_ in counts
        ]
        await team.answer(message, shorten("\n".join(lines)))

    return router
