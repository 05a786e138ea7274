"""kill -9 at random moments, again and again, while clients write and operators answer:
after the last restart every client message is in the group and every reply at its client.

The real program, `python -m bot run`, against the emulator. Three clients write numbered
tokens; an operator answers each of them in its topic with numbered tokens too. Meanwhile
the program is killed with SIGKILL at seeded random moments and started again: while it
starts, while it runs, and right after the emulator carried out one of its calls but before
the answer went back (the one moment where a duplicate is possible at all).

Zero lost, in both directions, always. Duplicates: the Telegram Bot API has no idempotency
key, so a call whose answer was lost with the process may have been carried out; eadesk then
makes it again (at least once, never zero) and counts the row in `outboxitem.interrupted`
(and logs it). Every other call is made at most once: a row is `sending` (committed) before
its call, and handlers skip work whose result they had already stored. Made again, such a
row repeats one message (a topic post or a card, which may show several client texts at
once; one reply to a client), so the repeated messages must not outnumber the interrupted
rows of their kind.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import re
import signal
import sqlite3
import time
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp

from tests.e2e.test_run_process import Process, run_env, team_group
from tests.emulator.methods import IMPLS

TOKEN = "700202:crash-loop-bot-token"
BOT = "acme_crash_bot"
SEED = 20260105
CLIENTS = ("Ann", "Ben", "Cat")
PER_CLIENT = 30
REPLIES_PER_CLIENT = 6
KILLS = 7
# What the program sends most: into topics (posts, cards) and to clients (replies).
TRAPPED = ("sendmessage", "copymessage")
CLIENT_TOKEN = re.compile(r"\bc([A-Z])-(\d{3})\b")
REPLY_TOKEN = re.compile(r"\bo([A-Z])-(\d{3})\b")


def texts(messages: list[dict[str, Any]]) -> list[tuple[int, str]]:
    """(message id, text) of what the bot posted."""
    return [
        (m["message_id"], (m.get("text") or "") + "\n" + (m.get("caption") or ""))
        for m in messages
        if m["from"]["is_bot"]
    ]


def tally(posts: list[tuple[int, str]], pattern: re.Pattern[str]) -> tuple[Counter[str], list[str]]:
    """How often each token shows, and the posts that repeat a token shown before them."""
    counts: Counter[str] = Counter()
    repeats: list[str] = []
    for _, text in sorted(posts):
        found = {m.group(0) for m in pattern.finditer(text)}
        if any(counts[token] for token in found):
            repeats.append(" ".join(text.split())[:120])
        counts.update(found)
    return counts, repeats


def outbox_report(db: Path) -> tuple[dict[str, int], dict[str, int]]:
    """What eadesk itself reports: calls a restart cut off, by the lane they went in; and
    how many rows are in each status."""
    with contextlib.closing(sqlite3.connect(db)) as connection:
        rows = connection.execute(
            "SELECT kind, lane, interrupted FROM outboxitem WHERE interrupted > 0"
        ).fetchall()
        statuses = connection.execute(
            "SELECT status, COUNT(*) FROM outboxitem GROUP BY status"
        ).fetchall()
    report: Counter[str] = Counter()
    for kind, lane, count in rows:
        report["topic" if lane.startswith("topic:") else kind] += count
        report["total"] += count
    return dict(report), dict(statuses)


class AnswerLost:
    """Armed, it kills the program right after the emulator carried out one of its calls,
    before the answer is sent: the worst moment, a call made but never known to be."""

    def __init__(self, monkeypatch: Any, process: Process) -> None:
        self.process = process
        self.armed = False
        self.fired = 0
        self.killed = asyncio.Event()
        for name in TRAPPED:
            monkeypatch.setitem(IMPLS, name, self.wrap(IMPLS[name]))

    def wrap(self, impl: Any) -> Any:
        async def carried_out(*args: Any) -> Any:
            result = await impl(*args)
            proc = self.process.proc
            if self.armed and proc is not None and proc.returncode is None:
                self.armed = False
                self.fired += 1
                proc.send_signal(signal.SIGKILL)
                self.killed.set()
            return result

        return carried_out

    async def spring(self, timeout: float) -> None:  # noqa: ASYNC109
        """Arm it and wait for the next call; with none in time, the caller kills anyway."""
        self.killed.clear()
        self.armed = True
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.killed.wait(), timeout)
        self.armed = False


async def test_kill_9_again_and_again_loses_nothing_and_repeats_only_cut_off_calls(
    emulator, tmp_path, monkeypatch
):
    started = time.monotonic()
    rng = random.Random(SEED)
    await emulator.bot(TOKEN, username=BOT)
    operator = await emulator.user("Olga", language_code="en")
    clients = {
        letter: await emulator.user(name, last_name="Test", language_code="en")
        for letter, name in zip("ABC", CLIENTS, strict=True)
    }
    chat_id = await team_group(emulator, operator, TOKEN)
    # Telegram's limits are off in the emulator; eadesk's own may be generous here.
    env, port = run_env(emulator, chat_id, tmp_path, TOKEN, GROUP_MESSAGES_PER_MINUTE="600")
    db = tmp_path / "db.sqlite3"
    process = Process(env, tmp_path / "run")
    trap = AnswerLost(monkeypatch, process)

    async def ready() -> bool:
        """The program finished starting: its health endpoint answers."""
        with contextlib.suppress(aiohttp.ClientError):
            async with emulator.session.get(f"http://127.0.0.1:{port}/healthz") as response:
                return response.status in (200, 503)
        return False

    async def until(predicate: Any, timeout: float, what: str) -> Any:  # noqa: ASYNC109
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = await predicate()
            if value:
                return value
            assert process.proc and process.proc.returncode is None, process.output()
            await asyncio.sleep(0.05)
        raise AssertionError(f"timed out waiting for {what}; the program said:\n{process.output()}")

    async def group_posts() -> list[tuple[int, str]]:
        return texts(await emulator.messages(chat_id))

    async def thread_of(letter: str) -> int | None:
        """The topic where the client's messages show (the one its dialog is linked to)."""
        threads = [
            m["thread_id"]
            for m in await emulator.messages(chat_id)
            if m["from"]["is_bot"] and f"c{letter}-" in (m.get("text") or "")
        ]
        return threads[-1] if threads else None

    async def client_write(letter: str, seed: int) -> None:
        pace = random.Random(seed)
        for i in range(PER_CLIENT):
            await emulator.send(clients[letter]["id"], to_bot=BOT, text=f"c{letter}-{i:03d}")
            await asyncio.sleep(pace.uniform(0.1, 1.0))

    async def operator_answer(seed: int) -> None:
        pace = random.Random(seed)
        sent = dict.fromkeys(clients, 0)
        while any(n < REPLIES_PER_CLIENT for n in sent.values()):
            await asyncio.sleep(pace.uniform(0.3, 1.0))
            letter = pace.choice([c for c, n in sent.items() if n < REPLIES_PER_CLIENT])
            thread = await thread_of(letter)
            if thread is None:
                continue  # its topic is not there yet
            text = f"o{letter}-{sent[letter]:03d}"
            await emulator.send(operator["id"], chat_id=chat_id, thread_id=thread, text=text)
            sent[letter] += 1

    await process.start()
    kills = 0
    try:
        # The first start creates the database; the kills begin once it runs.
        await until(ready, 30, "the first start")
        traffic = [
            asyncio.create_task(client_write(letter, rng.randrange(1 << 30))) for letter in clients
        ]
        traffic.append(asyncio.create_task(operator_answer(rng.randrange(1 << 30))))
        for _ in range(KILLS):
            moment = rng.random()
            if moment < 0.25:
                # While it starts: recovering, catching up.
                await asyncio.sleep(rng.uniform(0.5, 3.5))
            elif moment < 0.6:
                # Right after one of its calls was carried out, before the answer came back.
                await until(ready, 30, "a restart")
                await trap.spring(timeout=5)
            else:
                await until(ready, 30, "a restart")
                await asyncio.sleep(rng.uniform(0.0, 1.5))
            assert await process.kill() == -signal.SIGKILL, process.output()
            kills += 1
            await asyncio.sleep(rng.uniform(0.0, 0.4))
            await process.start()
        await asyncio.gather(*traffic)
        await until(ready, 30, "the last restart")

        expected = {f"c{c}-{i:03d}" for c in clients for i in range(PER_CLIENT)}
        replies = {f"o{c}-{i:03d}" for c in clients for i in range(REPLIES_PER_CLIENT)}

        async def at_clients() -> list[tuple[int, str]]:
            posts: list[tuple[int, str]] = []
            for letter, client in clients.items():
                for message_id, text in texts(await emulator.private_messages(client["id"], BOT)):
                    # Each reply must reach its own client.
                    wrong = [m for m in REPLY_TOKEN.finditer(text) if m.group(1) != letter]
                    assert not wrong, (letter, text)
                    posts.append((message_id, text))
            return posts

        async def all_there() -> bool:
            shown, _ = tally(await group_posts(), CLIENT_TOKEN)
            answered, _ = tally(await at_clients(), REPLY_TOKEN)
            return expected <= set(shown) and replies <= set(answered)

        await until(all_there, 30, "every message after the last restart")
        # Give a late duplicate every chance to show up, then count everything once more.
        await asyncio.sleep(1.5)
        shown, group_repeats = tally(await group_posts(), CLIENT_TOKEN)
        answered, client_repeats = tally(await at_clients(), REPLY_TOKEN)
    finally:
        code = await process.kill(signal.SIGTERM)
        # Its last long poll still waits in the emulator: a newer getUpdates ends it (409).
        await emulator.make_bot(TOKEN).get_updates(timeout=0)
    assert code in (0, -signal.SIGTERM), process.output()

    assert kills == KILLS
    assert trap.fired, "no kill came between a call and its answer: change SEED"
    # Nothing lost, nothing made up.
    assert set(shown) == expected, sorted(expected - set(shown))
    assert set(answered) == replies, sorted(replies - set(answered))

    report, statuses = outbox_report(db)
    log = process.log.read_text(errors="replace")
    logged = sum(int(n) for n in re.findall(r"outbox: (\d+) row\(s\) were cut off", log))
    # The log says it too (a kill may come between the rows' commit and the log line).
    assert logged <= report.get("total", 0)
    # Each call whose answer was lost was found in flight by the restart after it.
    assert report.get("total", 0) >= trap.fired, (report, trap.fired)
    twice = sorted(t for t, n in shown.items() if n > 1)
    twice_at_clients = sorted(t for t, n in answered.items() if n > 1)
    summary = (
        f"{kills} kills ({trap.fired} losing an answer) in {time.monotonic() - started:.1f}s; "
        f"interrupted rows: {report}; "
        f"outbox: {statuses}; "
        f"tokens twice in the group: {twice}, at clients: {twice_at_clients}; "
        f"repeated posts: {group_repeats}; repeated replies: {client_repeats}"
    )
    print(summary)
    assert not statuses.get("failed"), summary
    # Only a call cut off mid-way may have been carried out twice, one message each.
    assert len(group_repeats) <= report.get("topic", 0), summary
    assert len(client_repeats) <= report.get("channel.send", 0), summary
    # Everything else at most once: no token twice without a repeated post to explain it.
    assert all(n <= 1 + report.get("total", 0) for n in shown.values()), summary
    topics = [t for t in await emulator.topics(chat_id) if not t["deleted"]]
    assert len(clients) <= len(topics) <= len(clients) + report.get("topic", 0), summary
