"""What the team-work routers share: who is acting, which dialog a topic shows, short answers."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from aiogram import Bot, Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.types import Message, ReactionTypeEmoji, TelegramObject, User

from bot.group.desk import Desk
from bot.i18n import pick_language, t
from bot.team.answers import quietly
from bot.team.group_answers import queue_reply
from bot.team.membership import Membership
from bot.team.roles import remember_operator
from core.clock import Clock
from core.models import Operator
from core.outbox import RetryLater
from core.service import Core
from tgapi.errors import call
from tgapi.text import split

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

    async def managers_in_private(self) -> list[Operator]:
        """The managers the bot may write to: the group's administrators (Telegram asked once
        for all of them) and MANAGERS, among the operators on the team who started the bot.
        When Telegram cannot say, the caller's outbox row is tried again in a minute."""
        try:
            admins = await call(self.bot.get_chat_administrators(self.chat_id))
        except Exception as exc:
            raise RetryLater(60, f"cannot list the group's administrators: {exc}") from exc
        admin_ids = {member.user.id for member in admins if not member.user.is_bot}
        found = await Operator.filter(active=True, can_message=True).order_by("id")
        return [
            operator
            for operator in found
            if operator.user_id in admin_ids
            or self.settings.is_manager(operator.user_id, operator.username)
        ]

    async def confirm(self, message: Message, text: str, mark: str = "👌") -> None:
        """A done command: a line that says who did what — or, while the group's budget is
        busy, a reaction on the command (it costs no group message; the title and the card
        show the new state anyway)."""
        if message.chat.id == self.chat_id and self.desk.gateway.busy():
            try:
                await self.bot.set_message_reaction(
                    message.chat.id, message.message_id, [ReactionTypeEmoji(emoji=mark)]
                )
                return
            except TelegramBadRequest:
                pass  # reactions turned off in the group: the line it is
        await self.say(message, text)

    async def say(self, message: Message, text: str, **kwargs: Any) -> Message | None:
        """A short answer. In the group it is queued (an outbox row that goes as the group's
        budget allows: no handler waits for it), so None; in private it is sent at once."""
        if message.chat.id == self.chat_id:
            await queue_reply(self.core.ctx, message, text, **kwargs)
            return None
        return await message.reply(text, **kwargs)

    async def no_dialog_here(
        self, message: Message, lang: str, elsewhere: str = "error.topic_only"
    ) -> None:
        """A dialog's command used where there is none: in a topic that is no dialog's, or
        outside the topics (`elsewhere` says where it works)."""
        key = "error.not_dialog" if message.is_topic_message else elsewhere
        await self.answer(message, t(key, lang))

    async def answer(self, message: Message, text: str, **kwargs: Any) -> Message | None:
        """An answer that fits (a long one goes in parts, cut at line breaks; `kwargs`, e.g.
        a keyboard, ride on the last) and never fails the update: what it reports is done
        already, and a re-run would do it twice. None when it was queued (in the group) or
        could not be sent."""
        parts = [part for part, _ in split(text, ())] or [text]
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
