"""The HTTP side of the website chat: the widget's script, the demo page and the JSON API
(config, session, send, email, upload, files), each checked against the allowed origins and
answered with CORS headers. The socket and the long poll are in live.py."""

from __future__ import annotations

import logging
import mimetypes
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING

from aiohttp import BodyPartReader, web

from connectors.webchat.identity import IdentityRefused, Visitor, new_visitor, verify_user
from connectors.webchat.live import HISTORY
from connectors.webchat.wire import (
    Problem,
    as_int,
    clean,
    client_id_of,
    file_name,
    page_of,
    read_json,
    valid_email,
)
from core import copies
from core.blobs import BlobTooLarge
from core.channels import WebhookHandler
from core.content import Attachment, AttachmentKind
from core.models import Message, MessageKind, fit_key

if TYPE_CHECKING:
    from connectors.webchat.channel import WebchatConnector

log = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "static"
PHOTO_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Routes:
    def __init__(self, chat: WebchatConnector) -> None:
        self.chat = chat

    def webhooks(self) -> list[tuple[str, str, WebhookHandler]]:
        api, live = self._api, self.chat.live
        return [
            ("GET", "/webchat/widget.js", self.widget),
            ("GET", "/webchat/demo", self.demo),
            ("GET", "/webchat/api/config", api(self.config)),
            ("POST", "/webchat/api/session", api(self.session)),
            ("POST", "/webchat/api/send", api(self.send)),
            ("POST", "/webchat/api/email", api(self.email)),
            ("POST", "/webchat/api/upload", api(self.upload)),
            ("POST", "/webchat/api/rate", api(self.rate)),
            ("GET", "/webchat/api/poll", api(live.poll)),
            ("OPTIONS", "/webchat/api/{name}", api(self.preflight)),
            ("GET", "/webchat/files/{message_id}/{index}", api(self.file)),
            ("GET", "/webchat/ws", live.socket),
        ]

    def _api(self, handler: Handler) -> Handler:
        async def wrapped(request: web.Request) -> web.StreamResponse:
            if not self.chat.origin_allowed(request):
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

    # ---- static --------------------------------------------------------------------------

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
        base = self.chat.base_url(request)
        html = path.read_text(encoding="utf-8").replace("%PUBLIC_URL%", base)
        return web.Response(text=html, content_type="text/html")

    # ---- the API -------------------------------------------------------------------------

    async def config(self, request: web.Request) -> web.Response:
        settings = self.chat.settings
        return web.json_response(
            {
                "title": settings.TITLE,
                "color": settings.COLOR,
                "ask_email": settings.ASK_EMAIL.value,
                "upload_limit": self.chat.upload_limit,
                "identity": bool(settings.SECRET),
                "message_limit": settings.MESSAGE_LIMIT,
            }
        )

    async def session(self, request: web.Request) -> web.Response:
        chat = self.chat
        chat.limits.session(request)
        body = await read_json(request)
        tokens = chat.visitors.token_keeper()
        token = body.get("token")
        visitor = tokens.read(token if isinstance(token, str) else None)
        user = body.get("user")
        secret = chat.settings.SECRET
        if user:
            if secret:
                try:
                    verified = verify_user(secret, user)
                except IdentityRefused as refused:
                    log.info("a setUser was refused: %s", refused)
                    raise Problem(403, "identity") from None
                visitor = verified.with_email(valid_email(verified.email))
            elif isinstance(user, dict):
                # Nothing to verify with: a name and an address as told, no joining.
                visitor = visitor or new_visitor()
                visitor = Visitor(
                    visitor.key,
                    clean(user.get("name"), 255) or visitor.name,
                    valid_email(clean(user.get("email"), 255)) or visitor.email,
                )
        if visitor is None:
            visitor = new_visitor()
        if not visitor.email:
            visitor = visitor.with_email(await chat.visitors.known_email(visitor.key))
        page = page_of(body.get("page"))
        if page:
            chat.visitors.pages[visitor.key] = page
        chat.visitors.saw(visitor.key)
        messages = await chat.feed.history(visitor.key, after=0, limit=HISTORY)
        return web.json_response(
            {
                "token": tokens.issue(visitor),
                "visitor": {"name": visitor.name, "email": visitor.email},
                "messages": messages,
                "cursor": messages[-1]["cursor"] if messages else 0,
                # A satisfaction survey after a close (stars), or None.
                "survey": await chat.survey_of(visitor.key),
            }
        )

    async def rate(self, request: web.Request) -> web.Response:
        """A click on a star: body {"token", "survey" (the survey's token), "score": 1..5}."""
        body = await read_json(request)
        visitor = self.chat.visitors.read(body.get("token"))
        score = as_int(body.get("score"), 0)
        survey = await self.chat.rate(visitor.key, str(body.get("survey") or ""), score)
        return web.json_response({"survey": survey})

    async def send(self, request: web.Request) -> web.Response:
        body = await read_json(request)
        visitor = self.chat.visitors.read(body.get("token"))
        msg, _ = await self.chat.accept(request, visitor, body)
        return web.json_response({"message": msg})

    async def email(self, request: web.Request) -> web.Response:
        chat = self.chat
        body = await read_json(request)
        visitor = chat.visitors.read(body.get("token"))
        address = valid_email(clean(body.get("email"), 255))
        if not address:
            raise Problem(400, "email")
        visitor = visitor.with_email(address)
        await chat.visitors.keep_email(visitor, address)
        return web.json_response(
            {
                "visitor": {"name": visitor.name, "email": visitor.email},
                "token": chat.visitors.token_keeper().issue(visitor),
            }
        )

    async def upload(self, request: web.Request) -> web.Response:
        chat = self.chat
        visitor = chat.visitors.read(request.query.get("token"))
        client_id = client_id_of(request.query.get("client_id"))
        limit = chat.upload_limit
        if request.content_length is not None and request.content_length > limit + 64 * 1024:
            raise Problem(413, "too_large", limit=limit)
        await chat.require_email(visitor)
        chat.limits.message(request, visitor.key)
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

        blobs = chat.started().blobs
        if blobs is None:
            raise Problem(503, "files")
        try:
            blob = await blobs.put(chunks(), limit=limit)
        except BlobTooLarge:
            raise Problem(413, "too_large", limit=limit) from None
        name = file_name(part.filename or "file")
        mime = (part.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if not mime or mime == "application/octet-stream":
            mime = mimetypes.guess_type(name)[0] or "application/octet-stream"
        kind = AttachmentKind.PHOTO if mime in PHOTO_TYPES else AttachmentKind.DOCUMENT
        attachment = Attachment(kind=kind, name=name, mime=mime, size=blob.size, blob=blob.id)
        page = chat.visitors.pages.get(visitor.key, {})
        msg, _ = await chat.take(visitor, client_id, "", [attachment.to_json()], page)
        return web.json_response({"message": msg})

    async def file(self, request: web.Request) -> web.StreamResponse:
        chat = self.chat
        tokens = chat.visitors.token_keeper()
        message_id = as_int(request.match_info.get("message_id"), -1)
        index = as_int(request.match_info.get("index"), -1)
        sig = request.query.get("sig")
        allowed = bool(sig) and sig == tokens.sign(f"{message_id}:{index}")
        message = await Message.get_or_none(id=message_id).prefetch_related("dialog")
        if message is None or message.dialog.channel_id != chat.started().channel_id:  # type: ignore[attr-defined]
            raise web.HTTPNotFound()
        if not allowed:
            visitor = tokens.read(request.query.get("token"))
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
        blobs = chat.started().blobs
        if not raw or not blob or blobs is None:
            raise web.HTTPNotFound()
        body = await blobs.read(blob)
        mime = str(raw.get("mime") or "application/octet-stream")
        disposition = "inline" if mime in PHOTO_TYPES else "attachment"
        name = file_name(str(raw.get("name") or "file"))
        return web.Response(
            body=body,
            headers={
                "Content-Type": mime,
                "Content-Disposition": f'{disposition}; filename="{name}"',
                "X-Content-Type-Options": "nosniff",
                "Cache-Control": "private, max-age=3600",
            },
        )
