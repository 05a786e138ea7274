"""What the team-work routers share: who is acting, which dialog a topic shows, short answers."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from aiogram import Bot, Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.types import Message, ReactionTypeEmoji, TelegramObject, User

from bot.i18n import pick_language
from bot.storage import TopicLink
from bot.team.answers import quietly
from bot.team.desk import Desk
from bot.team.membership import Membership
from bot.team.roles import remember_operator
from connectors.telegram.texts import split_text
from core.clock import Clock
from core.models import Dialog
from core.service import Core

# An answer waits at most about this many seconds for the budget, then goes anyway.
MAX_BUDGET_WAITS = 30

Middleware = Callable[
    [Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]], TelegramObject, dict[str, Any]],
    Awaitable[Any],
]


@dataclass
class Timings:
    """Debounce delays in seconds; tests shorten them."""

    card: float = 3.0
    board: float = 10.0
    activity: float = 30.0


@dataclass
class Team:
    core: Core
    desk: Desk
    bot: Bot
    settings: Any
    timings: Timings
    membership: Membership

    @property
    def chat_id(self) -> int:
        return int(self.settings.TEAM_CHAT_ID)

    async def is_manager(self, user: User) -> bool:
        if self.settings.is_manager(user.id, user.username):
            return True
        return await self.membership.is_admin(user.id)

    async def dialog_of(self, message: Message) -> Dialog | None:
        if not message.is_topic_message or not message.message_thread_id:
            return None
        link = await TopicLink.get_or_none(
            chat_id=self.chat_id, thread_id=message.message_thread_id
        )
        return await Dialog.get(id=link.dialog_id) if link else None  # type: ignore[attr-defined]

    async def spend(self) -> None:
        """Wait for one call of the group's budget: an answer to a person must go out."""
        await self.desk.spend_waiting(MAX_BUDGET_WAITS)

    async def confirm(self, message: Message, text: str, mark: str = "👌") -> None:
        """A done command: a line that says who did what — or, while the group's budget is
        busy, a reaction on the command (it costs no group message; the title and the card
        show the new state anyway)."""
        if message.chat.id == self.chat_id and self.desk.busy():
            try:
                await self.bot.set_message_reaction(
                    message.chat.id, message.message_id, [ReactionTypeEmoji(emoji=mark)]
                )
                return
            except TelegramBadRequest:
                pass  # reactions turned off in the group: the line it is
        await self.say(message, text)

    async def say(self, message: Message, text: str, **kwargs: Any) -> Message:
        """A short answer; in the group it counts against the budget like any post."""
        if message.chat.id == self.chat_id:
            await self.spend()
        return await message.reply(text, **kwargs)

    async def answer(self, message: Message, text: str, **kwargs: Any) -> Message | None:
        """An answer that fits (a long one goes in parts, cut at line breaks; `kwargs`, e.g.
        a keyboard, ride on the last) and never fails the update: what it reports is done
        already, and a re-run would do it twice. None when it could not be sent."""
        parts = [part for part, _ in split_text(text, [])] or [text]
        sent = None
        for index, part in enumerate(parts):
            extra = kwargs if index == len(parts) - 1 else {}
            got = await quietly(partial(self.say, message, part, **extra))
            sent = sent or got
        return sent


def operator_middleware(clock: Clock, group_lang: str | None = None) -> Middleware:
    """Injects `operator` (remembered from the Telegram user) and `lang`; ignores bots.

    Only for current members (Teamwork.in_group / in_private check that first): nobody else
    becomes an operator. `lang` is the group's language (LANGUAGE) for what the group sees,
    and the person's own in private and in inline mode."""

    async def with_operator(
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        user = data.get("event_from_user")
        if user is None or user.is_bot:
            return None
        if "operator" not in data:  # a parent router's middleware did it already
            data["operator"] = await remember_operator(user, clock)
        chat = data.get("event_chat")
        in_group = chat is not None and chat.type != "private"
        # pick_language(None) is LANGUAGE.
        data["lang"] = (group_lang or pick_language(None)) if in_group else (
            pick_language(user.language_code)
        )  # fmt: skip
        return await handler(event, data)

    return with_operator


def group_router(name: str, team: Team) -> Router:
    """A router for the team group: include it under Teamwork.in_group, which lets only
    current members in and injects `operator` and `lang`."""
    return Router(name=name)
