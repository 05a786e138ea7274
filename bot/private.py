"""Operators in their private chat with the team bot: /start, /notes, /help.

Anyone who is not on the team falls through to the client channel's router.
"""

from __future__ import annotations

from aiogram import Bot, F, Router
from aiogram.filters import Command, Filter
from aiogram.types import Message

from bot.i18n import pick_language, t
from bot.storage import TopicLink
from bot.team.desk import Desk
from bot.team.links import topic_url
from bot.team.roles import is_group_member, remember_operator
from core.models import Note, Operator
from core.service import Core


class TeamMember(Filter):
    """Known operators; on /start also any member of the team group (checked with Telegram)."""

    def __init__(self, team_chat_id: int) -> None:
        self.team_chat_id = team_chat_id

    async def __call__(self, message: Message, bot: Bot) -> bool | dict[str, Operator]:
        user = message.from_user
        if user is None or user.is_bot:
            return False
        operator = await Operator.get_or_none(user_id=user.id, active=True)
        return not (operator is None and not await is_group_member(bot, self.team_chat_id, user.id))


def private_router(core: Core, desk: Desk, team_chat_id: int) -> Router:
    router = Router(name="operator-private")
    # Only these commands are the team's; anything else in private is a client writing.
    router.message.filter(
        F.chat.type == "private", Command("start", "help", "notes"), TeamMember(team_chat_id)
    )

    @router.message(Command("start"))
    async def start(message: Message) -> None:
        assert message.from_user
        operator = await remember_operator(message.from_user, core.clock, started=True)
        lang = pick_language(message.from_user.language_code)
        await message.answer(t("private.welcome", lang, name=operator.name))
        await desk.deliver_pending_notes(operator)

    @router.message(Command("help"))
    async def help_(message: Message) -> None:
        assert message.from_user
        await message.answer(t("help.private", pick_language(message.from_user.language_code)))

    @router.message(Command("notes"))
    async def notes(message: Message) -> None:
        assert message.from_user
        lang = pick_language(message.from_user.language_code)
        operator = await remember_operator(message.from_user, core.clock, started=True)
        await message.answer(await notes_text(operator, team_chat_id, lang))

    return router


async def notes_text(operator: Operator, team_chat_id: int, lang: str) -> str:
    """The author's notes grouped by dialog; nobody else's are ever read here."""
    notes = await Note.filter(author=operator).order_by("dialog_id", "id")
    if not notes:
        return t("notes.none", lang)
    lines = [t("notes.title", lang)]
    current = None
    for note in notes:
        if note.dialog_id != current:  # type: ignore[attr-defined]
            current = note.dialog_id  # type: ignore[attr-defined]
            link = await TopicLink.get_or_none(dialog_id=current)
            title = link.title if link else f"#{current}"
            url = topic_url(team_chat_id, link.thread_id) if link else ""
            lines.append(f"\n{title} {url}".rstrip())
        lines.append(f"• {note.text}")
    return "\n".join(lines)[:4000]
