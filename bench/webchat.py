"""`python -m bench webchat`: does a crowd of idle website-chat sockets slow an active visitor?

On 127.0.0.1, in this process: the Bot API emulator, eadesk (`bot.app.App`, SQLite in a temp
dir, the website chat on, its rate limits lifted so that the bench measures the server, not
the limiter) and the visitors. An active visitor sends messages over its socket, one at a time,
and times each round trip: sent → the server's frame with that message (taken in, stored,
in the dialog). First with no other socket open, then with IDLE idle sockets open (each a
visitor of its own, connected and silent). Prints the median (and 90th percentile) round trip
of each, and their ratio; the idle sockets the server held, and the open files of this
process (both ends of every socket are in it).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

TEAM_TOKEN = "700001:bench-team-bot"
TEAM_USERNAME = "bench_desk_bot"
ADMIN_RIGHTS = {"can_manage_topics": True, "can_delete_messages": True, "can_pin_messages": True}
UNLIMITED = 1_000_000
CONNECT_AT_ONCE = 100  # idle sockets opened concurrently


@dataclass
class Result:
    idle: int
    messages: int
    quiet: list[float] = field(default_factory=list)  # seconds, with no idle socket
    crowded: list[float] = field(default_factory=list)  # with `idle` idle sockets open
    sockets_held: int = 0
    open_files: int = 0

    def report(self) -> str:
        def ms(values: list[float], q: float) -> float:
            ordered = sorted(values)
            return 1000 * ordered[min(len(ordered) - 1, int(q * len(ordered)))]

        quiet, crowded = statistics.median(self.quiet), statistics.median(self.crowded)
        lines = [
            f"website chat: {self.messages} messages of an active visitor, each sent over its "
            "socket and timed until the server's frame with it came back",
            f"  0 idle sockets:    median {1000 * quiet:7.2f} ms   "
            f"p90 {ms(self.quiet, 0.9):7.2f} ms",
            f"  {self.idle} idle sockets: median {1000 * crowded:7.2f} ms   "
            f"p90 {ms(self.crowded, 0.9):7.2f} ms",
            f"  ratio (idle/none): {crowded / quiet:.2f}",
            f"  idle sockets the server held: {self.sockets_held}; open files of this process "
            f"(both ends of each socket): {self.open_files}",
        ]
        return "\n".join(lines)


def open_files() -> int:
    """This process's open files (sockets included); 0 where /proc does not tell."""
    try:
        return len(os.listdir("/proc/self/fd"))
    except OSError:
        return 0


def lift_limits(chat: Any) -> None:
    """The web chat's rate limits off (one address sends everything here)."""
    from connectors.webchat.limits import RateLimit

    limits = chat.limits
    limits.visitor = RateLimit(UNLIMITED, 60.0)
    limits.ip = RateLimit(UNLIMITED, 60.0)
    limits.sessions = RateLimit(UNLIMITED, 60.0)


@contextlib.asynccontextmanager
async def running_eadesk(idle: int, tmp: Path) -> AsyncIterator[tuple[Any, str]]:
    """The emulator and eadesk with the website chat on; eadesk's app and its base URL."""
    from bot.app import App
    from bot.config import Settings
    from tests.emulator import Emulator
    from tests.emulator.client import EmulatorClient

    server = Emulator("127.0.0.1", 0)
    await server.start()
    async with aiohttp.ClientSession() as session:
        emu = EmulatorClient(server, session)
        try:
            await emu.bot(TEAM_TOKEN, username=TEAM_USERNAME)
            admin = await emu.user("Olga", username="olga", language_code="en")
            group = await emu.group(
                title="Bench support",
                forum=True,
                members=[{"user_id": admin["id"], "status": "administrator"}],
                bots=[{"token": TEAM_TOKEN, "status": "administrator", "rights": ADMIN_RIGHTS}],
            )
            settings = Settings(
                _env_file=None,
                BOT_TOKEN=TEAM_TOKEN,
                TEAM_CHAT_ID=int(group["chat_id"]),
                TELEGRAM_API_URL=emu.base_url,
                DATABASE_URL=f"sqlite://{tmp}/eadesk.sqlite3",
                BLOBS_DIR=str(tmp / "blobs"),
                LANGUAGE="en",
                HTTP_HOST="127.0.0.1",
                HTTP_PORT=0,
                WEBCHAT_ENABLED="true",
                WEBCHAT_SOCKETS_PER_IP=idle + 10,
            )
            app = App(settings, poll_timeout=2)
            await app.start()
            try:
                assert app.http is not None
                host, port = app.http.addresses[0][:2]
                yield app, f"http://{host}:{port}"
            finally:
                await app.stop()
        finally:
            await emu.aclose()
            await server.stop()


