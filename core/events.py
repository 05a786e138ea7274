"""Core events and the in-process bus that the bot, automations and statistics hang off."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from core.models import Dialog, Message

log = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class CoreEvent:
    name = "core.event"
    dialog_id: int | None = None
    actor_id: int | None = None
    at: datetime | None = None
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class DialogCreated(CoreEvent):
    name = "dialog.created"


@dataclass(frozen=True, kw_only=True)
class EpisodeStarted(CoreEvent):
    name = "episode.started"
    episode_id: int
    reopening: bool = False


@dataclass(frozen=True, kw_only=True)
class MessageCreated(CoreEvent):
    name = "message.created"
    message_id: int
    kind: str
    # The message and its dialog as the change left them, for the durable subscribers that
    # run in its transaction (they need not read them again); None: not given, read them.
    message: Message | None = field(default=None, compare=False, repr=False)
    dialog: Dialog | None = field(default=None, compare=False, repr=False)
    # How many other dialogs the dialog's client has (None: not known).
    other_dialogs: int | None = field(default=None, compare=False)


@dataclass(frozen=True, kw_only=True)
class MessageEdited(CoreEvent):
    name = "message.edited"
    message_id: int
    kind: str


@dataclass(frozen=True, kw_only=True)
class StatusChanged(CoreEvent):
    name = "dialog.status_changed"
    old: str
    new: str
    reason: str = ""


@dataclass(frozen=True, kw_only=True)
class AssigneeChanged(CoreEvent):
    name = "dialog.assignee_changed"
    old_assignee_id: int | None
    new_assignee_id: int | None


@dataclass(frozen=True, kw_only=True)
class TagsChanged(CoreEvent):
    name = "dialog.tags_changed"
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class ClientChanged(CoreEvent):
    name = "client.changed"
    client_id: int


@dataclass(frozen=True, kw_only=True)
class DeliveryFailed(CoreEvent):
    name = "message.delivery_failed"
    message_id: int
    reason: str


@dataclass(frozen=True, kw_only=True)
class ContentLeftOut(CoreEvent):
    """What the dialog's channel could not carry of an operator's message (an edit, a
    sticker, a file over its limit): each a core.adapt.LeftOut as JSON. The rest, if any, was
    delivered (`delivered`)."""

    name = "message.content_left_out"
    message_id: int
    left_out: tuple[dict[str, Any], ...]
    delivered: bool = True


@dataclass(frozen=True, kw_only=True)
class ReachabilityChanged(CoreEvent):
    """The client can no longer be written to (blocked us), or can again (wrote to us)."""

    name = "dialog.reachability_changed"
    reachable: bool


@dataclass(frozen=True, kw_only=True)
class ContextChanged(CoreEvent):
    """The client's channel told another context of the dialog (a visitor's web page)."""

    name = "dialog.context_changed"


@dataclass(frozen=True, kw_only=True)
class NoteCreated(CoreEvent):
    name = "note.created"
    note_id: int


E = TypeVar("E", bound=CoreEvent)
Handler = Callable[[Any], Awaitable[None]]
# A durable subscriber may answer with events of its own (e.g. ReachabilityChanged).
DurableHandler = Callable[[Any], Awaitable[Iterable[CoreEvent] | None]]


class EventBus:
    """Two kinds of subscribers.

    Durable (`on_change`): run INSIDE the transaction of the change, by `changed`, for work
    that must happen — writing outbox rows, nothing else (no network). An exception rolls the
    change back: the caller sees it and tries again (the Telegram poller runs the update
    again).

    After the commit (`subscribe`): run by `publish` once the change is committed, for what
    may be lost (a redraw the next change redoes anyway); one failing subscriber is logged
    and never stops the others.
    """

    def __init__(self) -> None:
        self._handlers: dict[type[CoreEvent], list[Handler]] = defaultdict(list)
        self._durable: dict[type[CoreEvent], list[DurableHandler]] = defaultdict(list)

    def subscribe(self, event_type: type[E], handler: Callable[[E], Awaitable[None]]) -> None:
        self._handlers[event_type].append(handler)

    def on_change(
        self, event_type: type[E], handler: Callable[[E], Awaitable[Iterable[CoreEvent] | None]]
    ) -> None:
        self._durable[event_type].append(handler)

    def unsubscribe(self, event_type: type[CoreEvent], handler: Callable[..., Any]) -> None:
        """Either kind (tests that take one subscriber away)."""
        for handlers in (self._handlers, self._durable):
            if handler in handlers.get(event_type, ()):
                handlers[event_type].remove(handler)

    async def changed(self, events: Iterable[CoreEvent]) -> list[CoreEvent]:
        """Call inside the change's transaction: every durable subscriber of each event, in
        order, and of the events they answer with. Exceptions propagate (the change rolls
        back). Returns every event, theirs included, for `publish` after the commit."""
        done: list[CoreEvent] = []
        queue = list(events)
        while queue:
            event = queue.pop(0)
            done.append(event)
            for event_type in type(event).__mro__:
                for handler in self._durable.get(event_type, ()):
                    more = await handler(event)
                    if more:
                        queue.extend(more)
        return done

    async def publish(self, event: CoreEvent) -> None:
        """After the commit: the subscribers of what may be lost."""
        for event_type in type(event).__mro__:
            for handler in self._handlers.get(event_type, ()):
                try:
                    await handler(event)
                except Exception:
                    log.exception("subscriber %s failed on %s", handler, event.name)

    async def publish_all(self, events: Iterable[CoreEvent]) -> None:
        for event in events:
            await self.publish(event)


@dataclass(frozen=True, kw_only=True)
class CsatRated(CoreEvent):
    """A client rated an episode 1..5 (core.csat); `old`: the score it replaced (None: the
    first rating)."""

    name = "csat.rated"
    survey_id: int
    episode_id: int
    score: int
    old: int | None = None
