"""The website chat: a widget on a company's site talks to eadesk's HTTP server.

Routes (the wire protocol, /work/notes/webchat-protocol.md in the project's notes): the
widget's script and a demo page, a JSON API (config, session, send, email, upload, long poll,
files) and a WebSocket that pushes every message of the visitor's dialog live to each of their
open tabs and resumes after the last one a tab saw.

Every visitor message is stored in the inbox before it is answered (store, then process,
then the answer), so a crash loses nothing and a resend with the same `client_id` is one
message. Operator replies are pushed to the visitor's sockets as they are sent, and the
message the visitor sees is kept with the reply's copy, so history and live push agree.
"""

from __future__ import annotations

import asyncio
import json
import logging
import mimetypes
import re
import secrets
import time
import uuid
from collections import defaultdict, deque
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from aiohttp import BodyPartReader, WSMsgType, web
from email_validator import EmailNotValidError, validate_email
from tortoise.expressions import Q, Subquery

from connectors.webchat.identity import (
    IdentityRefused,
    Tokens,
    Visitor,
    new_visitor,
    verify_user,
)
from connectors.webchat.settings import WebchatSettings, origin_of
from core import copies
from core.blobs import BlobTooLarge
from core.channels import (
    Capabilities,
    DeliveryError,
    Formatting,
    Outgoing,
    Participant,
    RejectedContent,
    Sent,
    Sink,
    WebhookHandler,
)
from core.clock import Clock
from core.content import Attachment, AttachmentKind, Content
from core.ingest import Inbound, Sender
from core.models import ChannelKind, Contact, ContactKind, Dialog, Message, MessageKind, fit_key

log = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "static"
# Where visitors' messages wait in the inbox until ingested, and where the token key is kept.
SOURCE = "webchat"
KEY_SOURCE = "webchat-key"
HISTORY = 50
POLL_WAIT_MAX = 30
PHOTO_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})
# Per visitor and per address: so many messages (and uploads) in a minute.
VISITOR_RATE = (20, 60.0)
IP_RATE = (120, 60.0)
SESSION_RATE = (60, 60.0)
# A visitor with no tab open this long gets the replies by e-mail too (when they left one).
OFFLINE_AFTER = 180.0
_CLIENT_ID = re.compile(r"[A-Za-z0-9_.:-]{1,100}")


class WebchatHost(Protocol):
    clock: Clock

    def public_url(self) -> str: ...


class RateLimit:
    """At most `count` events in `window` seconds per key (a sliding window)."""

    def __init__(self, count: int, window: float) -> None:
        self.count, self.window = count, window
        self._seen: dict[str, deque[float]] = defaultdict(deque)

    def hit(self, key: str) -> float:
        """0 when allowed (and counted), else the seconds to wait."""
        now = time.monotonic()
        seen = self._seen[key]
        while seen and now - seen[0] > self.window:
            seen.popleft()
        if len(seen) >= self.count:
            return max(1.0, self.window - (now - seen[0]))
        seen.append(now)
        if len(self._seen) > 100_000:  # forget idle keys now and then
            for other in [k for k, v in self._seen.items() if not v]:
                del self._seen[other]
        return 0.0


class Hub:
    """Who listens to which visitor: each open socket's queue, and long polls waiting."""

    def __init__(self) -> None:
        self.queues: dict[str, set[asyncio.Queue[dict[str, Any]]]] = defaultdict(set)
        self.waiters: dict[str, set[asyncio.Future[dict[str, Any]]]] = defaultdict(set)

    def publish(self, visitor: str, msg: dict[str, Any]) -> None:
        for queue in self.queues.get(visitor, ()):
            queue.put_nowait(msg)
        for waiter in self.waiters.pop(visitor, set()):
            if not waiter.done():
                waiter.set_result(msg)

    def connected(self, visitor: str) -> bool:
        return bool(self.queues.get(visitor))

    def join(self, visitor: str) -> asyncio.Queue[dict[str, Any]]:
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.queues[visitor].add(queue)
        return queue

    def leave(self, visitor: str, queue: asyncio.Queue[dict[str, Any]]) -> None:
        self.queues[visitor].discard(queue)
        if not self.queues[visitor]:
            del self.queues[visitor]

    async def wait(self, visitor: str, seconds: float) -> dict[str, Any] | None:
        """The next message published for `visitor` within `seconds` (None: none came)."""
        waiter: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.waiters[visitor].add(waiter)
        try:
            return await asyncio.wait_for(waiter, seconds)
        except TimeoutError:
            return None
        finally:
            waiters = self.waiters.get(visitor)
            if waiters is not None:
                waiters.discard(waiter)
                if not waiters:
                    del self.waiters[visitor]


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _clean(value: Any, limit: int = 1000) -> str:
    return str(value or "").strip()[:limit] if isinstance(value, str | int | float) else ""


