"""Change notification: a version counter bumped whenever a chat may show something new, and
`GET /_emu/events`, a Server-Sent Events stream of it (the sandbox's page listens to it).

Every Bot API call except the reading ones (`get…`, `sendChatAction`) and every control
`POST` bumps the version once its answer is ready; so does `Emulator.reset`. Code that
changes the state directly calls `emu.changes.bump()`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from .server import Emulator

KEEPALIVE = 15.0  # seconds between comment lines on a quiet stream (proxies drop idle ones)
QUIET_METHODS = frozenset({"sendchataction"})


class Changes:
    """The version of what the emulated chats show; waiters wake on every bump."""

    def __init__(self) -> None:
        self.version = 0
        self._bumped = asyncio.Event()

    def bump(self) -> None:
        self.version += 1
        bumped, self._bumped = self._bumped, asyncio.Event()
        bumped.set()

    async def wait(self, seen: int, timeout: float) -> int:  # noqa: ASYNC109
        """The version once it differs from `seen`, or the same after `timeout` seconds."""
        if self.version == seen:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):  # wait_for may swallow a cancellation
                    await self._bumped.wait()
        return self.version


def changes_state(request: web.Request) -> bool:
    """Whether this request may have changed what a chat shows."""
    if request.path.startswith("/_emu/"):
        return request.method == "POST"
    method = request.match_info.get("method")
    if method is None or not request.path.startswith("/bot"):
        return False
    lowered = method.lower()
    return not lowered.startswith("get") and lowered not in QUIET_METHODS


def setup(app: web.Application, emu: Emulator) -> None:
    closing = asyncio.Event()  # the server stops: end the streams rather than wait for them

    async def on_shutdown(app: web.Application) -> None:
        closing.set()
        emu.changes.bump()

    async def on_prepare(request: web.Request, response: web.StreamResponse) -> None:
        if changes_state(request):
            emu.changes.bump()

    async def events(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(
            headers={
                "Content-Type": "text/event-stream",
                "Cache-Control": "no-cache",
                "X-Accel-Buffering": "no",
            }
        )
        await response.prepare(request)
        seen = -1
        try:
            while not closing.is_set():
                version = await emu.changes.wait(seen, KEEPALIVE)
                if closing.is_set():
                    break
                if version == seen:
                    await response.write(b": keepalive\n\n")
                    continue
                seen = version
                data = json.dumps({"version": version})
                await response.write(f"event: change\ndata: {data}\n\n".encode())
        except ConnectionResetError:
            pass  # the page went away
        return response

    app.on_shutdown.append(on_shutdown)
    app.on_response_prepare.append(on_prepare)
    app.router.add_get("/_emu/events", events)
