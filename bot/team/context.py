"""What the team-work routers share: who is acting, which dialog a topic shows, short answers."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiogram import Bot, F, Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.types import Message, ReactionTypeEmoji, TelegramObject, User

from bot.i18n import pick_language
from bot.storage import TopicLink
from bot.team.desk import Desk
from bot.team.roles import is_group_admin, remember_operator
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

    @property
    def chat_id(self) -> int:
        return int(self.settings.TEAM_CHAT_ID)

    async def is_manager(self, user: User) -> bool:
        if self.settings.is_manager(user.id, user.username):
            return True
        return await is_group_admin(self.bot, self.chat_id, user)

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


def operator_middleware(clock: Clock) -> Middleware:
    """Injects `operator` (remembered from the Telegram user) and `lang`; ignores bots."""

    async def with_operator(
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        user = data.get("event_from_user")
        if user is None or user.is_bot:
            return None
        data["operator"] = await remember_operator(user, clock)
        data["lang"] = pick_language(user.language_code)
        return await handler(event, data)

    return with_operator


def group_router(name: str, team: Team) -> Router:
    """A router for the team group only, with the operator injected."""
    router = Router(name=name)
    router.message.filter(F.chat.id == team.chat_id)
    router.callback_query.filter(F.message.chat.id == team.chat_id)
    # Inner: runs only when one of this router's handlers matched.
    middleware = operator_middleware(team.core.clock)
    router.message.middleware(middleware)
    router.callback_query.middleware(middleware)
    return router
