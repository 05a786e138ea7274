"""Who is on the team right now: the current members of the team group.

Telegram tells the team bot (an administrator there) of every change with `chat_member`;
anyone it has not told us about is asked with getChatMember, and the answer is kept a minute.
A member who leaves or is removed loses everything at once: their dialogs become unassigned
(they reappear on the board) and they are no longer offered as an assignee.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from aiogram import Bot, F, Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import Filter
from aiogram.types import (
    ChatMemberRestricted,
    ChatMemberUpdated,
    Message,
    ResultChatMemberUnion,
    TelegramObject,
    User,
)

from core.lifecycle import DialogStatus
from core.models import Dialog, Operator
from core.outbox import RetryLater
from core.service import Core
from tgapi.errors import UnknownUser, translate

log = logging.getLogger(__name__)

TTL = timedelta(seconds=60)
CHECK_TIMEOUT = 10
# Past this many remembered people the expired ones are dropped (clients ask too).
PRUNE_AT = 4096
ADMINS = frozenset({"creator", "administrator"})
LIVE = ADMINS | {"member"}


@dataclass(frozen=True)
class Standing:
    member: bool
    admin: bool


def standing_of(member: ResultChatMemberUnion) -> Standing:
    if isinstance(member, ChatMemberRestricted):
        # Restricted yet still in the group, or restricted after leaving it.
        return Standing(member.is_member, admin=False)
    return Standing(member.status in LIVE, member.status in ADMINS)


OUTSIDER = Standing(member=False, admin=False)


def is_unknown_user(exc: TelegramBadRequest) -> bool:
    return isinstance(translate(exc), UnknownUser)


class Membership:
    def __init__(self, core: Core, bot: Bot, chat_id: int, ttl: timedelta = TTL) -> None:
        self.core = core
        self.bot = bot
        self.chat_id = chat_id
        self.ttl = ttl
        self._known: dict[int, tuple[Standing, datetime]] = {}
        # Bumped by every news of a person: an answer asked for before a newer one (a
        # chat_member update while getChatMember was under way) must not undo it.
        self._version: dict[int, int] = {}
        # Who was last known a member, however long ago: in doubt, never taken for a client.
        self._was_member: set[int] = set()

    async def standing(self, user_id: int, *, recheck_outsider: bool = False) -> Standing | None:
        """None when Telegram could not be asked and nothing recent is known."""
        known = self._known.get(user_id)
        current = known is not None and known[1] > self.core.clock.now()
        if known is not None and current and (known[0].member or not recheck_outsider):
            return known[0]
        asked_at = self._version.get(user_id, 0)
        try:
            member = await self.bot.get_chat_member(
                self.chat_id, user_id, request_timeout=CHECK_TIMEOUT
            )
        except TelegramBadRequest as exc:
            if not is_unknown_user(exc):
                # E.g. "chat not found": a fault of ours, which must not cost anyone the team.
                log.warning("cannot check whether %s is on the team: %s", user_id, exc.message)
                return None
            standing = OUTSIDER  # Telegram has never seen them in the group
        except Exception as exc:
            log.warning("cannot check whether %s is on the team: %s", user_id, exc)
            return None
        else:
            standing = standing_of(member)
        if self._version.get(user_id, 0) != asked_at:
            # Newer news came while we asked (a kick, say): that one stands.
            newer = self._known.get(user_id)
            return newer[0] if newer else standing
        await self.record(user_id, standing)
        return standing

    def was_member(self, user_id: int) -> bool:
        """Last known on the team (the cache may have expired): for when Telegram cannot say."""
        return user_id in self._was_member

    async def is_member(self, user_id: int, *, recheck_outsider: bool = False) -> bool | None:
        standing = await self.standing(user_id, recheck_outsider=recheck_outsider)
        return None if standing is None else standing.member

    async def still_on_team(self, user_id: int) -> bool:
        """For outbox work addressed to a member (a notice, a reminder): whether they are on
        the team still; when Telegram cannot say, the row is tried again in a minute."""
        member = await self.is_member(user_id)
        if member is None:
            raise RetryLater(60, "cannot check the team membership")
        return member

    async def is_admin(self, user_id: int) -> bool:
        standing = await self.standing(user_id)
        return standing is not None and standing.admin

    async def record(self, user_id: int, standing: Standing) -> None:
        now = self.core.clock.now()
        if len(self._known) > PRUNE_AT:
            self._known = {k: v for k, v in self._known.items() if v[1] > now}
            self._version = {k: v for k, v in self._version.items() if k in self._known}
        self._known[user_id] = (standing, now + self.ttl)
        self._version[user_id] = self._version.get(user_id, 0) + 1
        if standing.member:
            self._was_member.add(user_id)
        else:
            self._was_member.discard(user_id)
        if not standing.member:
            await self.departed(user_id)

    async def departed(self, user_id: int) -> None:
        """Not on the team (any more): no assignee, no notices, no team commands."""
        operator = await Operator.get_or_none(user_id=user_id, active=True)
        if operator is None:
            return
        operator.active = False
        await operator.save(update_fields=["active"])
        log.info("%s is no longer in the team group: unassigning their dialogs", operator.name)
        assigned = await Dialog.filter(
            assignee_id=operator.id, status__in=(DialogStatus.OPEN, DialogStatus.SNOOZED)
        )
        for dialog in assigned:
            # Through core, by nobody in particular: the card, the board and the log follow.
            await self.core.dialogs.assign(dialog.id, None, None)

    def router(self) -> Router:
        """Joins and departures in the team group, as Telegram reports them."""
        router = Router(name="team-membership")
        router.chat_member.filter(F.chat.id == self.chat_id)
        router.message.filter(F.chat.id == self.chat_id)

        @router.chat_member()
        async def changed(update: ChatMemberUpdated) -> None:
            user = update.new_chat_member.user
            if user.is_bot:
                return
            standing = standing_of(update.new_chat_member)
            await self.record(user.id, standing)
            if standing.member:
                # Back on the team: offered as an assignee again.
                await Operator.filter(user_id=user.id, active=False).update(active=True)

        @router.message(F.left_chat_member)
        async def left(message: Message) -> None:
            # Also a service message: a backup for a chat_member update that never came.
            user = message.left_chat_member
            if user is not None and not user.is_bot:
                await self.record(user.id, OUTSIDER)

        return router


class OnTeam(Filter):
    """Current members of the team group. `in_doubt` is True when Telegram could not be asked
    about someone who may be on the team: they are told to try again, never treated as a
    stranger (nor as a client). A message posted in the group needs no such doubt: Telegram
    lets only members post there."""

    def __init__(self, membership: Membership) -> None:
        self.membership = membership

    async def __call__(
        self, event: TelegramObject, event_from_user: User | None = None
    ) -> bool | dict[str, Any]:
        user = event_from_user
        if user is None or user.is_bot:
            return False
        posted = isinstance(event, Message) and event.chat.id == self.membership.chat_id
        # A post contradicts a remembered "not a member": they may have joined since.
        member = await self.membership.is_member(user.id, recheck_outsider=posted)
        if member is None:
            if posted:
                return {"in_doubt": False}
            # A button is pressed by someone who saw a team message; a private message may be
            # a client's, unless its author was on the team.
            if (
                not isinstance(event, Message)
                or self.membership.was_member(user.id)
                or await Operator.exists(user_id=user.id, active=True)
            ):
                return {"in_doubt": True}
            return False
        return {"in_doubt": False} if member else False


class FormerMember(Filter):
    """Someone who was an operator and is not on the team now."""

    async def __call__(self, event: TelegramObject, event_from_user: User | None = None) -> bool:
        user = event_from_user
        return user is not None and await Operator.exists(user_id=user.id, active=False)
