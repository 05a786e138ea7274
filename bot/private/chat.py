"""A team member's private chat with the team bot: their own space, never a client's.

/start, /help, /notes here; /my, /list, /templates, /template in Teamwork.private_router;
anything else gets help or a hint. Teamwork.in_private lets only current members in.
"""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.types import Message, User

from bot.i18n import t
from bot.storage import topic_link
from bot.team.context import Team
from bot.team.links import topic_url
from bot.team.roles import remember_operator
from bot.team.tasks import resend_missed
from core.models import Note, Operator
from tgapi.filters import CONTENT


async def help_text(team: Team, user: User, lang: str) -> str:
    text = t("help.private", lang)
    if await team.is_manager(user):
        text += "\n" + t("help.private_manager", lang)
    return text


def private_router(team: Team) -> Router:
    router = Router(name="operator-private")
    core = team.core

    @router.message(Command("start"))
    async def start(message: Message, event_from_user: User, lang: str) -> None:
        operator = await remember_operator(event_from_user, core.clock, started=True)
        await message.answer(t("private.welcome", lang, name=operator.name))
        await team.desk.notes.deliver_pending_notes(operator)
        await resend_missed(core.ctx, operator)  # task reminders that could not reach them

    @router.message(Command("help"))
    async def help_(message: Message, event_from_user: User, lang: str) -> None:
        await message.answer(await help_text(team, event_from_user, lang))

    @router.message(Command("notes"))
    async def notes(message: Message, event_from_user: User, lang: str) -> None:
        operator = await remember_operator(event_from_user, core.clock, started=True)
        await message.answer(await notes_text(operator, team.chat_id, lang))

    return router


def own_space_router(team: Team) -> Router:
    """Last in a member's private chat: what no command took. Nothing here reaches a client.
    (A button nobody handles is Teamwork.gated's: one answer for every stale button.)"""
    router = Router(name="operator-private-rest")

    @router.message(F.text.startswith("/"))
    async def unknown_command(message: Message, event_from_user: User, lang: str) -> None:
        help_ = await help_text(team, event_from_user, lang)
        await message.answer(t("private.unknown_command", lang) + "\n\n" + help_)

    @router.message(CONTENT)
    async def anything_else(message: Message, lang: str) -> None:
        await message.answer(t("private.hint", lang))

    @router.edited_message()
    async def edited() -> None:
        """An operator's own words in private: nothing to mirror anywhere."""

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
            link = await topic_link(current)
            title = link.title if link else f"#{current}"
            url = topic_url(team_chat_id, link.thread_id) if link else ""
            lines.append(f"\n{title} {url}".rstrip())
        lines.append(f"• {note.text}")
    return "\n".join(lines)[:4000]
