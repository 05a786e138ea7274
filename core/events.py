"""Core events and the in-process bus that the bot, automations and statistics hang off."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

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
class ReachabilityChanged(CoreEvent):
    """The client can no longer be written to (blocked us), or can again (wrote to us)."""

    name = "dialog.reachability_changed"
    reachable: bool


@dataclass(frozen=True, kw_only=True)
class NoteCreated(CoreEvent):
    name = "note.created"
    note_id: int


E = TypeVar("E", bound=CoreEvent)
Handler = Callable[[Any], Awaitable[None]]


class EventBus:
    """Publishes after the change is committed; one failing subscriber never stops others."""

    def __init__(self) -> None:
        self._handlers: dict[type[CoreEvent], list[Handler]] = defaultdict(list)

    def subscribe(self, event_type: type[E], handler: Callable[[E], Awaitable[None]]) -> None:
        self._handlers[event_type].append(handler)

    async def publish(self, event: CoreEvent) -> None:
        for event_type in type(event).__mro__:
            for handler in self._handlers.get(event_type, ()):
                try:
                    await handler(event)
                except Exception:
                    log.exception("subscriber %s failed on %s", handler, event.name)
