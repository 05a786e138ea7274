"""The interface every channel implements, and the registry that picks a dialog's connector."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from core.ingest import Inbound, IngestResult
from core.models import Channel, ChannelKind, Dialog, Message

IngestFn = Callable[[Inbound], Awaitable[IngestResult]]


class DeliveryError(Exception):
    """A send that failed. `permanent` failures are not retried."""

    permanent = False

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


class RecipientUnreachable(DeliveryError):
    """The client blocked us, left, or never allowed us to write first."""

    permanent = True


class RejectedContent(DeliveryError):
    """The channel refuses this content (too large, unsupported); retrying will not help."""

    permanent = True


class TemporaryFailure(DeliveryError):
    """Network trouble, 5xx, rate limit: try again later."""


@dataclass
class Sent:
    external_ids: list[str] = field(default_factory=list)


class Connector(Protocol):
    kind: ChannelKind
    channel: Channel

    async def start(self, ingest: IngestFn) -> None: ...

    async def stop(self) -> None: ...

    async def send(self, dialog: Dialog, message: Message, reply_to: Message | None) -> Sent:
        """Deliver an operator message; the external ids of what the client now sees."""
        ...

    async def edit(self, dialog: Dialog, message: Message) -> Sent | None:
        """Mirror an operator's edit; the external ids of what the client now sees, when
        the edit changed them (None: as they were)."""
        ...


class UnknownChannel(LookupError):
    pass


class ConnectorRegistry:
    def __init__(self) -> None:
        self._by_channel: dict[int, Connector] = {}

    def register(self, connector: Connector) -> None:
        self._by_channel[connector.channel.id] = connector

    def for_channel(self, channel_id: int) -> Connector:
        try:
            return self._by_channel[channel_id]
        except KeyError:
            raise UnknownChannel(f"no connector for channel {channel_id}") from None

    def for_dialog(self, dialog: Dialog) -> Connector:
        return self.for_channel(dialog.channel_id)  # type: ignore[attr-defined]


async def ensure_channel(key: str, kind: ChannelKind, name: str, now: datetime) -> Channel:
    """Channels are configured, not created by users: find or create one by its key."""
    channel, created = await Channel.get_or_create(
        key=key, defaults={"kind": kind, "name": name, "created_at": now}
    )
    if not created and channel.name != name:
        channel.name = name
        await channel.save(update_fields=["name"])
    return channel