def page_of(raw: Any) -> dict[str, str]:
    """The page a visitor writes from, as the widget tells it (each value plain text)."""
    if not isinstance(raw, dict):
        return {}
    page = {name: _clean(raw.get(name)) for name in ("url", "title", "referrer", "lang", "tz")}
    return {name: value for name, value in page.items() if value}


def first_name(name: str) -> str:
    return name.strip().split(" ")[0] if name.strip() else ""


class Problem(Exception):
    """An API answer other than 200: its status and JSON body."""

    def __init__(self, status: int, error: str, **extra: Any) -> None:
        super().__init__(error)
        self.status = status
        self.body = {"error": error, **extra}


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
        self.tokens = Tokens(settings.SECRET.encode()) if settings.SECRET else None
        self.hub = Hub()
        self.sockets: set[web.WebSocketResponse] = set()
        self._handling = asyncio.Lock()
        self._visitor_rate = RateLimit(*VISITOR_RATE)
        self._ip_rate = RateLimit(*IP_RATE)
        self._session_rate = RateLimit(*SESSION_RATE)
        # The page each visitor last wrote from, as the topic was told (told again on change).
        self._told_page: dict[str, dict[str, str]] = {}
        self._pages: dict[str, dict[str, str]] = {}
        # E-mails visitors left before their first message (then kept on their contact).
        self._emails: dict[str, str] = {}
        # When each visitor was last connected (monotonic seconds), for the e-mail of replies.
        self._seen: dict[str, float] = {}
        self._started = time.monotonic()

    # ---- the protocol --------------------------------------------------------------------

    async def start(self, sink: Sink) -> None:
        self.sink = sink
        if self.tokens is None:
            self.tokens = Tokens(bytes.fromhex(await self._stored_key(sink)))
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
        for ws in list(self.sockets):
            await ws.close(code=1001, message=b"server shutdown")

    async def check(self) -> list[str]:
        problems = []
        if not (STATIC / "widget.js").is_file():
            problems.append("the widget's script (connectors/webchat/static/widget.js) is missing")
        return problems

    async def edit(self, out: Outgoing, copies: list[str], data: dict[str, Any]) -> Sent | None:
        return None  # never called: capabilities.edits is off

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
                "cursor": out.message_id,
                "from": "operator",
                "author": first_name(out.author_name) or None,
                "text": out.content.text,
                "spans": [_span(span.to_json()) for span in out.content.spans],
                "attachments": [
                    self._attachment(out.message_id, index, attachment.to_json())
                    for index, attachment in enumerate(out.content.attachments)
                ],
                "at": _iso(self.host.clock.now()),
            }
            await out.step_done([external_id], msg=msg, blobs=blobs)
        self.hub.publish(out.chat_key, msg)
        ids = [external_id]
        mailed = out.state.get("mailed") or await self._mail_if_offline(out)
        if mailed:
            if not out.state.get("mailed"):
                await out.step_done([mailed], mailed=mailed)
            ids.append(mailed)
        return Sent(ids, data={"msg": msg, "blobs": blobs})

    def offline(self, key: str) -> bool:
        """No tab of the visitor is open, nor has been for OFFLINE_AFTER seconds."""
        if self.hub.connected(key) or key in self.hub.waiters:
            return False
        seen = max(self._seen.get(key, 0.0), self._started)
        return time.monotonic() - seen >= OFFLINE_AFTER

    def _saw(self, key: str) -> None:
        self._seen[key] = time.monotonic()

    async def _mail_if_offline(self, out: Outgoing) -> str:
        """The reply also by e-mail (the e-mail channel, through the host) when the visitor
        is offline and left an address; the mail's Message-ID ("": not mailed). A reply to
        that mail comes back into this dialog."""
        by_email = getattr(self.host, "by_email", None)
        if by_email is None or not self.offline(out.chat_key):
            return ""
        address = await self._known_email(out.chat_key)
        if not address:
            return ""
        page = self._told_page.get(out.chat_key) or self._pages.get(out.chat_key) or {}
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

    def webhooks(self) -> list[tuple[str, str, WebhookHandler]]:
        api = self._api
        return [
            ("GET", "/webchat/widget.js", self.widget),
            ("GET", "/webchat/demo", self.demo),
            ("GET", "/webchat/api/config", api(self.config)),
            ("POST", "/webchat/api/session", api(self.session)),
            ("POST", "/webchat/api/send", api(self.send_api)),
            ("POST", "/webchat/api/email", api(self.email)),
            ("POST", "/webchat/api/upload", api(self.upload)),
            ("GET", "/webchat/api/poll", api(self.poll)),
            ("OPTIONS", "/webchat/api/{name}", api(self.preflight)),
            ("GET", "/webchat/files/{message_id}/{index}", api(self.file)),
            ("GET", "/webchat/ws", self.socket),
        ]

    # ---- origins and answers ---------------------------------------------------------------

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

    def _api(
        self, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def wrapped(request: web.Request) -> web.StreamResponse:
            if not self.origin_allowed(request):
                response: web.StreamResponse = web.json_response({"error": "origin"}, status=403)
                return response
            try:
                response = await handler(request)
            except Problem as problem:
                response = web.json_response(problem.body, status=problem.status)
            origin = request.headers.get("Origin")
            if origin:
                response.headers["Access-Control-Allow-Origin"] = origin
                response.headers["Vary"] = "Origin"
            return response

        return wrapped

    async def preflight(self, request: web.Request) -> web.Response:
        return web.Response(
            status=204,
            headers={
                "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
                "Access-Control-Allow-Headers": "Content-Type",
                "Access-Control-Max-Age": "600",
            },
        )

    def _sink(self) -> Sink:
        if self.sink is None:
            raise RuntimeError("the website chat is not started")
        return self.sink

    def _tokens(self) -> Tokens:
        if self.tokens is None:
            raise RuntimeError("the website chat is not started")
        return self.tokens

    def _visitor(self, token: Any) -> Visitor:
        visitor = self._tokens().read(token if isinstance(token, str) else None)
        if visitor is None:
            raise Problem(401, "token")
        return visitor

    @staticmethod
    async def _json(request: web.Request) -> dict[str, Any]:
        try:
            body = await request.json()
        except ValueError:
            raise Problem(400, "json") from None
        if not isinstance(body, dict):
            raise Problem(400, "json")
        return body

    def _limit(self, request: web.Request, visitor: str) -> None:
        wait = self._visitor_rate.hit(visitor) or self._ip_rate.hit(request.remote or "")
        if wait:
            raise Problem(429, "rate", retry_after=int(wait + 0.999))

    # ---- static ------------------------------------------------------------------------------

    async def widget(self, request: web.Request) -> web.StreamResponse:
        path = STATIC / "widget.js"
        if not path.is_file():
            raise web.HTTPNotFound()
        return web.FileResponse(
            path,
            headers={
                "Content-Type": "application/javascript; charset=utf-8",
                "Cache-Control": "public, max-age=300",
                "Access-Control-Allow-Origin": "*",
            },
        )

    async def demo(self, request: web.Request) -> web.Response:
        path = STATIC / "demo.html"
        if not path.is_file():
            raise web.HTTPNotFound()
        html = path.read_text(encoding="utf-8").replace("%PUBLIC_URL%", self.base_url(request))
        return web.Response(text=html, content_type="text/html")

    # ---- the API -----------------------------------------------------------------------------

    async def config(self, request: web.Request) -> web.Response:
        return web.json_response(
            {
                "title": self.settings.TITLE,
                "color": self.settings.COLOR,
                "ask_email": self.settings.ASK_EMAIL.value,
                "upload_limit": self.upload_limit,
                "identity": bool(self.settings.SECRET),
                "message_limit": self.settings.MESSAGE_LIMIT,
            }
        )

    @property
    def upload_limit(self) -> int:
        blobs = self.sink.blobs if self.sink is not None else None
        limit = self.settings.UPLOAD_LIMIT
        return min(limit, blobs.limit) if blobs is not None else limit

    async def session(self, request: web.Request) -> web.Response:
        wait = self._session_rate.hit(request.remote or "")
        if wait:
            raise Problem(429, "rate", retry_after=int(wait + 0.999))
        body = await self._json(request)
        visitor = self._tokens().read(
            body.get("token") if isinstance(body.get("token"), str) else None
        )
        user = body.get("user")
        if user:
            if self.settings.SECRET:
                try:
                    verified = verify_user(self.settings.SECRET, user)
                except IdentityRefused as refused:
                    log.info("a setUser was refused: %s", refused)
                    raise Problem(403, "identity") from None
                visitor = verified.with_email(valid_email(verified.email))
            elif isinstance(user, dict):
                # Nothing to verify with: a name and an address as told, no joining.
                visitor = visitor or new_visitor()
                visitor = Visitor(
                    visitor.key,
                    _clean(user.get("name"), 255) or visitor.name,
                    valid_email(_clean(user.get("email"), 255)) or visitor.email,
                )
        if visitor is None:
            visitor = new_visitor()
        if not visitor.email:
            visitor = visitor.with_email(await self._known_email(visitor.key))
        page = page_of(body.get("page"))
        if page:
            self._pages[visitor.key] = page
        self._saw(visitor.key)
        messages = await self.history(visitor.key, after=0, limit=HISTORY)
        return web.json_response(
            {
                "token": self._tokens().issue(visitor),
                "visitor": {"name": visitor.name, "email": visitor.email},
                "messages": messages,
                "cursor": messages[-1]["cursor"] if messages else 0,
            }
        )

    async def _known_email(self, key: str) -> str:
        if key in self._emails:
            return self._emails[key]
        contact = await Contact.get_or_none(kind=ContactKind.WEBCHAT, value=_contact_key(key))
        return contact.display if contact is not None and "@" in contact.display else ""

    async def send_api(self, request: web.Request) -> web.Response:
        body = await self._json(request)
        visitor = self._visitor(body.get("token"))
        msg, _ = await self.accept(request, visitor, body)
        return web.json_response({"message": msg})

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
        client_id = _client_id(body.get("client_id"))
        self._require_email(visitor)
        self._limit(request, visitor.key)
        page = page_of(body.get("page")) or self._pages.get(visitor.key, {})
        return await self._take(visitor, client_id, text, [], page)

    def _require_email(self, visitor: Visitor) -> None:
        if self.settings.ASK_EMAIL.value == "required" and not (
            visitor.email or self._emails.get(visitor.key)
        ):
            raise Problem(400, "email_required")

    async def _take(
        self,
        visitor: Visitor,
        client_id: str,
        text: str,
        attachments: list[dict[str, Any]],
        page: dict[str, str],
    ) -> tuple[dict[str, Any], bool]:
        sink = self._sink()
        self._saw(visitor.key)
        payload: dict[str, Any] = {
            "visitor": visitor.key,
            "name": visitor.name,
            "email": visitor.email or self._emails.get(visitor.key, ""),
            "verified": visitor.verified,
            "client_id": client_id,
            "text": text,
            "attachments": attachments,
        }
        if page and self._told_page.get(visitor.key) != page:
            payload["page"] = page
        new = await sink.store(SOURCE, f"{visitor.key}:{client_id}", payload)
        if new and page:
            self._told_page[visitor.key] = page
        await self._process()
        found = await self._find(visitor.key, client_id)
        if found is None:
            # Stored, but not ingested yet (it will be: the inbox keeps it): resend later.
            raise Problem(503, "later", retry_after=5)
        return found, new

    async def _process(self) -> None:
        async with self._handling:
            await self._sink().process(SOURCE, self._handle)

    async def _handle(self, event: dict[str, Any]) -> None:
        sink = self._sink()
        key = str(event["visitor"])
        email = str(event.get("email") or "")
        name = str(event.get("name") or "") or email or f"Visitor {key[-4:]}"
        same_as: tuple[tuple[ContactKind, str], ...] = ()
        if event.get("verified") and email:
            same_as = ((ContactKind.EMAIL, email.lower()),)
        notices: list[tuple[str, dict[str, Any]]] = []
        page = event.get("page")
        if page:
            place = " — ".join(v for v in (page.get("title"), page.get("url")) if v)
            notices.append(
                (
                    "context",
                    {
                        "page": place or "—",
                        "referrer": page.get("referrer") or "—",
                        "lang": page.get("lang") or "—",
                        "tz": page.get("tz") or "—",
                    },
                )
            )
        attachments = tuple(
            a for a in (Attachment.from_json(raw) for raw in event.get("attachments", [])) if a
        )
        result = await sink.ingest(
            Inbound(
                channel_id=sink.channel_id,
                chat_key=key,
                external_id=f"wc:{event['client_id']}",
                sender=Sender(ContactKind.WEBCHAT, _contact_key(key), name, email, same_as),
                content=Content(text=str(event.get("text") or ""), attachments=attachments),
                notices=notices,
            )
        )
        if not result.duplicate:
            self.hub.publish(key, self._visitor_msg(result.message))

    async def _find(self, key: str, client_id: str) -> dict[str, Any] | None:
        dialog = await self._dialog(key)
        if dialog is None:
            return None
        message = await Message.get_or_none(
            dialog_id=dialog.id, external_id=fit_key(f"wc:{client_id}", 255)
        )
        return self._visitor_msg(message) if message is not None else None

    async def _dialog(self, key: str) -> Dialog | None:
        return await Dialog.get_or_none(
            channel_id=self._sink().channel_id, chat_key=fit_key(key, 255)
        )

    def _visitor_msg(self, message: Message) -> dict[str, Any]:
        external = message.external_id or ""
        msg: dict[str, Any] = {
            "id": message.id,
            "cursor": message.id,
            "from": "visitor",
            "author": None,
            "text": message.text,
            "spans": [],
            "attachments": [
                self._attachment(message.id, index, raw)
                for index, raw in enumerate(message.attachments or [])
            ],
            "at": _iso(message.created_at),
        }
        if external.startswith("wc:"):
            msg["client_id"] = external[3:]
        return msg

    def _attachment(self, message_id: int, index: int, raw: dict[str, Any]) -> dict[str, Any]:
        signature = self._tokens().sign(f"{message_id}:{index}")
        return {
            "kind": raw.get("kind", "document"),
            "name": raw.get("name") or "",
            "mime": raw.get("mime") or "",
            "size": raw.get("size"),
            "url": f"{self.base_url()}/webchat/files/{message_id}/{index}?sig={signature}",
        }

    async def history(self, key: str, *, after: int, limit: int) -> list[dict[str, Any]]:
        """The visitor's dialog as they see it after cursor `after`: their messages and the
        replies that reached them (never the team's notes), the latest `limit`."""
        dialog = await self._dialog(key)
        if dialog is None:
            return []
        sent = copies.posted_query(dialog.id, copies.CLIENT, "").values("message_id")
        rows = (
            await Message.filter(dialog_id=dialog.id, id__gt=after)
            .filter(Q(kind=MessageKind.IN) | Q(id__in=Subquery(sent)))
            .order_by("-id")
            .limit(limit)
        )
        rows.reverse()
        replies = {
            copy.message_id: copy.data  # type: ignore[attr-defined]
            for copy in await copies.in_dialog(dialog.id, copies.CLIENT)
            if copy.data and isinstance(copy.data.get("msg"), dict)
        }
        messages = []
        for row in rows:
            if row.kind == MessageKind.IN:
                messages.append(self._visitor_msg(row))
            elif row.id in replies:
                messages.append(replies[row.id]["msg"])
        return messages

    async def email(self, request: web.Request) -> web.Response:
        body = await self._json(request)
        visitor = self._visitor(body.get("token"))
        address = valid_email(_clean(body.get("email"), 255))
        if not address:
            raise Problem(400, "email")
        visitor = visitor.with_email(address)
        self._emails[visitor.key] = address
        contact = await Contact.get_or_none(
            kind=ContactKind.WEBCHAT, value=_contact_key(visitor.key)
        )
        if contact is not None and contact.display != address:
            contact.display = address
            await contact.save(update_fields=["display"])
        return web.json_response(
            {
                "visitor": {"name": visitor.name, "email": visitor.email},
                "token": self._tokens().issue(visitor),
            }
        )

    async def upload(self, request: web.Request) -> web.Response:
        visitor = self._visitor(request.query.get("token"))
        client_id = _client_id(request.query.get("client_id"))
        limit = self.upload_limit
        if request.content_length is not None and request.content_length > limit + 64 * 1024:
            raise Problem(413, "too_large", limit=limit)
        self._require_email(visitor)
        self._limit(request, visitor.key)
        try:
            reader = await request.multipart()
            field = await reader.next()
            while field is not None and getattr(field, "name", None) != "file":
                field = await reader.next()
        except (ValueError, AssertionError, KeyError):
            raise Problem(400, "file") from None
        if not isinstance(field, BodyPartReader):
            raise Problem(400, "file")
        part = field

        async def chunks() -> AsyncIterator[bytes]:
            while chunk := await part.read_chunk(64 * 1024):
                yield chunk

        blobs = self._sink().blobs
        if blobs is None:
            raise Problem(503, "files")
        try:
            blob = await blobs.put(chunks(), limit=limit)
        except BlobTooLarge:
            raise Problem(413, "too_large", limit=limit) from None
        name = _file_name(part.filename or "file")
        mime = (part.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if not mime or mime == "application/octet-stream":
            mime = mimetypes.guess_type(name)[0] or "application/octet-stream"
        kind = AttachmentKind.PHOTO if mime in PHOTO_TYPES else AttachmentKind.DOCUMENT
        attachment = Attachment(kind=kind, name=name, mime=mime, size=blob.size, blob=blob.id)
        page = self._pages.get(visitor.key, {})
        msg, _ = await self._take(visitor, client_id, "", [attachment.to_json()], page)
        return web.json_response({"message": msg})

    async def poll(self, request: web.Request) -> web.Response:
        visitor = self._visitor(request.query.get("token"))
        after = _int(request.query.get("after"))
        wait = min(max(_int(request.query.get("wait"), 25), 0), POLL_WAIT_MAX)
        messages = await self.history(visitor.key, after=after, limit=HISTORY)
        if not messages and wait:
            published = await self.hub.wait(visitor.key, wait)
            messages = await self.history(visitor.key, after=after, limit=HISTORY)
            if not messages and published is not None and published["cursor"] > after:
                messages = [published]  # pushed before its copy was written down
        self._saw(visitor.key)
        cursor = max([after, *(m["cursor"] for m in messages)])
        return web.json_response({"messages": messages, "cursor": cursor})

    async def file(self, request: web.Request) -> web.StreamResponse:
        message_id = _int(request.match_info.get("message_id"), -1)
        index = _int(request.match_info.get("index"), -1)
        allowed = bool(request.query.get("sig")) and request.query.get(
            "sig"
        ) == self._tokens().sign(f"{message_id}:{index}")
        message = await Message.get_or_none(id=message_id).prefetch_related("dialog")
        if message is None or message.dialog.channel_id != self._sink().channel_id:  # type: ignore[attr-defined]
            raise web.HTTPNotFound()
        if not allowed:
            visitor = self._tokens().read(request.query.get("token"))
            allowed = visitor is not None and message.dialog.chat_key == fit_key(visitor.key, 255)
        if not allowed:
            raise web.HTTPNotFound()
        if message.kind == MessageKind.IN:
            items = message.attachments or []
            raw = items[index] if 0 <= index < len(items) else None
            blob = raw.get("blob") if raw else None
        else:
            data = await copies.data_of(message.id, copies.CLIENT)
            shown = (data.get("msg") or {}).get("attachments") or []
            kept = data.get("blobs") or []
            raw = shown[index] if 0 <= index < min(len(shown), len(kept)) else None
            blob = kept[index] if raw else None
        blobs = self._sink().blobs
        if not raw or not blob or blobs is None:
            raise web.HTTPNotFound()
        body = await blobs.read(blob)
        mime = str(raw.get("mime") or "application/octet-stream")
        disposition = "inline" if mime in PHOTO_TYPES else "attachment"
        name = _file_name(str(raw.get("name") or "file"))
        return web.Response(
            body=body,
            headers={
                "Content-Type": mime,
                "Content-Disposition": f'{disposition}; filename="{name}"',
                "X-Content-Type-Options": "nosniff",
                "Cache-Control": "private, max-age=3600",
            },
        )

    # ---- the socket ----------------------------------------------------------------------

    async def socket(self, request: web.Request) -> web.StreamResponse:
        if not self.origin_allowed(request):
            return web.json_response({"error": "origin"}, status=403)
        ws = web.WebSocketResponse(heartbeat=30, max_msg_size=64 * 1024)
        await ws.prepare(request)
        visitor = self._tokens().read(request.query.get("token"))
        if visitor is None:
            await ws.close(code=4401, message=b"token")
            return ws
        self.sockets.add(ws)
        # Joined before the history is read: what comes meanwhile waits in the queue and
        # follows the history, each message once.
        queue = self.hub.join(visitor.key)
        seen: set[Any] = set()

        async def pump(backlog: list[dict[str, Any]]) -> None:
            for msg in backlog:
                seen.add(msg["id"])
                await ws.send_json({"type": "message", "message": msg})
            while True:
                msg = await queue.get()
                if msg["id"] in seen:
                    continue
                seen.add(msg["id"])
                await ws.send_json({"type": "message", "message": msg})

        writer: asyncio.Task[None] | None = None
        try:
            backlog = await self.history(
                visitor.key, after=_int(request.query.get("after")), limit=1000
            )
            writer = asyncio.create_task(pump(backlog))
            async for frame in ws:
                if frame.type != WSMsgType.TEXT:
                    continue
                await self._frame(request, ws, visitor, frame.data, queue)
        finally:
            if writer is not None:
                writer.cancel()
            self.hub.leave(visitor.key, queue)
            self._saw(visitor.key)
            self.sockets.discard(ws)
        return ws

    async def _frame(
        self,
        request: web.Request,
        ws: web.WebSocketResponse,
        visitor: Visitor,
        data: str,
        queue: asyncio.Queue[dict[str, Any]],
    ) -> None:
        try:
            frame = json.loads(data)
        except ValueError:
            return
        if not isinstance(frame, dict):
            return
        if frame.get("type") == "ping":
            await ws.send_json({"type": "pong"})
        elif frame.get("type") == "send":
            try:
                msg, new = await self.accept(request, visitor, frame)
            except Problem as problem:
                await ws.send_json(
                    {"type": "error", "client_id": frame.get("client_id"), **problem.body}
                )
                return
            if not new:
                queue.put_nowait(msg)  # a resend: this tab gets its answer all the same


def _span(raw: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in raw.items() if k in ("kind", "start", "end", "url", "language")}


def _contact_key(key: str) -> str:
    return fit_key(key, 255)


def _client_id(value: Any) -> str:
    if isinstance(value, str) and _CLIENT_ID.fullmatch(value):
        return value
    return uuid.uuid4().hex


def _int(value: Any, default: int = 0) -> int:
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return default


def _file_name(name: str) -> str:
    cleaned = re.sub(r'[\x00-\x1f"\\/]+', "_", name).strip() or "file"
    return cleaned[-120:]


def valid_email(value: str) -> str:
    """The address normalized, or "" when it is none."""
    if not value:
        return ""
    try:
        return str(validate_email(value, check_deliverability=False).normalized)
    except EmailNotValidError:
        return ""
