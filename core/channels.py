"""The connector protocol (v2): what every client channel is to the core and the front end.

A connector is one folder under connectors/. The app builds connectors from settings (the
registry in connectors/registry.py), calls `start(sink)` and `stop()`, mounts the routes of
`webhooks()` on its one HTTP server, and hands the connector `Outgoing` content to send.
What the connector cannot carry it says in its `Capabilities`: the front end tells the
team in the topic, and the rest is still delivered.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from core.content import AttachmentKind, Content, SpanKind

if TYPE_CHECKING:
    from core.blobs import BlobStore
    from core.ingest import Inbound, IngestResult
    from core.models import ChannelKind


class Formatting(StrEnum):
    NONE = "none"  # plain text only: spans are dropped
    SPANS = "spans"  # the channel's own formatting, from spans
    HTML = "html"  # the channel renders HTML built from spans (e-mail)


@dataclass(frozen=True)
class Capabilities:
    """What a channel can carry; everything else is told to the team, never dropped."""

    edits: bool = False
    replies: bool = False
    formatting: Formatting = Formatting.NONE
    span_kinds: frozenset[SpanKind] = frozenset()
    attachment_kinds: frozenset[AttachmentKind] = frozenset()
    # The longest text one message holds (None: no limit); longer texts are split.
    text_limit: int | None = None
    # The largest file it takes, in bytes (None: the BlobStore's limit).
    file_size_limit: int | None = None
    # Several people in one conversation (e-mail To/Cc, a client group).
    participants: bool = False
    subject: bool = False
    # Whether eadesk may write first (/new), and a window after the client's last message
    # outside which it may not (WhatsApp's 24 h).
    can_start: bool = False
    reply_window: timedelta | None = None


@dataclass(frozen=True)
class Participant:
    """Someone in a conversation besides eadesk: an address on the channel, a name, a role
    ("from", "to", "cc", "member")."""

    value: str
    name: str = ""
    role: str = "member"


@dataclass
class Outgoing:
    """An operator's message for the client's side of a dialog."""

    message_id: int
    dialog_id: int
    chat_key: str
    content: Content
    # The external ids (on this channel) of the message it answers, newest first.
    reply_to: list[str] = field(default_factory=list)
    subject: str = ""
    participants: list[Participant] = field(default_factory=list)
    # The ids of what an earlier attempt already put into the client's chat, step by step:
    # a retry sends only the rest. The connector adds to it through `progress`.
    done: list[list[str]] = field(default_factory=list)
    progress: Callable[[list[list[str]]], Awaitable[None]] | None = None
    author_name: str = ""


@dataclass
class Sent:
    """What the client now sees of a message: its ids on the channel, in order, and facts
    the connector needs for a later edit (which ids hold the text, say)."""

    external_ids: list[str] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)


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
    """Network trouble, 5xx, rate limit: try again later (after `retry_after` if given)."""


class Sink(Protocol):
    """What the app hands a connector at start."""

    blobs: BlobStore

    async def ingest(self, inbound: Inbound) -> IngestResult: ...

    async def edited(self, inbound: Inbound) -> object: ...

    async def store(self, source: str, key: str, payload: dict[str, Any]) -> bool:
        """Store a raw inbound event before the transport is told it arrived (an offset,
        an IMAP flag, a webhook's 200). False when it was stored before (a duplicate)."""
        ...

    async def healthy(self, name: str) -> None: ...

    async def unhealthy(self, name: str, why: str) -> None: ...


@runtime_checkable
class Connector(Protocol):
    # The channel's stable key ("telegram:123", "email:support@acme.com") and its kind.
    key: str
    kind: ChannelKind
    # Shown to the team (the topic title, the card): "@acme_bot", "support@acme.com".
    name: str
    capabilities: Capabilities

    async def start(self, sink: Sink) -> None: ...

    async def stop(self) -> None: ...

    def webhooks(self) -> list[tuple[str, str, Callable[..., Awaitable[Any]]]]:
        """(method, path, aiohttp handler) to mount on the one HTTP server; each handler
        checks its own signature or secret. Empty when the channel needs none."""
        ...

    async def check(self) -> list[str]:
        """For `python -m bot check`: what keeps this channel from working, in plain words
        (empty: ready)."""
        ...

    async def send(self, out: Outgoing) -> Sent: ...

    async def edit(self, out: Outgoing, copies: list[str], data: dict[str, Any]) -> Sent | None:
        """Mirror an operator's edit on what the client has (`copies`, with the `data` the
        send returned). Only called when `capabilities.edits`."""
        ...
