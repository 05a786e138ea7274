"""The e-mail channel as a connector: one mailbox, each mail thread a dialog.

In: the mailbox (connectors.email.mailbox) hands over each new mail; its raw bytes become a
blob and an event in the sink's inbox before the mail is marked seen, and the event is then
handled: parsed (connectors.email.parse), threaded, ingested. A mail that answers a mail of
the dialog's thread (In-Reply-To / References naming a Message-ID eadesk sent or received)
continues that dialog — the core's reopen window decides between the same episode and a new
one; any other mail starts a dialog of its own. Every mail's Message-ID is kept as its
message's copy on the client's side, with what a reply needs (who to answer, the subject,
the thread's references), so that threading works both ways. Our own mails (a copy of a
reply) are ignored; a bounce of one of our replies marks it undelivered and tells the team
once; a mail a machine wrote is shown but never answered by anything automatic (nothing in
this connector answers by itself).

Out: an operator's reply becomes a threaded e-mail (connectors.email.compose) sent over SMTP
(connectors.email.smtp) to the thread's people: the client, the others Cc'd (reply-all),
never our own address.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from typing import Any, Protocol

from connectors.email import mailbox as imap
from connectors.email import smtp
from connectors.email.compose import compose_reply, reply_subject
from connectors.email.mailbox import Fetched, Mailbox
from connectors.email.parse import Address, ParsedMail, parse_mail
from connectors.email.settings import EmailSettings, FromFormat
from core import copies
from core.blobs import BlobStore
from core.channels import (
    SCORES,
    Capabilities,
    Formatting,
    Outgoing,
    Participant,
    RatingAsk,
    Ratings,
    RejectedContent,
    Sent,
    Sink,
    TemporaryFailure,
    WebhookHandler,
)
from core.content import Attachment, AttachmentKind, Content, Span, SpanKind
from core.ingest import Inbound, Sender
from core.models import ChannelKind, ContactKind, Dialog, MessageCopy
from core.outbound import NEW_THREAD

log = logging.getLogger(__name__)

FILE_KINDS = frozenset(
    {
        AttachmentKind.PHOTO,
        AttachmentKind.VIDEO,
        AttachmentKind.ANIMATION,
        AttachmentKind.AUDIO,
        AttachmentKind.VOICE,
        AttachmentKind.VIDEO_NOTE,
        AttachmentKind.DOCUMENT,
    }
)
# What a copy's data says about the mail it is: one that came in, or a reply of ours.
IN, OUT = "in", "out"
# References kept in a reply: the thread's first and its latest (RFC 5322 allows any; long
# lists get cut by some servers).
MAX_REFERENCES = 20
# A mail whose handling failed is tried again after these pauses (seconds); the inbox sets it
# aside after its third attempt.
RETRY_PAUSES = (0.5, 2.0, 0.0)
_UNSAFE_NAME = re.compile(r"[^\w\-. ]+")
# The survey's words when the host lends none (a test builds the connector by hand).
SURVEY_WORDS = {
    "csat.ask_mail": "How would you rate our help? Click a score — one click is enough:",
    "csat.score_1": "poor",
    "csat.score_2": "fair",
    "csat.score_3": "good",
    "csat.score_4": "very good",
    "csat.score_5": "excellent",
}


class EmailHost(Protocol):
    """What the e-mail channel may ask the app (optional: a test builds it without one)."""

    async def team_title(self) -> str: ...


def _eml_name(subject: str) -> str:
    name = _UNSAFE_NAME.sub("", subject).strip()[:60].strip()
    return f"{name or 'mail'}.eml"


class EmailConnector:
    kind = ChannelKind.EMAIL

    def __init__(self, settings: EmailSettings, host: Any = None) -> None:
        self.settings = settings
        self.host = host
        self.address = settings.ADDRESS.strip().lower()
        self.domain = self.address.rpartition("@")[2]
        self.key = f"email:{self.address}"
        self.name = settings.ADDRESS.strip()
        self.capabilities = Capabilities(
            edits=False,
            replies=True,
            formatting=Formatting.HTML,
            attachment_kinds=FILE_KINDS,
            file_size_limit=settings.ATTACHMENT_LIMIT,
            participants=True,
            subject=True,
            # A mail may be the first word (/new).
            can_start=True,
        )
        # The links in /status and /healthz.
        self.link_in = f"E-mail ({self.name}, IMAP)"
        self.link_out = f"E-mail ({self.name}, SMTP)"
        # The sink's inbox source of this mailbox's mails.
        self.source = f"imap:{self.address}"[:64]
        self.sink: Sink | None = None
        self.mailbox: Mailbox | None = None
        self._task: asyncio.Task[None] | None = None
        self._handling = asyncio.Lock()
        self._team_title: str | None = None
        self._failed = False

    # ---- the protocol --------------------------------------------------------------------

    async def start(self, sink: Sink) -> None:
        self.sink = sink
        # What a crash left stored but not handled goes first.
        await self._process()
        blobs = self._blobs()
        self.mailbox = Mailbox(
            self.settings.imap,
            self._deliver,
            last_uid=self._last_uid,
            on_state=self._imap_state,
            poll_seconds=self.settings.POLL_SECONDS,
            max_size=blobs.limit,
        )
        self._task = asyncio.create_task(self.mailbox.run(), name=f"mailbox {self.name}")

    async def stop(self) -> None:
        if self.mailbox is not None:
            await self.mailbox.stop()
        if self._task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._task), 10)
            except TimeoutError:
                self._task.cancel()
                with contextlib.suppress(BaseException):
                    await self._task
            self._task = None

    def webhooks(self) -> list[tuple[str, str, WebhookHandler]]:
        return []

    async def check(self) -> list[str]:
        problems = await imap.check(self.settings.imap)
        problems += await smtp.check(self.settings.smtp)
        return problems

    async def edit(self, out: Outgoing, copies: list[str], data: dict[str, Any]) -> Sent | None:
        return None  # never called: a sent mail cannot change (capabilities.edits is off)

    async def send(self, out: Outgoing, *, automatic: bool = False) -> Sent:
        """`automatic`: no person wrote it (a survey): marked so (RFC 3834), and the client's
        auto-responder stays silent."""
        if out.done:
            return Sent(out.done_ids)  # it went before the failure that followed
        sink = self._sink()
        thread = await copies.in_dialog(out.dialog_id, copies.CLIENT)
        latest = next((c for c in reversed(thread) if c.data.get("mail") == IN), None)
        to, cc = self._recipients(latest, out.participants)
        if not to:
            raise RejectedContent("the dialog has no client address to write to")
        subject = reply_subject(
            (latest.data.get("subject") if latest else None) or out.subject or ""
        )
        # A dialog the team began (/new): a thread of its own, its subject as written.
        new_thread = not thread and out.chat_key.startswith(NEW_THREAD)
        if new_thread:
            subject = out.subject
        in_reply_to = out.reply_to[0] if out.reply_to else (latest.external_id if latest else "")
        references = self._references(thread, latest, in_reply_to)
        files: list[tuple[Attachment, bytes]] = []
        for attachment in out.content.attachments:
            if attachment.blob is None:
                raise RejectedContent(f"the {attachment.kind.value} came without its bytes")
            files.append((attachment, await self._blobs().read(attachment.blob)))
        message, message_id = compose_reply(
            from_addr=Address(await self._from(out.author_name), self.settings.ADDRESS.strip()),
            to=[Address(name, address) for name, address in to],
            cc=[Address(name, address) for name, address in cc],
            subject=subject,
            in_reply_to=in_reply_to,
            references=references,
            content=out.content,
            attachments=files,
            domain=self.domain,
            automatic=automatic,
        )
        if new_thread:
            del message["Subject"]
            message["Subject"] = subject
        # A retry after a crash mid-send sends the same Message-ID: the client's mail
        # program shows one mail, not two.
        kept = out.state.get("message_id")
        if kept:
            del message["Message-ID"]
            message["Message-ID"] = f"<{kept}>"
            message_id = kept
        elif out.progress is not None:
            out.state["message_id"] = message_id
            await out.progress(out.done, out.state)
        recipients = [address for _, address in to + cc]
        try:
            await smtp.send(self.settings.smtp, message, self.address, recipients)
        except TemporaryFailure as exc:
            # The server out of reach, or refusing our login: /status shows the link down.
            await sink.unhealthy(self.link_out, exc.reason)
            raise
        await sink.healthy(self.link_out)
        data = {
            "mail": OUT,
            "to": [address for _, address in to],
            "cc": [address for _, address in cc],
            "subject": subject,
            "references": references,
        }
        await out.step_done([message_id])
        return Sent([message_id], data=data)

    # ---- the satisfaction survey (core.channels.Surveys) ----------------------------------

    def take_ratings(self, ratings: Ratings) -> None:
        pass  # the ratings come back through the links' page (the app's), not the mailbox

    async def ask_rating(self, ask: RatingAsk) -> Sent:
        """A short mail in the dialog's thread: five links, one per score, each to the page
        that records it (the links carry the survey's signed token)."""
        words = getattr(self.host, "text", None)

        def say(key: str) -> str:
            return str(words(key, ask.language or None)) if words else SURVEY_WORDS[key]

        text = say("csat.ask_mail") + "\n"
        spans = []
        for score, url in zip(SCORES, ask.links, strict=True):
            label = (
                f"{'★' * score}{'☆' * (len(SCORES) - score)} {score} — {say(f'csat.score_{score}')}"
            )
            start = len(text) + 1
            text += "\n" + label
            spans.append(Span(SpanKind.LINK, start, start + len(label), url))
        out = Outgoing(
            message_id=0,
            dialog_id=ask.dialog_id,
            chat_key=ask.chat_key,
            content=Content(text=text, spans=tuple(spans)),
            reply_to=list(ask.reply_to),
            subject=ask.subject,
            participants=list(ask.participants),
        )
        return await self.send(out, automatic=True)

    # ---- in --------------------------------------------------------------------------------

    async def _deliver(self, fetched: Fetched) -> None:
        """A mail from the mailbox: its bytes kept, the event stored (before the mailbox
        marks it seen), then handled."""
        sink, blobs = self._sink(), self._blobs()
        blob = await blobs.put(fetched.raw, limit=max(blobs.limit, len(fetched.raw)))
        payload = {
            "uidvalidity": fetched.uidvalidity,
            "uid": fetched.uid,
            "blob": blob.id,
            "size": fetched.size,
            "complete": fetched.complete,
        }
        await sink.store(self.source, f"{fetched.uidvalidity}:{fetched.uid}", payload)
        await self._process()

    async def _process(self) -> None:
        """Every stored mail not yet handled, in order. One that fails is tried again at
        once, a little later, and then set aside (kept, with its error: the inbox does
        that): a mail eadesk cannot read never holds the mailbox's next ones."""
        async with self._handling:
            for pause in RETRY_PAUSES:
                self._failed = False
                await self._sink().process(self.source, self._guarded)
                if not self._failed:
                    return
                await asyncio.sleep(pause)

    async def _guarded(self, event: dict[str, Any]) -> None:
        try:
            await self._handle(event)
        except Exception:
            self._failed = True
            raise

    async def _last_uid(self, uidvalidity: int) -> int | None:
        key = await self._sink().last_key(self.source)
        if not key:
            return None
        validity, _, uid = key.partition(":")
        if validity != str(uidvalidity) or not uid.isdigit():
            return None
        return int(uid)

    async def _imap_state(self, ok: bool, why: str) -> None:
        sink = self._sink()
        if ok:
            await sink.healthy(self.link_in)
            await self._process()  # what failed before, tried again
        else:
            await sink.unhealthy(self.link_in, why)

    async def _handle(self, event: dict[str, Any]) -> None:
        sink, blobs = self._sink(), self._blobs()
        raw = await blobs.read(event["blob"])
        parsed = await parse_mail(raw, blobs)
        sender = (parsed.sender.addr or "").strip().lower()
        if sender == self.address:
            return  # our own mail (a copy of a reply, a loop through a forward)
        bounce = parsed.bounce
        if bounce is not None:
            for named in bounce.original_ids:
                if await copies.find_in_channel(sink.channel_id, named) is None:
                    continue
                if bounce.failed:
                    await sink.refused(named, f"the mail bounced: {bounce.reason}")
                return  # about a reply of ours: told (once), no dialog of its own
        thread = await self._thread_of(parsed)
        external_id = await self._own_id(parsed, event["blob"])
        # A mail answering one another channel sent through us (the website chat's reply
        # to a visitor gone offline) continues that channel's dialog.
        channel_id, chat_key = thread or (sink.channel_id, external_id)
        # What could not be read is told with the mail, in the team's language (never mixed
        # into the client's words); the raw mail keeps it all.
        notices = [(notice.code, notice.params) for notice in parsed.notices]
        if not event.get("complete", True):
            # Its header alone: what the cut body lacks is no news.
            notices = [("message_too_large", {"size": int(event.get("size") or 0)})]
        if parsed.problems:
            log.info("mail %s: %s", external_id, "; ".join(parsed.problems))
        people = self._people(parsed, sender)
        original = Attachment(
            AttachmentKind.DOCUMENT,
            name=_eml_name(parsed.subject),
            mime="message/rfc822",
            size=len(raw),
            blob=event["blob"],
        )
        replied = [*parsed.in_reply_to, *reversed(parsed.references)]
        result = await sink.ingest(
            Inbound(
                channel_id=channel_id,
                chat_key=chat_key,
                external_id=external_id,
                sender=Sender(ContactKind.EMAIL, sender, parsed.sender.name or sender, sender),
                content=parsed.content,
                reply_to_external_id=replied[0] if replied else None,
                subject=parsed.subject,
                participants=people,
                original=original,
                automatic=parsed.noise is not None,
                notices=notices,
            )
        )
        reply_to = parsed.reply_to[0].addr.lower() if parsed.reply_to else ""
        data = {
            "mail": IN,
            "from": sender,
            "reply_to": reply_to if reply_to and reply_to != self.address else "",
            "names": {p.value: p.name for p in people if p.name},
            "to": [p.value for p in people if p.role == "to"],
            "cc": [p.value for p in people if p.role == "cc"],
            "subject": parsed.subject,
            "references": [*parsed.references, *parsed.in_reply_to][-MAX_REFERENCES:],
            "noise": parsed.noise or "",
        }
        await copies.record(
            result.message, copies.CLIENT, [external_id], at=result.message.created_at, data=data
        )

    async def _thread_of(self, parsed: ParsedMail) -> tuple[int, str] | None:
        """The channel and chat key of the dialog whose thread the mail answers (None: no
        thread of ours): the newest Message-ID it names that eadesk sent or received; a
        mail another channel sent through this one (its dialog stays that channel's)."""
        channel_id = self._sink().channel_id
        named_ids = [*reversed(parsed.in_reply_to), *reversed(parsed.references)]
        for named in named_ids:
            message = await copies.find_in_channel(channel_id, named)
            if message is not None:
                dialog = await Dialog.get(id=message.dialog_id)  # type: ignore[attr-defined]
                return channel_id, dialog.chat_key
        for named in named_ids:
            message = await copies.find(copies.CLIENT, "", named)
            if message is not None:
                dialog = await Dialog.get(id=message.dialog_id)  # type: ignore[attr-defined]
                return dialog.channel_id, dialog.chat_key  # type: ignore[attr-defined]
        return None

    async def _own_id(self, parsed: ParsedMail, blob: str) -> str:
        """The mail's id in its dialog: its Message-ID; a mail without one, or a different
        mail under a Message-ID seen before (forged, or a broken client), gets one of its
        own so that it is never taken for the earlier one."""
        if not parsed.message_id:
            return f"blob:{blob}"
        seen = await copies.find_in_channel(self._sink().channel_id, parsed.message_id)
        if seen is None or seen.text == parsed.content.text:
            return str(parsed.message_id)
        return f"{parsed.message_id}#{blob[:16]}"

    def _people(self, parsed: ParsedMail, sender: str) -> list[Participant]:
        people: dict[str, Participant] = {}
        for role, addresses in (("to", parsed.to), ("cc", parsed.cc)):
            for address in addresses:
                value = (address.addr or "").strip().lower()
                if not value or value in (self.address, sender) or value in people:
                    continue
                people[value] = Participant(
                    value=value,
                    name=address.name or "",
                    role=role,
                    kind=ContactKind.EMAIL,
                    display=value,
                )
        return list(people.values())

    # ---- out -------------------------------------------------------------------------------

    def _recipients(
        self, latest: MessageCopy | None, participants: list[Participant]
    ) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
        """(To, Cc) as (name, address): the latest mail's sender (or its Reply-To), and
        everyone else it named — never our own address."""
        names: dict[str, str] = {}
        for person in participants:
            names.setdefault(person.value.lower(), person.name)
        if latest is not None:
            data = latest.data
            names.update(data.get("names") or {})
            first = data.get("reply_to") or data.get("from") or ""
            others = [*(data.get("to") or []), *(data.get("cc") or [])]
        else:
            senders = [p.value for p in participants if p.role == "from"]
            first = senders[0] if senders else ""
            others = [p.value for p in participants if p.role in ("to", "cc")]
        if first:
            names.setdefault(first, "")
        seen = {self.address, first}
        cc = []
        for address in others:
            address = address.lower()
            if address not in seen:
                seen.add(address)
                cc.append((names.get(address, ""), address))
        to = [(names.get(first, ""), first)] if first else []
        return to, cc

    @staticmethod
    def _references(
        thread: list[MessageCopy], latest: MessageCopy | None, replied: str
    ) -> list[str]:
        refs: list[str] = []
        if latest is not None:
            refs.extend(latest.data.get("references") or [])
            refs.append(latest.external_id)
        elif thread:
            refs.extend(c.external_id for c in thread)
        if replied:
            refs.append(replied)
        unique = list(dict.fromkeys(r for r in refs if r and not r.startswith("blob:")))
        if len(unique) > MAX_REFERENCES:
            unique = [unique[0], *unique[-(MAX_REFERENCES - 1) :]]
        return unique

    async def _from(self, author: str) -> str:
        name = self.settings.NAME.strip() or await self._team()
        if self.settings.FROM_FORMAT is FromFormat.OPERATOR and author.strip():
            name = f"{author.strip()} via {name}"
        return name

    async def _team(self) -> str:
        if self._team_title is None:
            title = ""
            team_title = getattr(self.host, "team_title", None)
            if team_title is not None:
                with contextlib.suppress(Exception):
                    title = await team_title()
            self._team_title = title or ""
        return self._team_title or self.name

    # ---- helpers ---------------------------------------------------------------------------

    def _sink(self) -> Sink:
        assert self.sink is not None, "not started"
        return self.sink

    def _blobs(self) -> BlobStore:
        blobs = self._sink().blobs
        assert blobs is not None, "the app hands its BlobStore to every connector"
        return blobs
