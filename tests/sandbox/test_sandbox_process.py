"""The sandbox as a new user meets it: `python -m bot run` in a directory with no .env and no
Telegram in the environment serves the page and the emulator; a half-configured Telegram
still fails with its clear message."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "100:team"
CHAT_ID = "-1001234567890"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def bare_env(cwd: Path, **extra: str) -> dict[str, str]:
    """Nothing but PATH and HOME (and `extra`): no BOT_TOKEN, no TEAM_CHAT_ID."""
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(cwd), **extra}


def eadesk(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def answers(session: aiohttp.ClientSession, url: str) -> bool:
    with contextlib.suppress(aiohttp.ClientError, asyncio.TimeoutError):
        async with session.get(url, timeout=aiohttp.ClientTimeout(total=5)) as response:
            return response.status == 200
    return False


def text_of(log: Path) -> str:
    return log.read_text()


def fresh_clone(dest: Path) -> Path:
    subprocess.run(["git", "clone", "-q", str(ROOT), str(dest)], check=True, timeout=120)
    return dest


async def serving(proc: asyncio.subprocess.Process, base: str, log: Path, patience: float) -> float:
    """Seconds until the sandbox answers `/_emu/health` and `/`. Polled: a start takes ~10 s
    on a quiet machine (importing aiogram) and far longer under load, so `patience` is only
    how long to wait before giving up, not a figure the test holds the program to."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    async with aiohttp.ClientSession() as session:
        while not (
            await answers(session, base + "/_emu/health") and await answers(session, base + "/")
        ):
            assert proc.returncode is None, text_of(log)
            waited = loop.time() - started
            assert waited < patience, f"no sandbox after {waited:.0f} s:\n{text_of(log)}"
            await asyncio.sleep(0.2)
        async with session.get(base + "/_emu/health") as response:
            assert isinstance(await response.json(), dict)
    return loop.time() - started


async def stop(proc: asyncio.subprocess.Process, *, group: bool = False) -> int:
    """Ctrl+C, the ordinary way to stop it (to make's whole process group, as a terminal
    does)."""
    if proc.returncode is None:
        if group:
            os.killpg(proc.pid, signal.SIGINT)
        else:
            proc.send_signal(signal.SIGINT)
    return await asyncio.wait_for(proc.wait(), 60)


async def test_run_with_no_telegram_serves_the_sandbox(tmp_path: Path) -> None:
    port = free_port()
    log = tmp_path / "out.log"
    with log.open("wb") as out:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "run",
            cwd=tmp_path, env=bare_env(tmp_path, HTTP_PORT=str(port), LANGUAGE="en"),
            stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        took = await serving(proc, f"http://127.0.0.1:{port}", log, patience=600)
        print(f"python -m bot run served the sandbox after {took:.1f} s")
        first = log.read_text().splitlines()[:4]
        assert "sandbox" in first[0] and "Telegram emulator" in first[0], first
        assert any(f"http://127.0.0.1:{port}/" in line for line in first), first
        # The sandbox's own data, never the production database's file.
        assert (tmp_path / "data" / "sandbox").is_dir()
        assert not (tmp_path / "data" / "eadesk.sqlite3").exists()
    finally:
        code = await stop(proc)
    assert code == 0, log.read_text()
    assert "Traceback" not in log.read_text()


async def test_make_run_in_a_fresh_clone_serves_the_sandbox(tmp_path: Path) -> None:
    """What a new user does first: clone, `make run` (which makes its own .venv), open the
    page. The clone is of this repository's HEAD; its .venv is installed from pip's cache."""
    clone = fresh_clone(tmp_path / "eadesk")
    assert not (clone / ".env").exists()
    port = free_port()
    log = tmp_path / "make-run.log"
    env = {
        **bare_env(clone, HTTP_PORT=str(port), LANGUAGE="en"),
        "HOME": os.environ.get("HOME", str(tmp_path)),  # pip's cache: no download again
    }
    with log.open("wb") as out:
        proc = await asyncio.create_subprocess_exec(
            "make", "run", cwd=clone, env=env, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    try:
        took = await serving(proc, f"http://127.0.0.1:{port}", log, patience=1200)
        print(f"make run in a fresh clone served the sandbox after {took:.1f} s (venv included)")
        assert "eadesk sandbox" in log.read_text()
    finally:
        await stop(proc, group=True)
    assert "Traceback" not in log.read_text()


def test_only_bot_token_set_fails_as_before(tmp_path: Path) -> None:
    result = eadesk("run", cwd=tmp_path, env=bare_env(tmp_path, BOT_TOKEN=TOKEN))
    assert result.returncode == 2
    assert "TEAM_CHAT_ID is not set" in result.stderr
    assert "sandbox" not in result.stdout + result.stderr
    assert "Traceback" not in result.stderr


def test_only_team_chat_id_in_dotenv_fails_as_before(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(f"BOT_TOKEN=\nTEAM_CHAT_ID={CHAT_ID}\n")
    result = eadesk("run", cwd=tmp_path, env=bare_env(tmp_path))
    assert result.returncode == 2
    assert "BOT_TOKEN is not set" in result.stderr
    assert "sandbox" not in result.stdout + result.stderr


def test_help_lists_the_sandbox(tmp_path: Path) -> None:
    result = eadesk("--help", cwd=tmp_path, env=bare_env(tmp_path))
    assert result.returncode == 0
    assert "sandbox" in result.stdout
    result = eadesk("sandbox", "--help", cwd=tmp_path, env=bare_env(tmp_path))
    assert result.returncode == 0
    assert "--seed {demo,empty}" in result.stdout


def test_make_demo_starts_the_demo_sandbox() -> None:
    result = subprocess.run(
        ["make", "-n", "demo"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "-m bot sandbox --seed demo" in result.stdout
