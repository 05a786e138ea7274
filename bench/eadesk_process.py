"""eadesk in a process of its own for the bench, reporting its own work.

`python -m bench.eadesk_process CONFIG_JSON` starts `bot.app.App` with the settings in
CONFIG_JSON (no `.env`) and talks to the bench over its standard streams: it writes
`BENCH {"event": "ready"}` once started, and answers each line on its standard input —
`mark` with a snapshot of its counters (SQL statements and transactions so far, their texts,
CPU seconds of the whole process), `stop` by stopping eadesk and writing `stopped`. Its log
goes to standard error. Running apart from the emulator and the load is what lets the bench
tell eadesk's CPU time from theirs.

With `"limits": false` eadesk's own caps are lifted too (see `lift_limits`), so that the
bench measures the pipeline, not the budget. With `"profile": PATH` a cProfile of the main
thread runs from the first `mark` to the second and is written to PATH.
"""

from __future__ import annotations

import asyncio
import cProfile
import json
import logging
import os
import sys
from asyncio.subprocess import PIPE
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.counters import SqlCensus
from bot import loop

if TYPE_CHECKING:
    from bot.app import App

PREFIX = "BENCH "
ROOT = Path(__file__).resolve().parent.parent  # the checkout: `bench` and `bot` import from it
UNLIMITED = 1_000_000


def say(event: str, **fields: Any) -> None:
    print(PREFIX + json.dumps({"event": event, **fields}), flush=True)


def lift_limits(app: App) -> None:
    """eadesk's own caps off: each poster's group budget (per minute and per second) and
    each bot's limit for all its chats. The bench is for an emulator without limits; a
    limiter that moved elsewhere must be lifted here too, so its absence stops the run."""
    budgets = [poster.budget for poster in app.desk.gateway.posters]
    bots = {id(b): b for b in [*app.bots.values(), *(p.bot for p in app.desk.gateway.posters)]}
    windows: list[Any] = []
    for bot in bots.values():
        for middleware in bot.session.middleware:
            window = getattr(middleware, "window", None)  # BotRateLimit's SlidingWindow
            if hasattr(window, "limit"):
                windows.append(window)
    if not budgets or not windows or not all(hasattr(b, "per_second") for b in budgets):
        raise SystemExit(
            "bench: eadesk's limiters are not where bench/eadesk_process.py lift_limits "
            "looks for them (group budgets, the bot-wide window): update it"
        )
    for budget in budgets:
        budget.per_minute = budget.per_second = UNLIMITED
    for window in windows:
        window.limit = UNLIMITED


async def serve(config: dict[str, Any]) -> None:
    from bot.app import App
    from bot.config import Settings

    census = SqlCensus()
    census.install()
    values: dict[str, Any] = {
        "_env_file": None,
        "BOT_TOKEN": config["token"],
        "TEAM_CHAT_ID": config["chat_id"],
        "TELEGRAM_API_URL": config["api_url"],
        "DATABASE_URL": config["database_url"],
        "LANGUAGE": "en",
        "HTTP_PORT": 0,
        "RELAY_BOT_TOKENS": config["relays"],
        "GROUP_MESSAGES_PER_MINUTE": config["per_minute"] if config["limits"] else UNLIMITED,
        "BLOBS_DIR": config["blobs_dir"],
    }
    settings = Settings(**values)
    app = App(settings, poll_timeout=config["poll_timeout"])
    if not config["limits"]:
        lift_limits(app)
    profiler = cProfile.Profile() if config.get("profile") else None
    marks = 0
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    try:
        await app.start()
        if not config["limits"]:
            lift_limits(app)  # bots the start may have added
        say("ready")
        while command := (await reader.readline()).decode().strip():
            if command == "mark":
                marks += 1
                if profiler and marks == 2:
                    profiler.disable()
                    profiler.dump_stats(config["profile"])
                say("mark", **census.snapshot())
                if profiler and marks == 1:
                    profiler.enable()
            elif command == "stop":
                break
    finally:
        await app.stop()
    say("stopped")


class EadeskProcess:
    """The bench's side: starts the process above, asks for marks, stops it."""

    START_TIMEOUT = 180.0  # importing aiogram takes ~9 s on a quiet machine, more under load

    def __init__(self, config: dict[str, Any], log_path: Path) -> None:
        self.config = config
        self.log_path = log_path
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        with self.log_path.open("ab") as log:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bench.eadesk_process", json.dumps(self.config),
                cwd=ROOT, env=child_env(), stdin=PIPE, stdout=PIPE, stderr=log,
            )  # fmt: skip
        await self.expect("ready", self.START_TIMEOUT)

    async def expect(self, event: str, seconds: float) -> dict[str, Any]:
        assert self.proc is not None and self.proc.stdout is not None
        async with asyncio.timeout(seconds):
            while line := await self.proc.stdout.readline():
                text = line.decode(errors="replace")
                if text.startswith(PREFIX):
                    message: dict[str, Any] = json.loads(text[len(PREFIX) :])
                    if message["event"] == event:
                        return message
        raise RuntimeError(f"eadesk's process ended before {event!r}:\n{self.log_tail()}")

    async def command(self, command: str, event: str, seconds: float = 60.0) -> dict[str, Any]:
        assert self.proc is not None and self.proc.stdin is not None
        self.proc.stdin.write(command.encode() + b"\n")
        await self.proc.stdin.drain()
        return await self.expect(event, seconds)

    async def mark(self) -> dict[str, Any]:
        return await self.command("mark", "mark")

    async def stop(self) -> None:
        if self.proc is None or self.proc.returncode is not None:
            return
        try:
            await self.command("stop", "stopped")
            await asyncio.wait_for(self.proc.wait(), 30)
        except (RuntimeError, TimeoutError, ConnectionError):
            if self.proc.returncode is None:
                self.proc.kill()
                await self.proc.wait()

    def log_tail(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-4000:]
        except OSError:
            return "(no log)"


def child_env() -> dict[str, str]:
    """Only what Python needs of this environment: eadesk's settings are the config's."""
    keep = ("PATH", "HOME", "LANG", "TMPDIR", "VIRTUAL_ENV")
    return {k: v for k, v in os.environ.items() if k in keep or k.startswith(("LC_", "PYTHON"))}


def main(argv: list[str]) -> int:
    config = json.loads(argv[0])
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    try:
        loop.run(serve(config))  # as `python -m bot run` runs eadesk
    except BaseException:
        logging.exception("eadesk's bench process failed")
        # A half-started eadesk may leave a database thread behind that would keep the
        # process (and the bench waiting for it) alive.
        sys.stderr.flush()
        os._exit(1)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
