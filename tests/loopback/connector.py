"""A loopback channel: a second client channel, not Telegram, that lives in the tests.

It carries little on purpose (no edits, plain text only, at most 1000 characters a message,
photos and documents only), so that what eadesk does with a channel that cannot carry
everything shows end to end. A test plays its clients (`client_writes`, `client_sends_file`:
stored before they are handled, as a transport would) and reads what the clients got
(`received`, each with the bytes of its files as the connector read them from the BlobStore).
Its transport can be broken for a while (`break_transport`): sends fail as a network would
(TemporaryFailure), and the connector reports its link down through the sink, and up again
once a send works.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from core.channels import (
    Capabilities,
    Formatting,
    Outgoing,
    RejectedContent,
    Sent,
    Sink,
    TemporaryFailure,
    WebhookHandler,
)
from core.content import Attachment, AttachmentKind, Content
from core.ingest import Inbound, Sender
from core.models import ChannelKind, ContactKind

TEXT_LIMIT = 1000
CAPABILITIES = Capabilities(
    edits=False,
    replies=True,
    formatting=Formatting.NONE,
    attachment_kinds=frozenset({AttachmentKind.PHOTO, AttachmentKind.DOCUMENT}),
    text_limit=TEXT_LIMIT,
)
# Where inbound events are stored before they are handled (the sink's inbox).
SOURCE = "loopback"


@dataclass
class Received:
    """One message a loopback client got."""

    chat: str
    id: str
    content: Content
    reply_to: list[str]
    # The bytes of each attachment, read from the BlobStore by its blob.
    files: list[bytes] = field(default_factory=list)

    @property
    def text(self) -> str:
        return self.content.text


class LoopbackConnector:
    kind = ChannelKind.WEBCHAT
    capabilities = CAPABILITIES

    def __init__(self, key: str = "loopback:test", name: str = "Loopback") -> None:
        self.key = key
        self.name = name
        # The link's name in /status and /healthz.
        self.link = name
        self.sink: Sink | None = None
        self.received: list[Received] = []
        self.edits: list[Outgoing] = []
        # Sends that fail: None while the transport works; a count, or -1 for until mended.
        self._broken: int | None = None
        # Sends that work before the transport breaks (break_transport(after=...)).
        self._works_for = 0
        self.attempts = 0
        self._counter = 0
        self._inbound = 0
        self.started = False
        self.stopped = False

    # ---- the protocol --------------------------------------------------------------------

    async def start(self, sink: Sink) -> None:
        self.sink = sink
        self.started = True
        await sink.healthy(self.link)

    async def stop(self) -> None:
        self.stopped = True

    def webhooks(self) -> list[tuple[str, str, WebhookHandler]]:
        return []

    async def check(self) -> list[str]:
        return []

    async def send(self, out: Outgoing) -> Sent:
        """One message (the core cuts longer texts into several): recorded as the client
        gets it, once; a retry after an earlier attempt that got through sends nothing more."""
        sink = self._sink()
        if len(out.content.text) > TEXT_LIMIT:
            raise RejectedContent(f"a message holds at most {TEXT_LIMIT} characters")
        if out.done:
            return Sent(out.done_ids)  # it got through before the failure that followed
        self.attempts += 1
        if self._failing():
            why = "connection refused"
            await sink.unhealthy(self.link, why)
            raise TemporaryFailure(why)
        files = []
        for att in out.content.attachments:
            if att.blob is None or sink.blobs is None:
                raise RejectedContent(f"the {att.kind.value} came without its bytes")
            files.append(await sink.blobs.read(att.blob))
        self._counter += 1
        external_id = f"lb-{self._counter}"
        self.received.append(Received(out.chat_key, external_id, out.content, out.reply_to, files))
        await out.step_done([external_id])
        await sink.healthy(self.link)
        return Sent([external_id])

    async def edit(self, out: Outgoing, copies: list[str], data: dict[str, Any]) -> Sent | None:
        # Never called: the channel says it has no edits.
        self.edits.append(out)
        return None

    # ---- the test's handles -------------------------------------------------------------

    def break_transport(self, times: int = -1, after: int = 0) -> None:
        """The next `times` sends fail (-1: until `mend_transport`), after `after` that work."""
        self._broken, self._works_for = times, after

    def mend_transport(self) -> None:
        self._broken = None

    def _failing(self) -> bool:
        if self._broken is None:
            return False
        if self._works_for > 0:
            self._works_for -= 1
            return False
        if self._broken > 0:
            self._broken -= 1
            if self._broken == 0:
                self._broken = None
        return True

    async def client_writes(
        self, text: str, *, chat: str = "visitor-1", name: str = "Lena Park"
    ) -> str:
        """A loopback client writes: stored, then handled (as a transport would); its id."""
        return await self._inbound_event(chat, name, Content(text))

    async def client_sends_file(
        self,
        data: bytes,
        *,
        name: str,
        mime: str,
        kind: AttachmentKind = AttachmentKind.DOCUMENT,
        caption: str = "",
        chat: str = "visitor-1",
        sender: str = "Lena Park",
    ) -> str:
        """A loopback client sends a file: its bytes go into the BlobStore first."""
        sink = self._sink()
        assert sink.blobs is not None, "the app hands its BlobStore to every connector"
        blob = await sink.blobs.put(data)
        att = Attachment(kind, name=name, mime=mime, size=blob.size, blob=blob.id)
        return await self._inbound_event(chat, sender, Content(caption, attachments=(att,)))

    async def _inbound_event(self, chat: str, name: str, content: Content) -> str:
        sink = self._sink()
        self._inbound += 1
        external_id = f"in-{self._inbound}"
        event = {"chat": chat, "name": name, "id": external_id, "content": content.to_json()}
        await sink.store(SOURCE, external_id, event)
        await sink.process(SOURCE, self._handle)
        return external_id

    async def _handle(self, event: dict[str, Any]) -> None:
        sink = self._sink()
        await sink.ingest(
            Inbound(
                channel_id=sink.channel_id,
                chat_key=event["chat"],
                external_id=event["id"],
                sender=Sender(ContactKind.WEBCHAT, event["chat"], event["name"]),
                content=Content.from_json(event["content"]),
            )
        )

    def _sink(self) -> Sink:
        assert self.sink is not None, "not started"
        return self.sink
