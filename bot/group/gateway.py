"""The way into the team group: its bots (the team bot and relays, each a poster with its own
group budget), one call spent of a budget at a time, and the dialog's topic kept there —
created, made anew when deleted, reopened when a post is refused as closed.

Every call into the group goes through the outbox and the group's budget: none waits here.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest

from bot.group.rows import queue_notice
from bot.i18n import t
from bot.storage import Once, TopicLink, topic_link
from bot.team.links import topic_title
from core.channels import UnknownChannel
from core.lifecycle import DialogStatus
from core.models import Dialog, Message, MessageKind
from core.outbox import RetryLater
from core.queries import client_and_channel
from core.service import Core
from tgapi.errors import NoRights, ThreadGone, call, is_not_modified, translate
from tgapi.files import TelegramFiles
from tgapi.limits import GroupBudget

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass
class Poster:
    """A bot that may post client messages into topics, with its own group budget."""

    bot: Bot
    budget: GroupBudget
    # Relays without "Manage Topics" only post; found out on the first refusal.
    can_create_topics: bool = True


class Gateway:
    def __init__(
        self,
        core: Core,
        bot: Bot,
        team_chat_id: int,
        bots: dict[int, Bot],
        budget: GroupBudget,
        language: str,
        relays: list[Poster] | None = None,
        files: TelegramFiles | None = None,
    ) -> None:
        self.core = core
        self.bot = bot
        self.chat_id = team_chat_id
        self.bots = bots
        # Each bot's way to a file: its own file id, or an upload.
        self.files = files or TelegramFiles(bots)
        self.budget = budget
        self.lang = language
        # Client messages may go out through relay bots: each has its own group budget.
        self.posters = [Poster(bot, budget), *(relays or [])]
        # Told when a dialog got a new topic (the card is posted there again).
        self.healed: list[Callable[[Dialog, TopicLink], Awaitable[None]]] = []
        # Dialogs whose topic is known to be deleted and not made anew yet.
        self.gone: set[int] = set()
        # Dialogs whose topic refused the team bot's post as closed and is not reopened yet.
        self.shut: set[int] = set()

    def now(self) -> datetime:
        return self.core.clock.now()

    async def first_time(self, key: str) -> bool:
        _, created = await Once.get_or_create(key=key, defaults={"created_at": self.now()})
        return created

    # ---- budget ---------------------------------------------------------------------------

    def posters_wait(self) -> float:
        return min(p.budget.wait_time() for p in self.posters)

    def posters_room(self) -> int:
        return sum(p.budget.room() for p in self.posters)

    def busy(self) -> bool:
        return all(p.budget.busy() for p in self.posters)

    def spend(self, poster: Poster | None = None) -> None:
        """One call into the group (of `poster`'s budget; the team bot's by default), or
        come back when the budget allows it."""
        wait = (poster.budget if poster else self.budget).take()
        if wait > 0:
            raise RetryLater(wait, "group budget", waiting=True)

    async def group_call(self, request: Callable[[], Awaitable[T]], *, spent: bool = False) -> T:
        if not spent:
            self.spend()
        try:
            return await call(request())
        except RetryLater as exc:
            if exc.args and exc.args[0] == "429":
                self.budget.penalize(exc.delay)
            raise

    def poster_of(self, bot_id: int | None) -> Poster:
        """The poster of a message already in the group (only its author may edit it)."""
        return next((p for p in self.posters if p.bot.id == bot_id), self.posters[0])

    async def poster_call(self, poster: Poster, request: Callable[[], Awaitable[T]]) -> T:
        """A call whose budget `poster` has already spent; a 429 blocks that bot only."""
        try:
            return await call(request())
        except RetryLater as exc:
            if exc.args and exc.args[0] == "429":
                poster.budget.penalize(exc.delay)
            raise

    def pick_poster(self, creating_topic: bool = False) -> Poster:
        """The bot (main or relay) whose group budget frees first; spend one call of it."""
        able = [p for p in self.posters if p.can_create_topics or not creating_topic]
        best = min(able, key=lambda p: p.budget.wait_time())
        self.spend(best)
        return best

    # ---- the dialog's topic ---------------------------------------------------------------

    async def title_for(self, dialog: Dialog, status: str) -> str:
        client, channel = await client_and_channel(dialog)
        # A channel with subjects (e-mail) names the topic by the client and the subject.
        named = dialog.subject if dialog.subject and self.has_subjects(dialog) else channel.name
        return topic_title(client.name, named, status, unreachable=dialog.unreachable)

    def has_subjects(self, dialog: Dialog) -> bool:
        try:
            connector = self.core.connectors.for_dialog(dialog)
        except UnknownChannel:
            return False
        return connector.capabilities.subject

    async def topic_of(self, dialog: Dialog) -> TopicLink:
        link = await topic_link(dialog.id)
        if link is None:
            return await self.create_topic(dialog)
        if dialog.id in self.gone:
            await self.heal(dialog, link)  # known gone: no call spent on the dead thread
        elif dialog.id in self.shut:
            await self.reopen(dialog, link)  # known closed to us: reopened before a post
        return link

    async def create_topic(
        self, dialog: Dialog, replacing: TopicLink | None = None, *, spent: bool = False
    ) -> TopicLink:
        status = DialogStatus.OPEN.value
        title = await self.title_for(dialog, status)
        if spent:
            topic = await self.group_call(
                lambda: self.bot.create_forum_topic(self.chat_id, title), spent=True
            )
        else:
            # Any bot allowed to manage topics may create one: topic work spreads over budgets.
            poster = self.pick_poster(creating_topic=True)
            try:
                topic = await call(poster.bot.create_forum_topic(self.chat_id, title))
            except TelegramBadRequest as exc:
                if poster is self.posters[0] or not isinstance(translate(exc), NoRights):
                    raise
                poster.can_create_topics = False
                raise RetryLater(0, "relay cannot manage topics", waiting=True) from exc
            except RetryLater as exc:
                if exc.args and exc.args[0] == "429":
                    poster.budget.penalize(exc.delay)
                raise
        if replacing is not None:
            replacing.thread_id = topic.message_thread_id
            replacing.title, replacing.shown_status, replacing.closed = title, status, False
            await replacing.save()
            return replacing
        return await TopicLink.create(
            dialog=dialog,
            chat_id=self.chat_id,
            thread_id=topic.message_thread_id,
            title=title,
            shown_status=status,
            created_at=self.now(),
        )

    async def heal(self, dialog: Dialog, link: TopicLink) -> None:
        """The topic was deleted: a new one, the dialog re-mapped, a one-line summary."""
        old_thread = link.thread_id
        # Remembered: while the budget is spent the caller comes back later (RetryLater), and
        # then heals first (topic_of) instead of spending a call on the dead thread again.
        self.gone.add(dialog.id)
        self.spend()
        await self.create_topic(dialog, replacing=link, spent=True)
        self.gone.discard(dialog.id)
        self.shut.discard(dialog.id)
        count = await Message.filter(dialog_id=dialog.id, kind=MessageKind.IN).count()
        log.warning("dialog %s: topic %s was gone, now %s", dialog.id, old_thread, link.thread_id)
        for hook in self.healed:
            await hook(dialog, link)
        status = t(f"status.word.{dialog.status.value}", self.lang)
        await queue_notice(
            self.core.ctx, dialog.id, "notice.topic_recreated", count=count, status=status
        )

    async def reopen(self, dialog: Dialog, link: TopicLink) -> None:
        """A post was refused with TOPIC_CLOSED (closed by hand, or the poster is no
        administrator): the team bot reopens the topic, once; the caller retries the post.
        While the budget is spent, RetryLater: the caller comes back then, and reopens
        first (topic_of) rather than have its post refused again."""
        self.shut.add(dialog.id)
        try:
            await self.group_call(lambda: self.bot.reopen_forum_topic(self.chat_id, link.thread_id))
        except ThreadGone:
            await self.heal(dialog, link)
            return
        except TelegramBadRequest as exc:
            if not is_not_modified(exc):
                raise  # e.g. no right to manage topics: retried with backoff
            # Open already, and still refused: nothing to heal here; back off.
            self.shut.discard(dialog.id)
            raise RetryLater(1.0, f"TOPIC_CLOSED in an open topic ({exc.message})") from exc
        self.shut.discard(dialog.id)
        log.warning("dialog %s: topic %s was closed; reopened", dialog.id, link.thread_id)
        link.closed = False
        await link.save(update_fields=["closed"])
