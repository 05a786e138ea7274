"""The connector protocol (v2): what every client channel is to the core and the front end.

A connector is one folder under connectors/. The app builds connectors from settings (the
registry in connectors/registry.py), calls `start(sink)` and `stop()`, mounts the routes of
`webhooks()` on its one HTTP server, and hands the connector `Outgoing` content to send.
What the connector cannot carry it says in its `Capabilities`: the front end tells the
team in the topic, and the rest is still delivered.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from core.content import AttachmentKind, Content, SpanKind
from core.models import Channel, ChannelKind, ContactKind, Dialog

if TYPE_CHECKING:
    from core.blobs import BlobStore
    from core.ingest import Inbound, IngestResult

# An aiohttp handler, named without importing aiohttp (core imports no HTTP library).
WebhookHandler = Callable[..., Awaitable[Any]]


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
    # The span kinds it renders (empty with SPANS or HTML: every kind). The rest are
    # dropped; a link keeps its address in the text ("docs (https://…)").
    span_kinds: frozenset[SpanKind] = frozenset()
    attachment_kinds: frozenset[AttachmentKind] = frozenset()
    # The longest text one message holds, in characters (None: no limit the core keeps);
    # the core cuts a longer text into several messages (core.adapt).
    text_limit: int | None = None
    # The largest file it takes, in bytes (None: the BlobStore's limit).
    file_size_limit: int | None = None
    # The sources whose file ids it sends as they are ("telegram:": Telegram's bots pass a
    # file by its id): an attachment one of them knows needs no bytes. Any other file's
    # bytes are put into the BlobStore (fetched on demand) before the connector gets it.
    file_sources: tuple[str, ...] = ()
    # Several people in one conversation (e-mail To/Cc, a client group).
    participants: bool = False
    subject: bool = False
    # Whether eadesk may write first (/new), and a window after the client's last message
    # outside which it may not (WhatsApp's 24 h).
    can_start: bool = False
    reply_window: timedelta | None = None


@dataclass(frozen=True)
class Participant:
    """Someone in a conversation besides eadesk: an address on the channel (`kind` says
    which kind of contact; None: the sender's kind), a name, a role ("from", "to", "cc",
    "member"), and how the team sees them when not by name ("@ann", "ann@acme.com")."""

    value: str
    name: str = ""
    role: str = "member"
    kind: ContactKind | None = None
    display: str = ""


@dataclass(frozen=True)
class Copy:
    """Where the same message already is besides the client's side (the operator's post in
    the team's topic): a connector that can read that chat may copy it from there rather
    than rebuild it. `source` names whose ids these are ("telegram:<bot id>")."""

    source: str
    chat: str
    ids: tuple[str, ...]


Progress = Callable[[list[list[str]], dict[str, Any]], Awaitable[None]]


@dataclass
class Outgoing:
    """An operator's message for the client's side of a dialog."""

    message_id: int
    dialog_id: int
    chat_key: str
    content: Content
    # The external ids (on this channel) of the message it answers, in the order the
    # channel gave them (the first is where it starts).
    reply_to: list[str] = field(default_factory=list)
    subject: str = ""
    participants: list[Participant] = field(default_factory=list)
    # The ids of what an earlier attempt already put into the client's chat, step by step,
    # and the connector's own notes about that attempt (`state`: the way it took, say): a
    # retry sends only the rest, the same way. The connector reports each finished step
    # through `progress(done, state)`, which the core keeps with the outbox row.
    done: list[list[str]] = field(default_factory=list)
    state: dict[str, Any] = field(default_factory=dict)
    progress: Progress | None = None
    author_name: str = ""
    copies: list[Copy] = field(default_factory=list)

    async def step_done(self, ids: list[str], **state: Any) -> None:
        """One more step is in the client's chat: remembered before the next one goes."""
        self.done.append(list(ids))
        self.state.update(state)
        if self.progress is not None:
            await self.progress(self.done, self.state)

    @property
    def done_ids(self) -> list[str]:
        return [i for step in self.done for i in step]


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
    """What the app hands a connector at start: the core's door for what comes in.

    One sink per connector, bound to its channel (`channel_id`, for `Inbound.channel_id`)."""

    channel_id: int
    # Where file bytes are kept (None while no store is configured).
    blobs: BlobStore | None

    async def ingest(self, inbound: Inbound) -> IngestResult: ...

    async def edited(self, inbound: Inbound) -> object:
        """A client changed a message they sent: the new content (None when unknown)."""
        ...

    async def refused(self, external_id: str, reason: str) -> bool:
        """A message of ours the channel took was refused later by the far side (a bounce
        naming it by `external_id`): marked undelivered and told to the team once, `reason`
        in plain words. False: no message of ours has that id, or it was told before."""
        ...

    async def store(self, source: str, key: str, payload: dict[str, Any]) -> bool:
        """Store a raw inbound event before the transport is told it arrived (an offset,
        an IMAP flag, a webhook's 200). False when it was stored before (a duplicate)."""
        ...

    async def last_key(self, source: str) -> str | None:
        """The key of the newest event stored from `source` (a poller resumes after it)."""
        ...

    async def process(
        self, source: str, handle: Callable[[dict[str, Any]], Awaitable[object]]
    ) -> int:
        """Hand `handle` each stored, unprocessed event of `source` in the order stored; one
        that fails is tried again later (a few times) and holds the ones after it meanwhile.
        The number handled."""
        ...

    async def healthy(self, name: str) -> None:
        """The link `name` ("Telegram (@acme_bot)", "E-mail (IMAP)") works."""
        ...

    async def unhealthy(self, name: str, why: str) -> None:
        """The link `name` fails: /status, /healthz and, if it lasts, an alert say so."""
        ...


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

    def webhooks(self) -> list[tuple[str, str, WebhookHandler]]:
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
        send returned). Only called when `capabilities.edits`. None: the ids are as they
        were."""
        ...


@dataclass(frozen=True)
class ChannelSpec:
    """One kind of channel, as connectors/registry.py lists it: its settings (a
    pydantic-settings class whose env prefix is the channel's, like EMAIL_) and how its
    connectors are built from them. `build(settings, host)` returns the configured connectors
    (none when the channel is not set up); `host` is what the app lends (see each channel's
    own Host protocol)."""

    kind: ChannelKind
    settings: type[Any]
    build: Callable[[Any, Any], Awaitable[list[Connector]]]
    # How `check` names one connector that works: "client bot" -> "client bot @acme_bot works".
    title: str
    # A channel whose dialogs no connector serves any more: the link down in /status and
    # /healthz (its name, and why in a few words) from the channel's shown name.
    not_served: Callable[[str], tuple[str, str]] | None = None

    @property
    def prefix(self) -> str:
        return str(self.settings.model_config.get("env_prefix", ""))

    def variables(self) -> list[str]:
        """Its environment variables, as a person writes them."""
        return [self.prefix + name for name in self.settings.model_fields]


# ---- the connectors of a running process ---------------------------------------------------


class UnknownChannel(LookupError):
    pass


class ConnectorRegistry:
    """The connectors this process runs, by the id of their channel's row."""

    def __init__(self) -> None:
        self._by_channel: dict[int, Connector] = {}

    def register(self, channel_id: int, connector: Connector) -> None:
        self._by_channel[channel_id] = connector

    def __iter__(self) -> Iterator[Connector]:
        return iter(list(self._by_channel.values()))

    def channel_ids(self) -> list[int]:
        return list(self._by_channel)

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


# ---- satisfaction surveys (core.csat) ---------------------------------------------------------

SCORES = (1, 2, 3, 4, 5)


@dataclass
class RatingAsk:
    """The client is asked to rate the help 1..5 after a close. `token` names the survey
    (signed: it cannot be guessed); each of `links` (for 1..5) opens a page that records its
    score; `language` is the client's ("" when unknown: the team's). `reply_to`, `subject`
    and `participants` thread it like a reply (e-mail)."""

    dialog_id: int
    chat_key: str
    token: str
    links: list[str]
    language: str = ""
    reply_to: list[str] = field(default_factory=list)
    subject: str = ""
    participants: list[Participant] = field(default_factory=list)


@dataclass(frozen=True)
class Rated:
    """What a rating came to: `status` is "recorded" (the first), "changed", "same", "late"
    (after the day a change is allowed: the first stays) or "unknown" (no such survey: a
    forged or stale token); `score` the score kept; `language` the client's."""

    status: str
    score: int | None = None
    language: str = ""

    @property
    def known(self) -> bool:
        return self.status != "unknown"


class Ratings(Protocol):
    """The core's door for a client's rating (core.csat.Csat)."""

    async def rate(self, token: str, score: int) -> Rated: ...


@runtime_checkable
class Surveys(Protocol):
    """A connector that can ask for a rating (Telegram buttons, e-mail links, widget stars).
    The app hands it the core's `Ratings` before `start`; a connector without this protocol
    is never asked to ask."""

    def take_ratings(self, ratings: Ratings) -> None: ...

    async def ask_rating(self, ask: RatingAsk) -> Sent:
        """Show the client the question; what the client's side holds of it (ids, and facts
        for later in `data`). Raises the DeliveryError family like `send`."""
        ...
