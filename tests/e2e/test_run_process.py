"""The real program, `python -m bot run`, against the emulator: it answers, survives kill -9,
and after a restart shows what the client wrote while it was down, once, sending nothing twice."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
from pathlib import Path
from typing import Any

import aiohttp

from tests.e2e.conftest import team_forum

TOKEN = "700101:process-bot-token"
BOT = "acme_process_bot"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Process:
    """`python -m bot run` with only the settings it needs; its log kept for a failure."""

    def __init__(self, env: dict[str, str], cwd: Path) -> None:
        self.env = env
        self.cwd = cwd
        self.log = cwd / "eadesk.log"
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        with self.log.open("ab") as log:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot", "run",
                env=self.env, cwd=self.cwd, stdout=log, stderr=log,
            )  # fmt: skip

    async def kill(self, sig: int = signal.SIGKILL) -> int:
        assert self.proc is not None
        if self.proc.returncode is None:
            self.proc.send_signal(sig)
        return await asyncio.wait_for(self.proc.wait(), 10)

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]


async def team_group(emulator: Any, operator: dict[str, Any], token: str = TOKEN) -> int:
    """The team's forum group, the bot an administrator with the rights it needs; its id."""
    return await team_forum(emulator, operator, token=token)


def run_env(
    emulator: Any, chat_id: int, tmp_path: Path, token: str = TOKEN, **extra: str
) -> tuple[dict[str, str], int]:
    """Only the settings of PRODUCT.md §7 the program needs, and its health port. Its working
    directory (`tmp_path/run`) has no .env: the environment is all it gets."""
    port = free_port()
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "BOT_TOKEN": token,
        "TEAM_CHAT_ID": str(chat_id),
        "TELEGRAM_API_URL": emulator.base_url,
        "DATABASE_URL": f"sqlite://{tmp_path}/db.sqlite3",
        "HTTP_PORT": str(port),
        "LANGUAGE": "en",
        **extra,
    }
    (tmp_path / "run").mkdir()
    return env, port


async def wait(predicate: Any, process: Process, timeout: float = 15.0) -> Any:  # noqa: ASYNC109
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        value = await predicate()
        if value:
            return value
        assert process.proc and process.proc.returncode is None, process.output()
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out; the program said:\n{process.output()}")


async def healthy(emulator: Any, port: int) -> bool:
    """The program's /healthz answers 200."""
    with contextlib.suppress(aiohttp.ClientError):
        async with emulator.session.get(f"http://127.0.0.1:{port}/healthz") as response:
            return response.status == 200
    return False


async def test_the_program_answers_survives_kill_9_and_duplicates_nothing(emulator, tmp_path):
    await emulator.bot(TOKEN, username=BOT)
    operator = await emulator.user("Olga", language_code="en")
    client = await emulator.user("Ann", last_name="Lee", language_code="en")
    chat_id = await team_group(emulator, operator)
    env, port = run_env(emulator, chat_id, tmp_path)
    process = Process(env, tmp_path / "run")

    async def topics() -> list[dict[str, Any]]:
        return [t for t in await emulator.topics(chat_id) if not t["deleted"]]

    async def client_posts(thread: int) -> list[str]:
        return [
            m["text"]
            for m in await emulator.messages(chat_id, thread_id=thread)
            if m["from"]["is_bot"] and (m["text"] or "").startswith("Ann Lee\n")
        ]

    async def client_view() -> list[dict[str, Any]]:
        return [
            m for m in await emulator.private_messages(client["id"], BOT) if m["from"]["is_bot"]
        ]

    await process.start()
    try:
        await emulator.send(client["id"], to_bot=BOT, text="Hello")
        thread = (await wait(topics, process))[0]["thread_id"]
        await wait(lambda: client_posts(thread), process)
        await emulator.send(operator["id"], chat_id=chat_id, thread_id=thread, text="Hi Ann!")
        replies = await wait(client_view, process)
        assert [m["text"] for m in replies] == ["Hi Ann!"]

        assert await wait(lambda: healthy(emulator, port), process)

        assert await process.kill() == -signal.SIGKILL
        await emulator.send(client["id"], to_bot=BOT, text="Are you there?")
        await asyncio.sleep(0.3)
        assert await client_posts(thread) == ["Ann Lee\nHello"]  # nobody is running

        await process.start()

        async def shown_again():
            posts = await client_posts(thread)
            return posts if len(posts) >= 2 else None

        assert await wait(shown_again, process) == ["Ann Lee\nHello", "Ann Lee\nAre you there?"]
        await emulator.send(operator["id"], chat_id=chat_id, thread_id=thread, text="Yes!")

        async def second_reply():
            got = await client_view()
            return got if len(got) >= 2 else None

        assert [m["text"] for m in await wait(second_reply, process)] == ["Hi Ann!", "Yes!"]
        assert await wait(lambda: healthy(emulator, port), process)
        # Give a duplicate every chance to show up, then count everything once more.
        await asyncio.sleep(1.0)
        assert await client_posts(thread) == ["Ann Lee\nHello", "Ann Lee\nAre you there?"]
        assert [m["text"] for m in await client_view()] == ["Hi Ann!", "Yes!"]
        assert len(await topics()) == 1
        assert len(await emulator.calls("createForumTopic")) == 1
        copies = [c for c in await emulator.calls("copyMessage") if c["ok"]]
        assert len(copies) == 2
    finally:
        code = await process.kill(signal.SIGTERM)
        # Its last long poll still waits in the emulator: a newer getUpdates ends it (409),
        # or the emulator's shutdown would wait the poll's 20 seconds out.
        await emulator.make_bot(TOKEN).get_updates(timeout=0)
    assert code in (0, -signal.SIGTERM), process.output()
