"""Live push: each open socket of a visitor gets every message of their dialog as it becomes
visible, after the ones it had not seen yet (resumed from its cursor); a long poll does the
same where a socket cannot connect."""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict
from typing import TYPE_CHECKING, Any

from aiohttp import WSMsgType, web

from connectors.webchat.identity import Visitor
from connectors.webchat.wire import Problem, as_int

if TYPE_CHECKING:
    from connectors.webchat.channel import WebchatConnector

HISTORY = 50
POLL_WAIT_MAX = 30
# The most a reconnecting tab is sent at once of what it missed.
BACKLOG = 1000


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
        return bool(self.queues.get(visitor)) or visitor in self.waiters

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
            async with asyncio.timeout(seconds):  # wait_for may swallow a stop's cancellation
                return await waiter
        except TimeoutError:
            return None
        finally:
            waiters = self.waiters.get(visitor)
            if waiters is not None:
                waiters.discard(waiter)
                if not waiters:
                    del self.waiters[visitor]

    def wake_all(self) -> None:
        """Every long poll answers now (eadesk stops)."""
        for waiters in self.waiters.values():
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_result({})


class Live:
    """The socket and the long poll, for the connector `chat`."""

    def __init__(self, chat: WebchatConnector) -> None:
        self.chat = chat
        self.hub = Hub()
        self.sockets: set[web.WebSocketResponse] = set()

    async def stop(self) -> None:
        self.hub.wake_all()
        for ws in list(self.sockets):
            await ws.close(code=1001, message=b"server shutdown")

    async def poll(self, request: web.Request) -> web.Response:
        chat = self.chat
        visitor = chat.visitors.read(request.query.get("token"))
        after = as_int(request.query.get("after"))
        wait = min(max(as_int(request.query.get("wait"), 25), 0), POLL_WAIT_MAX)
        messages = await chat.feed.history(visitor.key, after=after, limit=HISTORY)
        if not messages and wait:
            await self.hub.wait(visitor.key, wait)
            messages = await chat.feed.history(visitor.key, after=after, limit=HISTORY)
        chat.visitors.saw(visitor.key)
        cursor = max([after, *(m["cursor"] for m in messages)])
        return web.json_response({"messages": messages, "cursor": cursor})

    async def socket(self, request: web.Request) -> web.StreamResponse:
        chat = self.chat
        if not chat.origin_allowed(request):
            return web.json_response({"error": "origin"}, status=403)
        address = chat.limits.open_socket(request)
        if address is None:
            # Refused before the upgrade, in plain words: the widget polls instead.
            limit = chat.limits.sockets_per_ip
            return web.json_response({"error": "sockets", "limit": limit}, status=429)
        try:
            return await self._socket(request)
        finally:
            chat.limits.close_socket(address)

    async def _socket(self, request: web.Request) -> web.StreamResponse:
        chat = self.chat
        ws = web.WebSocketResponse(heartbeat=30, max_msg_size=64 * 1024)
        await ws.prepare(request)
        visitor = chat.visitors.token_keeper().read(request.query.get("token"))
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
            after = as_int(request.query.get("after"))
            backlog = await chat.feed.history(visitor.key, after=after, limit=BACKLOG)
            writer = asyncio.create_task(pump(backlog))
            async for frame in ws:
                if frame.type != WSMsgType.TEXT:
                    continue
                await self._frame(request, ws, visitor, frame.data, queue)
        finally:
            if writer is not None:
                writer.cancel()
            self.hub.leave(visitor.key, queue)
            chat.visitors.saw(visitor.key)
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
                msg, new = await self.chat.accept(request, visitor, frame)
            except Problem as problem:
                await ws.send_json(
                    {"type": "error", "client_id": frame.get("client_id"), **problem.body}
                )
                return
            if not new:
                queue.put_nowait(msg)  # a resend: this tab gets its answer all the same
