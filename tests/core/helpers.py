"""Helpers for the core tests: inbound messages, the event log, a bus recorder."""

from __future__ import annotations

import itertools

from core.content import Content
from core.events import CoreEvent
from core.ingest import Inbound, IngestResult, Sender
from core.models import Channel, ContactKind, Dialog, Event
from core.service import Core

_ids = itertools.count(1)


def inbound(
    channel: Channel,
    chat: str = "chat-1",
    *,
    external_id: str | None = None,
    sender: Sender | None = None,
    text: str = "hello",
) -> Inbound:
    """A client message; a fresh external id unless one is given."""
    return Inbound(
        channel_id=channel.id,
        chat_key=chat,
        external_id=external_id or f"m{next(_ids)}",
        sender=sender or Sender(ContactKind.TELEGRAM, "42", "Anna"),
        content=Content(text),
    )


async def write(
    core: Core,
    channel: Channel,
    chat: str = "chat-1",
    *,
    external_id: str | None = None,
    sender: Sender | None = None,
    text: str = "hello",
) -> IngestResult:
    """The client writes: the message goes through the real ingest."""
    return await core.ingest(
        inbound(channel, chat, external_id=external_id, sender=sender, text=text)
    )


async def events_of(dialog: Dialog | int) -> list[Event]:
    dialog_id = dialog if isinstance(dialog, int) else dialog.id
    return await Event.filter(dialog_id=dialog_id).order_by("id")


class Recorder:
    """Every event published on the bus, in order."""

    def __init__(self) -> None:
        self.events: list[CoreEvent] = []

    async def __call__(self, event: CoreEvent) -> None:
        self.events.append(event)

    def of(self, kind: type[CoreEvent]) -> list:
        return [e for e in self.events if isinstance(e, kind)]

    def clear(self) -> None:
        self.events.clear()