class ActiveVisitor:
    """One tab: sends a message, waits for the frame with it."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.waiting: dict[str, asyncio.Future[None]] = {}
        self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for frame in self.ws:
            if frame.type != aiohttp.WSMsgType.TEXT:
                continue
            data = frame.json()
            client_id = (data.get("message") or {}).get("client_id") or data.get("client_id")
            waiter = self.waiting.pop(client_id, None) if client_id else None
            if waiter is not None and not waiter.done():
                if data.get("type") == "error":
                    waiter.set_exception(RuntimeError(f"the server refused: {data}"))
                else:
                    waiter.set_result(None)

    async def round_trip(self, text: str) -> float:
        client_id = uuid.uuid4().hex
        waiter = asyncio.get_running_loop().create_future()
        self.waiting[client_id] = waiter
        started = time.perf_counter()
        await self.ws.send_json({"type": "send", "client_id": client_id, "text": text})
        await asyncio.wait_for(waiter, 30)
        return time.perf_counter() - started

    async def close(self) -> None:
        await self.ws.close()
        self.reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.reader


async def open_idle(
    http: aiohttp.ClientSession, base: str, tokens: list[str]
) -> list[aiohttp.ClientWebSocketResponse]:
    sockets: list[aiohttp.ClientWebSocketResponse] = []
    for start in range(0, len(tokens), CONNECT_AT_ONCE):
        batch = tokens[start : start + CONNECT_AT_ONCE]
        sockets += await asyncio.gather(
            *(http.ws_connect(f"{base}/webchat/ws?token={token}&after=0") for token in batch)
        )
    return sockets


async def measure(active: ActiveVisitor, count: int, phase: str) -> list[float]:
    for number in range(5):  # warm up
        await active.round_trip(f"{phase} warm-up {number}")
    return [await active.round_trip(f"{phase} message {number}") for number in range(count)]


async def run_webchat(idle: int, messages: int, quiet: bool = True) -> Result:
    from connectors.webchat.identity import new_visitor
    from core.models import ChannelKind

    def say(text: str) -> None:
        if not quiet:
            print(text, file=sys.stderr, flush=True)

    result = Result(idle, messages)
    with tempfile.TemporaryDirectory(prefix="eadesk-bench-webchat-") as tmp:
        async with running_eadesk(idle, Path(tmp)) as (app, base):
            chat = next(c for c in app.core.connectors if c.kind == ChannelKind.WEBCHAT)
            lift_limits(chat)
            connector = aiohttp.TCPConnector(limit=0)
            async with aiohttp.ClientSession(connector=connector) as http:
                async with http.post(f"{base}/webchat/api/session", json={}) as response:
                    token = (await response.json())["token"]
                active = ActiveVisitor(await http.ws_connect(f"{base}/webchat/ws?token={token}"))
                say(f"bench: {messages} messages with no idle socket")
                result.quiet = await measure(active, messages, "quiet")
                say(f"bench: opening {idle} idle sockets")
                keeper = chat.visitors.token_keeper()
                tokens = [keeper.issue(new_visitor()) for _ in range(idle)]
                crowd = await open_idle(http, base, tokens)
                result.sockets_held = len(chat.live.sockets) - 1  # the active one
                result.open_files = open_files()
                say(f"bench: {messages} messages with {idle} idle sockets")
                result.crowded = await measure(active, messages, "crowded")
                await active.close()
                await asyncio.gather(*(ws.close() for ws in crowd))
    return result


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench webchat",
        description="An active website-chat visitor's round trip with and without idle sockets.",
    )
    parser.add_argument("--idle", type=int, default=1000, help="idle sockets (default 1000)")
    parser.add_argument(
        "--messages", type=int, default=200, help="timed messages per phase (default 200)"
    )
    parser.add_argument("--verbose", action="store_true", help="say what it is doing")
    args = parser.parse_args(list(argv))
    result = asyncio.run(run_webchat(args.idle, args.messages, quiet=not args.verbose))
    print(result.report())
    return 0
