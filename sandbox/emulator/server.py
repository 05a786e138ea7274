"""The aiohttp application: Bot API endpoint, file endpoint, control API."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
import types as pytypes
import typing
from typing import Any

from aiogram import methods as aiogram_methods
from aiogram.client.default import Default
from aiohttp import BodyPartReader, web
from pydantic import BaseModel, ValidationError

from .core import ApiError, Core, bad, forbidden
from .events import Changes
from .limits import Limiter
from .state import BotAccount, Chat, Msg, State, User

logger = logging.getLogger("tests.emulator")
TOKEN_RE = re.compile(r"^(\d+):[A-Za-z0-9_-]+$")

METHOD_CLASSES: dict[str, type[BaseModel]] = {}
for _name in dir(aiogram_methods):
    _cls = getattr(aiogram_methods, _name)
    if isinstance(_cls, type) and hasattr(_cls, "__api_method__"):
        METHOD_CLASSES[str(_cls.__api_method__).lower()] = _cls

EMPTY_MESSAGES = {
    "text": "message text is empty",
    "chat_id": "chat_id is empty",
    "message_id": "message identifier is not specified",
    "name": "TOPIC_NAME_INVALID",
    "callback_query_id": "query is too old and response timeout expired or query ID is invalid",
}


def _is_str_field(annotation: Any) -> bool:
    if annotation is str:
        return True
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, pytypes.UnionType):
        return any(a is str for a in typing.get_args(annotation))
    return False


def strip_defaults(value: Any) -> Any:
    if isinstance(value, Default):
        return None
    if isinstance(value, dict):
        return {k: strip_defaults(v) for k, v in value.items() if not isinstance(v, Default)}
    if isinstance(value, list):
        return [strip_defaults(v) for v in value]
    return value


def to_chat_id(value: Any) -> Any:
    if isinstance(value, str) and re.fullmatch(r"-?\d+", value.strip()):
        return int(value)
    return value


def add_emulator_routes(app: web.Application, emu: Emulator) -> None:
    """Mount the emulator on ``app``: the Bot API (``/bot<token>/<method>``), files
    (``/file/bot<token>/…``) and the control API (``/_emu/…``). The standalone server and the
    sandbox (eadesk's own HTTP server) both use this."""
    from . import control, events

    app.router.add_route("*", "/bot{token}/{method}", emu.handle_api)
    app.router.add_get("/file/bot{token}/{path:.+}", emu.handle_file)
    control.setup(app, emu)
    events.setup(app, emu)


class Emulator:
    """The Telegram Bot API emulator; ``async with Emulator(port=0) as emu: emu.base_url``."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, limits: bool = False) -> None:
        self.host = host
        self.port = port
        self.limits_on_start = limits
        self.state = State()
        self.limiter = Limiter()
        self.limiter.enabled = limits
        self.faults: list[dict[str, Any]] = []
        self.calls: list[dict[str, Any]] = []
        self.core = Core(self)
        self.changes = Changes()  # bumped when a chat may show something new (events.py)
        self._runner: web.AppRunner | None = None
        self.app = self.make_app()

    # --- lifecycle ------------------------------------------------------------
    def make_app(self) -> web.Application:
        app = web.Application(client_max_size=100 * 1024 * 1024)
        add_emulator_routes(app, self)
        return app

    async def start(self) -> None:
        self._runner = web.AppRunner(self.app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        server = site._server
        if self.port == 0 and server is not None:
            sockets = getattr(server, "sockets", None) or []
            if sockets:
                self.port = sockets[0].getsockname()[1]

    async def stop(self) -> None:
        for bot in self.state.bots.values():
            self.core.stop_webhook(bot)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Emulator:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def reset(self) -> None:
        for bot in self.state.bots.values():
            self.core.stop_webhook(bot)
            bot.poll_generation += 1
            bot.event.set()
        self.state = State()
        self.limiter = Limiter()
        self.limiter.enabled = self.limits_on_start
        self.faults.clear()
        self.calls.clear()
        self.changes.bump()

    # --- bots & chats -----------------------------------------------------------
    def register_bot(
        self, token: str, username: str | None = None, first_name: str | None = None
    ) -> BotAccount:
        m = TOKEN_RE.match(token)
        if not m:
            raise ApiError(401, "Unauthorized")
        bot = self.state.bots.get(token)
        bot_id = int(m.group(1))
        if bot is None:
            user = User(
                id=bot_id,
                first_name=first_name or f"Bot {bot_id}",
                is_bot=True,
                username=username or f"bot{bot_id}",
            )
            bot = BotAccount(token=token, user=user)
            bot.registered_at = time.time()
            self.state.bots[token] = bot
        else:
            if username:
                bot.user.username = username
            if first_name:
                bot.user.first_name = first_name
        return bot

    def chat_of(self, msg: Msg) -> Chat:
        if msg.chat_id < 0:
            return self.state.groups[msg.chat_id]
        return self.state.private[(msg.chat_id, msg.private_bot_id or 0)]

    def chat_for_bot(self, bot: BotAccount, chat_id: Any, sending: bool = False) -> Chat:
        chat_id = to_chat_id(chat_id)
        if not isinstance(chat_id, int):
            raise bad("chat not found")
        if chat_id < 0:
            chat = self.state.groups.get(chat_id)
            if chat is None:
                raise bad("chat not found")
            if self.core.bot_status(chat, bot.id) not in ("administrator", "member"):
                raise forbidden("bot is not a member of the supergroup chat")
            return chat
        if chat_id not in self.state.users:
            if self.state.bot_by_id(chat_id) is not None and sending:
                raise forbidden("bot can't send messages to bots")
            raise bad("chat not found")
        if sending and (chat_id, bot.id) in self.state.blocked:
            raise forbidden("bot was blocked by the user")
        pc = self.state.private.get((chat_id, bot.id))
        if pc is None or not pc.started:
            if sending:
                raise forbidden("bot can't initiate conversation with a user")
            raise bad("chat not found")
        return pc

    def private_chat(self, user_id: int, bot: BotAccount) -> Chat:
        pc = self.state.private.get((user_id, bot.id))
        if pc is None:
            pc = Chat(
                id=user_id,
                type="private",
                user_id=user_id,
                bot_id=bot.id,
                chat_instance=str(abs(hash((user_id, bot.id)))),
            )
            self.state.private[(user_id, bot.id)] = pc
        return pc

    # --- HTTP: Bot API ----------------------------------------------------------------
    async def _read_params(
        self, request: web.Request
    ) -> tuple[dict[str, Any], dict[str, tuple[str, bytes, str | None]]]:
        params: dict[str, Any] = dict(request.query)
        files: dict[str, tuple[str, bytes, str | None]] = {}
        ctype = request.content_type
        if request.method == "POST" and request.can_read_body:
            if ctype == "application/json":
                try:
                    body = await request.json()
                except json.JSONDecodeError:
                    body = {}
                if isinstance(body, dict):
                    params.update(body)
            elif ctype.startswith("multipart/"):
                reader = await request.multipart()
                while True:
                    part = await reader.next()
                    if part is None:
                        break
                    if not isinstance(part, BodyPartReader) or part.name is None:
                        continue
                    if part.filename is not None:
                        data = await part.read()
                        ptype = part.headers.get("Content-Type")
                        files[part.name] = (part.filename, bytes(data), ptype)
                    else:
                        params[part.name] = await part.text()
            else:
                form = await request.post()
                for k, v in form.items():
                    if isinstance(v, web.FileField):
                        files[k] = (v.filename, v.file.read(), v.content_type)
                    else:
                        params[k] = v
        return params, files

    def _validate(
        self, cls: type[BaseModel], params: dict[str, Any], files: dict[str, Any]
    ) -> dict[str, Any]:
        fields = cls.model_fields
        data: dict[str, Any] = {}
        for key, value in params.items():
            field = fields.get(key)
            if (
                isinstance(value, str)
                and field is not None
                and value[:1] in ("[", "{")
                and not _is_str_field(field.annotation)
            ):
                try:
                    value = json.loads(value)
                except json.JSONDecodeError as e:
                    raise bad(f"can't parse {key} JSON object") from e
            data[key] = value
        for key in files:
            if key in fields and key not in data:
                data[key] = f"attach://{key}"
        try:
            model = cls.model_validate(data)
        except ValidationError as e:
            err = e.errors()[0]
            loc = str(err["loc"][0]) if err["loc"] else "parameter"
            if err["type"] == "missing":
                raise bad(EMPTY_MESSAGES.get(loc, f"{loc} is empty")) from e
            raise bad(f"{loc} is invalid") from e
        dumped = model.model_dump(exclude_none=True)
        out: dict[str, Any] = strip_defaults(dumped)
        out = {k: v for k, v in out.items() if v is not None}
        for key in ("chat_id", "from_chat_id"):
            if key in out:
                out[key] = to_chat_id(out[key])
        return out

    def _match_fault(self, method: str, params: dict[str, Any]) -> dict[str, Any] | None:
        for fault in self.faults:
            fm = fault.get("method")
            if fm and str(fm).lower() != method.lower():
                continue
            fc = fault.get("chat_id")
            if fc is not None and str(fc) != str(params.get("chat_id")):
                continue
            fault["times"] = int(fault.get("times", 1)) - 1
            if fault["times"] <= 0:
                self.faults.remove(fault)
            return fault
        return None

    async def handle_api(self, request: web.Request) -> web.Response:
        from .methods import IMPLS

        token = request.match_info["token"]
        method_name = request.match_info["method"]
        started = time.time()
        params: dict[str, Any] = {}
        files: dict[str, tuple[str, bytes, str | None]] = {}
        result: Any = None
        error: ApiError | None = None
        try:
            params, files = await self._read_params(request)
            bot = self.register_bot(token)
            cls = METHOD_CLASSES.get(method_name.lower())
            impl = IMPLS.get(method_name.lower())
            if cls is None or impl is None:
                raise ApiError(404, "Not Found")
            fault = self._match_fault(method_name, params)
            if fault is not None and fault.get("delay"):
                await self._linger(request, float(fault["delay"]))
            if fault is not None and fault.get("drop"):
                # The call is not carried out and never answered: the socket just closes.
                self._log_call(token, method_name, params, files, started, None, dropped=True)
                if request.transport is not None:
                    request.transport.close()
                return web.Response(status=500)  # never reaches the client
            if fault is not None and fault.get("raw_body") is not None:
                # Not Telegram's JSON: e.g. the HTML page of a proxy in front of it.
                code = int(fault.get("error_code", 502))
                raw = ApiError(code, str(fault.get("description", "")))
                self._log_call(token, method_name, params, files, started, raw)
                return web.Response(
                    text=str(fault["raw_body"]), status=code, content_type="text/html"
                )
            if fault is not None:
                code = int(fault.get("error_code", 400))
                extra = None
                if fault.get("retry_after") is not None:
                    extra = {"retry_after": int(fault["retry_after"])}
                raise ApiError(code, str(fault.get("description", "")), extra)
            p = self._validate(cls, params, files)
            result = await impl(self, bot, p, files)
        except ApiError as e:
            error = e
        except asyncio.CancelledError:
            raise
        except Exception as e:  # a bug in the emulator: answer like Telegram's 500
            logger.exception("emulator failure in %s", method_name)
            error = ApiError(500, f"Internal Server Error: {type(e).__name__}: {e}")
        self._log_call(token, method_name, params, files, started, error)
        if error is not None:
            body: dict[str, Any] = {
                "ok": False,
                "error_code": error.code,
                "description": error.description,
            }
            if error.parameters:
                body["parameters"] = error.parameters
            return web.json_response(body, status=error.code)
        return web.json_response({"ok": True, "result": result})

    def _log_call(
        self,
        token: str,
        method_name: str,
        params: dict[str, Any],
        files: dict[str, tuple[str, bytes, str | None]],
        started: float,
        error: ApiError | None,
        dropped: bool = False,
    ) -> None:
        log_params = dict(params)
        for name, (fname, data, _) in files.items():
            log_params[name] = f"<file {fname}, {len(data)} bytes>"
        entry: dict[str, Any] = {
            "t": started,
            "token": token,
            "method": method_name,
            "params": log_params,
            "ok": error is None and not dropped,
            "error_code": error.code if error else None,
            "description": error.description if error else None,
        }
        if dropped:
            entry["dropped"] = True
            entry["description"] = "connection dropped"
        if error and error.parameters:
            entry["parameters"] = error.parameters
        self.calls.append(entry)

    @staticmethod
    async def _linger(request: web.Request, seconds: float) -> None:
        """A slow answer; stops early once the client gave up (closed the connection)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            transport = request.transport
            if transport is None or transport.is_closing():
                return
            await asyncio.sleep(min(0.02, max(0.0, deadline - time.monotonic())))

    async def handle_file(self, request: web.Request) -> web.StreamResponse:
        token = request.match_info["token"]
        path = request.match_info["path"]
        try:
            bot = self.register_bot(token)
        except ApiError:
            return web.json_response(
                {"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401
            )
        unique = self.state.file_paths.get(path)
        rec = self.state.files.get(unique) if unique else None
        allowed = rec is not None and any(
            b == bot.id and u == rec.unique_id for b, u in self.state.file_ids.values()
        )
        if rec is None or not allowed:
            return web.json_response(
                {"ok": False, "error_code": 404, "description": "Not Found"}, status=404
            )
        return web.Response(body=rec.data, content_type=rec.mime_type or "application/octet-stream")
