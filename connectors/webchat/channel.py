"""The website chat: a widget on a company's site talks to eadesk's HTTP server.

The connector (this module) takes visitors' messages in and sends operators' replies out;
routes.py answers the widget's HTTP API, live.py its socket and long poll, feed.py says
what the visitor sees of their dialog (and in which order), visitors.py who each browser
is, limits.py how much one visitor or address may do. The wire protocol is in the
project's notes (webchat-protocol.md).

Every visitor message is stored in the inbox before it is answered (store, then process,
then the answer), so a crash loses nothing and a resend with the same `client_id` is one
message. Operator replies are pushed to the visitor's sockets as they are sent, and the
message the visitor sees is kept with the reply's copy, so history and live push agree.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from datetime import timedelta
from typing import Any, Protocol

from aiohttp import web

from connectors.webchat.feed import Feed
from connectors.webchat.identity import Tokens, Visitor
from connectors.webchat.limits import Limits
from connectors.webchat.live import Live
from connectors.webchat.routes import STATIC, Routes
from connectors.webchat.settings import WebchatSettings, origin_of
from connectors.webchat.visitors import Visitors
from connectors.webchat.wire import (
    Problem,
    client_id_of,
    contact_key,
    first_name,
    iso,
    page_of,
    span_json,
)
from core.channels import (
    Capabilities,
    DeliveryError,
    Formatting,
    Outgoing,
    Participant,
    Rated,
    RatingAsk,
    Ratings,
    RejectedContent,
    Sent,
    Sink,
    WebhookHandler,
)
from core.clock import Clock
from core.content import Attachment, AttachmentKind, Content
from core.csat import open_survey
from core.ingest import Inbound, Sender
from core.models import ChannelKind, ContactKind

log = logging.getLogger(__name__)

# Where visitors' messages wait in the inbox until ingested, and where the token key is kept.
SOURCE = "webchat"
KEY_SOURCE = "webchat-key"
# A visitor with no tab open this long gets the replies by e-mail too (when they left one).
OFFLINE_AFTER = 180.0
# A satisfaction survey shows in the chat (stars) this long after it was asked.
SURVEY_SHOWN = timedelta(days=7)
# The survey's words when the host lends none.
SURVEY_WORDS = {
    "csat.ask": "How would you rate our help? Tap a star: 1 is poor, 5 is excellent.",
    "csat.thanks": "Thank you! You rated our help {score}/5.",
    "csat.late": "Thank you! Your rating {score}/5 is already recorded.",
}


class WebchatHost(Protocol):
    clock: Clock

    def public_url(self) -> str: ...


class WebchatConnector:
    kind = ChannelKind.WEBCHAT

    def __init__(self, settings: WebchatSettings, host: WebchatHost) -> None:
        self.settings = settings
        self.host = host
        self.key = "webchat"
        self.name = settings.TITLE or "Website chat"
        self.link = f"Website chat ({self.name})"
        self.capabilities = Capabilities(
            replies=True,
            formatting=Formatting.SPANS,
            attachment_kinds=frozenset({AttachmentKind.PHOTO, AttachmentKind.DOCUMENT}),
            file_size_limit=settings.UPLOAD_LIMIT,
        )
        self.sink: Sink | None = None
        self.visitors = Visitors(host.clock)
        if settings.SECRET:
            self.visitors.tokens = Tokens(settings.SECRET.encode())
        self.limits = Limits(settings.SOCKETS_PER_IP)
        self.feed = Feed(
            host.clock,
            lambda: self.started().channel_id,
            self.visitors.token_keeper,
            self.base_url,
        )
        self.live = Live(self)
        self.routes = Routes(self)
        self._handling = asyncio.Lock()
        # The core's door for a visitor's rating (core.channels.Surveys), lent by the app.
        self.ratings: Ratings | None = None

    # ---- the protocol --------------------------------------------------------------------

    async def start(self, sink: Sink) -> None:
        self.sink = sink
        if self.visitors.tokens is None:
            self.visitors.tokens = Tokens(bytes.fromhex(await self._stored_key(sink)))
        # Messages stored before a crash and not yet ingested.
        await self._process()
        await sink.healthy(self.link)

    async def _stored_key(self, sink: Sink) -> str:
        """The random key that signs tokens when WEBCHAT_SECRET is unset: kept in the
        database (the inbox's key of its one event), so tokens outlive a restart."""
        key = await sink.last_key(KEY_SOURCE)
        if key is None:
            await sink.store(KEY_SOURCE, secrets.token_hex(32), {})
            key = await sink.last_key(KEY_SOURCE)
        assert key is not None
        return key

    async def stop(self) -> None:
        await self.live.stop()

    async def check(self) -> list[str]:
        problems = []
        if not (STATIC / "widget.js").is_file():
            problems.append("the widget's script (connectors/webchat/static/widget.js) is missing")
        return problems

    async def edit(self, out: Outgoing, copies: list[str], data: dict[str, Any]) -> Sent | None:
        return None  # never called: capabilities.edits is off

    def webhooks(self) -> list[tuple[str, str, WebhookHandler]]:
        return self.routes.webhooks()

    async def send(self, out: Outgoing) -> Sent:
        """An operator's reply: kept with its copy (the visitor's history) and pushed to every
        open tab of the visitor."""
        external_id = f"op:{out.message_id}"
        if out.done and out.state.get("msg"):
            msg, blobs = out.state["msg"], out.state.get("blobs", [])
        else:
            blobs = []
            for attachment in out.content.attachments:
                if attachment.blob is None:
                    raise RejectedContent(f"the {attachment.kind.value} came without its bytes")
                blobs.append(attachment.blob)
            msg = {
                "id": out.message_id,
                "cursor": 0,  # given when it becomes visible, below
                "from": "operator",
                "author": first_name(out.author_name) or None,
                "text": out.content.text,
                "spans": [span_json(span.to_json()) for span in out.content.spans],
                "attachments": [
                    self.feed.attachment(out.message_id, index, attachment.to_json())
                    for index, attachment in enumerate(out.content.attachments)
                ],
                "at": iso(self.host.clock.now()),
            }
            await out.step_done([external_id], msg=msg, blobs=blobs)
        data = {"msg": msg, "blobs": blobs}
        async with self.feed.lock:
            cursor = await self.feed.show(out.message_id, out.dialog_id, external_id, data)
            self.live.hub.publish(out.chat_key, {**msg, "cursor": cursor})
        ids = [external_id]
        mailed = out.state.get("mailed") or await self._mail_if_offline(out)
        if mailed:
            if not out.state.get("mailed"):
                await out.step_done([mailed], mailed=mailed)
            ids.append(mailed)
        return Sent(ids, data=data)

    # ---- the satisfaction survey (core.channels.Surveys) ----------------------------------

    def take_ratings(self, ratings: Ratings) -> None:
        self.ratings = ratings

    def words(self, key: str, language: str | None, **values: Any) -> str:
        text = getattr(self.host, "text", None)
        if text is not None:
            return str(text(key, language or None, **values))
        return SURVEY_WORDS[key].format(**values)

    def survey_json(self, token: str, language: str, score: int | None) -> dict[str, Any]:
        """The stars as the widget shows them: the question, or the thanks once rated."""
        survey: dict[str, Any] = {"token": token, "score": score}
        survey["text"] = self.words("csat.ask", language)
        if score is not None:
            survey["thanks"] = self.words("csat.thanks", language, score=score)
        return survey

    async def ask_rating(self, ask: RatingAsk) -> Sent:
        """Stars 1..5 in the visitor's open tabs (and in the session of a tab opened later,
        from the survey's row: `Sent.data` keeps the token there)."""
        survey = self.survey_json(ask.token, ask.language, None)
        self.live.hub.publish(ask.chat_key, {"id": f"survey:{ask.token}", "survey": survey})
        return Sent([f"survey:{ask.token}"], data={"token": ask.token})

    async def survey_of(self, key: str) -> dict[str, Any] | None:
        """The visitor's latest survey still shown (None: none)."""
        dialog = await self.feed.dialog(key)
        row = await open_survey(dialog.id) if dialog is not None else None
        if row is None or not row.data.get("token") or row.asked_at is None:
            return None
        if self.host.clock.now() - row.asked_at > SURVEY_SHOWN:
            return None
        return self.survey_json(str(row.data["token"]), row.language, row.score)

    async def rate(self, key: str, token: str, score: int) -> dict[str, Any]:
        """A visitor's click on a star of their own survey: the survey as it is now."""
        shown = await self.survey_of(key)
        if shown is None or shown["token"] != token or self.ratings is None:
            raise Problem(400, "survey")
        result: Rated = await self.ratings.rate(token, score)
        if not result.known:
            raise Problem(400, "survey")
        survey = self.survey_json(token, result.language, result.score)
        if result.status == "late":
            survey["thanks"] = self.words("csat.late", result.language, score=result.score)
        return survey

    def offline(self, key: str) -> bool:
        """No tab of the visitor is open, nor has been for OFFLINE_AFTER seconds."""
        if self.live.hub.connected(key):
            return False
        return self.visitors.away_for(key) >= OFFLINE_AFTER

    async def _mail_if_offline(self, out: Outgoing) -> str:
        """The reply also by e-mail (the e-mail channel, through the host) when the visitor
        is offline and left an address; the mail's Message-ID ("": not mailed). A reply to
        that mail comes back into this dialog."""
        by_email = getattr(self.host, "by_email", None)
        if by_email is None or not self.offline(out.chat_key):
            return ""
        address = await self.visitors.known_email(out.chat_key)
        if not address:
            return ""
        page = self.visitors.pages.get(out.chat_key) or {}
        lang = page.get("lang")
        url = page.get("url") or f"{self.base_url()}/webchat/demo"
        words = getattr(self.host, "text", None)
        footer = words("webchat.mail_footer", lang, url=url) if words else url
        subject = words("webchat.mail_subject", lang, title=self.name) if words else self.name
        content = out.content
        text = f"{content.text}\n\n{footer}" if content.text else footer
        mail = Outgoing(
            message_id=out.message_id,
            dialog_id=out.dialog_id,
            chat_key=address,
            content=Content(text=text, spans=content.spans, attachments=content.attachments),
            subject=subject,
            participants=[Participant(address, role="from", kind=ContactKind.EMAIL)],
            author_name=out.author_name,
        )
        try:
            sent = await by_email(mail)
        except DeliveryError as exc:
            if not exc.permanent:
                raise  # tried again with the rest of the reply (the chat has it already)
            log.warning("a reply to an offline visitor could not be mailed: %s", exc.reason)
            return ""
        return str(sent.external_ids[0]) if sent is not None and sent.external_ids else ""

    # ---- origins -------------------------------------------------------------------------

    def base_url(self, request: web.Request | None = None) -> str:
        url = self.host.public_url() if hasattr(self.host, "public_url") else ""
        if not url and request is not None:
            url = f"{request.scheme}://{request.host}"
        return url.rstrip("/")

    def origin_allowed(self, request: web.Request) -> bool:
        origin = request.headers.get("Origin")
        if not origin or not self.settings.ALLOWED_ORIGINS:
            return True
        origin = origin.strip().lower()
        own = {origin_of(self.base_url()), f"{request.scheme}://{request.host}".lower()}
        return origin in self.settings.ALLOWED_ORIGINS or origin in own

    def started(self) -> Sink:
        if self.sink is None:
            raise RuntimeError("the website chat is not started")
        return self.sink

    @property
    def upload_limit(self) -> int:
        blobs = self.sink.blobs if self.sink is not None else None
        limit = self.settings.UPLOAD_LIMIT
        return min(limit, blobs.limit) if blobs is not None else limit

    # ---- visitors' messages ----------------------------------------------------------------

    async def accept(
        self, request: web.Request, visitor: Visitor, body: dict[str, Any]
    ) -> tuple[dict[str, Any], bool]:
        """A visitor's text: checked, stored, ingested; the message as they see it, and
        whether it is new (False: a resend of one already taken)."""
        text = body.get("text")
        if not isinstance(text, str) or not text.strip():
            raise Problem(400, "empty")
        if len(text) > self.settings.MESSAGE_LIMIT:
            raise Problem(413, "too_long", limit=self.settings.MESSAGE_LIMIT)
        client_id = client_id_of(body.get("client_id"))
        await self.require_email(visitor)
        self.limits.message(request, visitor.key)
        page = page_of(body.get("page")) or self.visitors.pages.get(visitor.key, {})
        if page:
            self.visitors.pages[visitor.key] = page
        return await self.take(visitor, client_id, text, [], page)

    async def require_email(self, visitor: Visitor) -> None:
        if self.settings.ASK_EMAIL.value != "required" or visitor.email:
            return
        if not await self.visitors.known_email(visitor.key):
            raise Problem(400, "email_required")

    async def take(
        self,
        visitor: Visitor,
        client_id: str,
        text: str,
        attachments: list[dict[str, Any]],
        page: dict[str, str],
    ) -> tuple[dict[str, Any], bool]:
        sink = self.started()
        self.visitors.saw(visitor.key)
        payload: dict[str, Any] = {
            "visitor": visitor.key,
            "name": visitor.name,
            "email": visitor.email,
            "verified": visitor.verified,
            "client_id": client_id,
            "text": text,
            "attachments": attachments,
            # The page it was written on: the dialog's context (on the card).
            "page": page,
        }
        new = await sink.store(SOURCE, f"{visitor.key}:{client_id}", payload)
        await self._process()
        found = await self.feed.find(visitor.key, client_id)
        if found is None:
            # Stored, but not ingested yet (it will be: the inbox keeps it): resend later.
            raise Problem(503, "later", retry_after=5)
        return found, new

    async def _process(self) -> None:
        async with self._handling:
            await self.started().process(SOURCE, self._handle)

    async def _handle(self, event: dict[str, Any]) -> None:
        sink = self.started()
        key = str(event["visitor"])
        # An address left earlier is on the contact already (see Visitors.keep_email).
        email = str(event.get("email") or "")
        name = str(event.get("name") or "") or email or f"Visitor {key[-4:]}"
        same_as: tuple[tuple[ContactKind, str], ...] = ()
        if event.get("verified") and email:
            same_as = ((ContactKind.EMAIL, email.lower()),)
        # The page it was written on is the dialog's context, on the card (edited when the
        # visitor moves to another page; the topic is not told: the card is cosmetic work).
        page = event.get("page") or {}
        attachments = tuple(
            a for a in (Attachment.from_json(raw) for raw in event.get("attachments", [])) if a
        )
        result = await sink.ingest(
            Inbound(
                channel_id=sink.channel_id,
                chat_key=key,
                external_id=f"wc:{event['client_id']}",
                sender=Sender(ContactKind.WEBCHAT, contact_key(key), name, email, same_as),
                content=Content(text=str(event.get("text") or ""), attachments=attachments),
                context=context_of(page) if page else None,
            )
        )
        message = result.message
        async with self.feed.lock:
            cursor = await self.feed.show(
                message.id, result.dialog.id, message.external_id or "", new=not result.duplicate
            )
            if not result.duplicate:
                self.live.hub.publish(key, self.feed.visitor_msg(message, cursor))


def place_of(page: dict[str, str]) -> str:
    return " — ".join(v for v in (page.get("title"), page.get("url")) if v) or "—"


def context_of(page: dict[str, str]) -> dict[str, str]:
    """The dialog's context from the page a visitor writes on: what the card shows."""
    facts = {
        "page": place_of(page) if page.get("url") or page.get("title") else "",
        "referrer": page.get("referrer", ""),
        "language": page.get("lang", ""),
        "time_zone": page.get("tz", ""),
    }
    return {key: value for key, value in facts.items() if value}
