"""`python -m bench delivery`: client messages into the team group under Telegram's limits.

On 127.0.0.1: the Bot API emulator (limits on by default: 20 calls per minute per group per
bot, …) and the load — new clients writing text messages to the team bot on a seeded random
schedule, through the emulator's control API — run in this process; eadesk itself
(`bot.app.App`, SQLite in a temp dir or a fresh PostgreSQL database) runs in a process of its
own (`bench.eadesk_process`) that counts its SQL statements and CPU time. A watcher polls the
group every ~200 ms and notes when each client message (a unique token in its text) first
shows up in a topic.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import logging
import math
import pstats
import random
import re
import resource
import secrets
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aiohttp

from bench.counters import census_between
from bench.eadesk_process import EadeskProcess

TEAM_TOKEN = "700001:bench-team-bot"
TEAM_USERNAME = "bench_desk_bot"
RELAY_BASE_ID = 710001
ADMIN_RIGHTS = {"can_manage_topics": True, "can_delete_messages": True, "can_pin_messages": True}
# eadesk long-polls with this timeout: the emulator wakes a waiting getUpdates at once, and a
# short one lets the emulator shut down without waiting for a 20 s poll to end.
POLL_TIMEOUT = 2
POLL_INTERVAL = 0.2
# Limits off, the whole load is visible within a second or two: a scan every 0.2 s would round
# the throughput's span up by a tenth of a second on average.
FAST_POLL_INTERVAL = 0.025
SETTLE_SECONDS = 2.0  # after the last token shows up, keep looking for duplicates this long

# Bot API methods that put something into the group or change it and that Telegram counts
# against the group's per-minute budget (as the emulator's limiter does), lower case.
GROUP_METHODS = frozenset(
    {
        "sendmessage",
        "sendphoto",
        "senddocument",
        "sendvoice",
        "sendaudio",
        "sendvideo",
        "sendanimation",
        "sendvideonote",
        "sendsticker",
        "sendlocation",
        "sendcontact",
        "sendmediagroup",
        "copymessage",
        "copymessages",
        "forwardmessage",
        "forwardmessages",
        "editmessagetext",
        "editmessagecaption",
        "editmessagereplymarkup",
        "createforumtopic",
        "editforumtopic",
        "closeforumtopic",
        "reopenforumtopic",
    }
)

TOKEN_RE = re.compile(r"c\d+m\d+-[0-9a-f]{8}")


@dataclass(frozen=True)
class LoadSpec:
    clients: int = 40
    messages: int = 5
    duration: float = 60.0
    deadline: float = 900.0  # seconds from the start of the load
    seed: int = 1
    limits: bool = True
    relay_bots: int = 0


@dataclass
class Planned:
    client: int
    index: int
    at: float  # seconds after the start of the load
    token: str

    @property
    def text(self) -> str:
        return f"{self.token} hello, this is message {self.index + 1} of client {self.client}"


@dataclass
class Result:
    spec: LoadSpec
    accepted: int = 0
    refused: int = 0
    visible: int = 0
    lost: int = 0
    duplicated: int = 0
    misplaced: int = 0
    topics: int = 0
    group_calls: int = 0
    relay_calls: int = 0
    too_many: int = 0
    group_too_many: int = 0
    latencies: list[float] = field(default_factory=list)
    all_visible_after: float | None = None  # seconds from the start of the load
    wall: float = 0.0
    # eadesk's own work from right before the first client message until every one is
    # visible (its process alone: the emulator and the load run in this one).
    cpu: float | None = None  # CPU seconds
    cpu_loop: float | None = None  # of them in the event loop's thread
    gc: float | None = None  # of them in the cyclic garbage collector
    harness_cpu: float | None = None  # this process's: the emulator and the load
    sql_statements: int | None = None
    transactions: int | None = None
    statements: Counter[str] = field(default_factory=Counter)  # by shape (profile)
    profile: Path | None = None
    per_group_per_minute: int = 20
    throughput: float | None = None
    by_method: Counter[str] = field(default_factory=Counter)
    too_many_by_method: Counter[str] = field(default_factory=Counter)

    @property
    def label(self) -> str:
        if not self.spec.relay_bots:
            return "1 bot"
        relays = "relay" if self.spec.relay_bots == 1 else "relays"
        return f"1 bot + {self.spec.relay_bots} {relays}"

    @property
    def required_calls(self) -> int:
        # At the very least each new client costs one createForumTopic and one message
        # (all of its messages coalesced into one).
        return 2 * self.spec.clients

    @property
    def bound(self) -> float | None:
        """The least time the group budget allows for the required calls, in seconds.

        With k bots posting (the team bot and the relays, each with its own budget) the
        group takes k × per_group_per_minute calls per minute. The window starts empty, so
        the first minute's allowance (k × per_minute calls) can go at once; every further
        call needs its share of a minute:
            bound = max(0, required − k·L) ÷ (k·L) × 60 s,   required = 2 × clients.
        """
        if not self.spec.limits:
            return None
        per_minute = (1 + self.spec.relay_bots) * self.per_group_per_minute
        return max(0, self.required_calls - per_minute) / per_minute * 60.0

    def percentile(self, q: float) -> float | None:
        if not self.latencies:
            return None
        ordered = sorted(self.latencies)
        rank = max(1, math.ceil(q * len(ordered)))  # nearest rank
        return ordered[rank - 1]


def plan(spec: LoadSpec) -> list[Planned]:
    """Each client's messages at seeded random moments in [0, duration], in order per client."""
    rng = random.Random(spec.seed)
    width = len(str(max(spec.clients - 1, 1)))
    out: list[Planned] = []
    for client in range(spec.clients):
        moments = sorted(rng.uniform(0, spec.duration) for _ in range(spec.messages))
        for index, at in enumerate(moments):
            token = f"c{client:0{width}d}m{index}-{rng.getrandbits(32):08x}"
            out.append(Planned(client, index, at, token))
    return out


class Control:
    """The emulator's control API over HTTP, as a test outside the process would use it."""

    def __init__(self, base_url: str, session: aiohttp.ClientSession) -> None:
        self.base = base_url
        self.session = session

    async def post(self, path: str, body: dict[str, Any]) -> Any:
        async with self.session.post(self.base + path, json=body) as response:
            data = await response.json()
            if response.status >= 400:
                raise RuntimeError(f"POST {path}: {response.status} {data}")
            return data

    async def get(self, path: str, **query: Any) -> Any:
        async with self.session.get(self.base + path, params=query) as response:
            data = await response.json()
            if response.status >= 400:
                raise RuntimeError(f"GET {path}: {response.status} {data}")
            return data


class Watcher:
    """Polls the group's messages and notes when (and where) each token first shows up."""

    def __init__(self, control: Control, chat_id: int) -> None:
        self.control = control
        self.chat_id = chat_id
        self.first_seen: dict[str, float] = {}
        self.places: dict[str, set[int]] = {}  # token -> group message ids showing it
        self.threads: dict[str, int | None] = {}  # token -> thread of its first sighting

    async def scan(self) -> None:
        messages = await self.control.get(f"/_emu/chats/{self.chat_id}/messages")
        now = time.monotonic()
        for message in messages:
            sender = message.get("from") or {}
            if not sender.get("is_bot"):
                continue
            body = (message.get("text") or "") + "\n" + (message.get("caption") or "")
            for token in TOKEN_RE.findall(body):
                self.places.setdefault(token, set()).add(message["message_id"])
                if token not in self.first_seen:
                    self.first_seen[token] = now
                    topical = message.get("is_topic_message") or message.get("thread_id")
                    self.threads[token] = message.get("thread_id") if topical else None


async def setup_group(control: Control, spec: LoadSpec) -> tuple[int, list[str]]:
    await control.post("/_emu/bots", {"token": TEAM_TOKEN, "username": TEAM_USERNAME})
    relays = [f"{RELAY_BASE_ID + n}:bench-relay-{n}" for n in range(spec.relay_bots)]
    for n, token in enumerate(relays):
        await control.post("/_emu/bots", {"token": token, "username": f"bench_relay{n}_bot"})
    operator = await control.post("/_emu/users", {"first_name": "Olga", "username": "olga"})
    group = await control.post(
        "/_emu/groups",
        {
            "title": "Bench support",
            "forum": True,
            "members": [{"user_id": operator["id"], "status": "administrator"}],
            "bots": [
                {"token": token, "status": "administrator", "rights": ADMIN_RIGHTS}
                for token in [TEAM_TOKEN, *relays]
            ],
        },
    )
    return int(group["chat_id"]), relays


async def run_delivery(
    spec: LoadSpec,
    *,
    quiet: bool = True,
    database_url: str | None = None,
    profile: Path | None = None,
) -> Result:
    """One configuration: a fresh emulator, a fresh eadesk in its own process, the load, the
    figures. `database_url`: a PostgreSQL server to create a fresh database on (default:
    SQLite in a temp dir). `profile`: where eadesk's cProfile of the steady state goes."""
    from tests.emulator import Emulator

    def say(text: str) -> None:
        if not quiet:
            print(text, file=sys.stderr, flush=True)

    result = Result(spec)
    schedule = plan(spec)
    with tempfile.TemporaryDirectory(prefix="eadesk-bench-") as tmp:
        async with (
            Emulator("127.0.0.1", 0, limits=spec.limits) as emu,
            aiohttp.ClientSession() as session,
            fresh_database(database_url, Path(tmp)) as url,
        ):
            result.per_group_per_minute = int(emu.limiter.per_group_per_minute)
            control = Control(emu.base_url, session)
            chat_id, relays = await setup_group(control, spec)
            users = [
                await control.post(
                    "/_emu/users", {"first_name": f"Client{c}", "language_code": "en"}
                )
                for c in range(spec.clients)
            ]
            eadesk = EadeskProcess(
                {
                    "token": TEAM_TOKEN,
                    "chat_id": chat_id,
                    "api_url": emu.base_url,
                    "database_url": url,
                    "blobs_dir": str(Path(tmp) / "blobs"),
                    "relays": relays,
                    "per_minute": result.per_group_per_minute,
                    # Limits off: eadesk's own caps go too (group budgets, the bot limit).
                    "limits": spec.limits,
                    "poll_timeout": POLL_TIMEOUT,
                    "profile": str(profile) if profile else None,
                },
                Path(tmp) / "eadesk.log",
            )
            try:
                await eadesk.start()
                say(
                    f"[{result.label}] eadesk started: {len(schedule)} messages, "
                    f"{spec.duration:g} s"
                )
                watcher = Watcher(control, chat_id)
                sent_at: dict[str, float] = {}
                marks: list[dict[str, Any]] = []
                wall0 = time.monotonic()
                await drive(
                    control, spec, schedule, users, watcher, sent_at, result, wall0, say,
                    eadesk, marks,
                )  # fmt: skip
                result.wall = time.monotonic() - wall0
                calls = await control.get("/_emu/calls")
                topics = await control.get(f"/_emu/chats/{chat_id}/topics")
            except Exception:
                print(f"eadesk's log (tail):\n{eadesk.log_tail()}", file=sys.stderr)
                raise
            finally:
                await eadesk.stop()
    tally(result, watcher, sent_at, calls, topics, chat_id, relays, wall0)
    if len(marks) == 2:
        first, last = marks
        result.sql_statements = last["statements"] - first["statements"]
        result.transactions = last["transactions"] - first["transactions"]
        result.cpu = last["cpu"] - first["cpu"]
        result.cpu_loop = last["cpu_loop"] - first["cpu_loop"]
        result.gc = last["gc"] - first["gc"]
        result.harness_cpu = last["harness_cpu"] - first["harness_cpu"]
        result.statements = census_between(first["by_text"], last["by_text"])
    result.profile = profile
    return result


@contextlib.asynccontextmanager
async def fresh_database(server: str | None, tmp: Path) -> AsyncIterator[str]:
    """SQLite in `tmp`, or a database of its own on the PostgreSQL `server` (dropped after)."""
    if not server:
        yield f"sqlite://{tmp / 'eadesk.sqlite3'}"
        return
    import asyncpg

    from core.db import normalize_url

    parts = urlsplit(normalize_url(server))
    name = f"eadesk_bench_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(server)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield urlunsplit(parts._replace(path=f"/{name}"))
        finally:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


async def mark(eadesk: EadeskProcess) -> dict[str, Any]:
    """eadesk's counters, and the CPU time of this process (the emulator and the load)."""
    counters = await eadesk.mark()
    return {**counters, "harness_cpu": time.process_time()}


async def drive(
    control: Control,
    spec: LoadSpec,
    schedule: list[Planned],
    users: list[dict[str, Any]],
    watcher: Watcher,
    sent_at: dict[str, float],
    result: Result,
    start: float,
    say: Any,
    eadesk: EadeskProcess,
    marks: list[dict[str, Any]],
) -> None:
    """Send on schedule (one task per client keeps its messages in order) while watching.
    eadesk's counters are read right before the first client message and as soon as every
    sent message is visible: the steady state, start-up and the idle tail left out."""
    first_send = asyncio.Lock()

    async def client(number: int) -> None:
        for item in (p for p in schedule if p.client == number):
            await asyncio.sleep(max(0.0, start + item.at - time.monotonic()))
            if not marks:
                async with first_send:
                    if not marks:
                        marks.append(await mark(eadesk))
            moment = time.monotonic()
            try:
                await control.post(
                    "/_emu/messages",
                    {"from": users[number]["id"], "to_bot": TEAM_USERNAME, "text": item.text},
                )
            except RuntimeError:
                result.refused += 1
                continue
            sent_at[item.token] = moment

    senders = asyncio.gather(*(client(n) for n in range(spec.clients)))
    deadline = start + spec.deadline
    done_since: float | None = None
    next_report = start + 30.0
    try:
        while time.monotonic() < deadline:
            await watcher.scan()
            now = time.monotonic()
            pending = [t for t in sent_at if t not in watcher.first_seen]
            if senders.done() and not pending:
                if done_since is None:
                    done_since = now
                    marks.append(await mark(eadesk))
                if now - done_since >= SETTLE_SECONDS:
                    break
            if now >= next_report:
                next_report += 30.0
                say(
                    f"  t={now - start:5.0f} s  sent {len(sent_at)}  visible "
                    f"{len(sent_at) - len(pending)}"
                )
            await asyncio.sleep(POLL_INTERVAL if spec.limits else FAST_POLL_INTERVAL)
        await watcher.scan()
        if len(marks) == 1:  # the deadline came first: what was spent until then
            marks.append(await mark(eadesk))
    finally:
        if not senders.done():
            senders.cancel()
        await asyncio.gather(senders, return_exceptions=True)


def tally(
    result: Result,
    watcher: Watcher,
    sent_at: dict[str, float],
    calls: list[dict[str, Any]],
    topics: list[dict[str, Any]],
    chat_id: int,
    relays: list[str],
    start: float,
) -> None:
    result.accepted = len(sent_at)
    seen = [t for t in sent_at if t in watcher.first_seen]
    result.visible = len(seen)
    result.lost = result.accepted - result.visible
    result.duplicated = sum(1 for t in sent_at if len(watcher.places.get(t, ())) > 1)
    result.latencies = [watcher.first_seen[t] - sent_at[t] for t in seen]
    if seen and result.lost == 0:
        result.all_visible_after = max(watcher.first_seen[t] for t in seen) - start
    # A client's topic is where its first message showed up; anything elsewhere is misplaced.
    home: dict[str, int | None] = {}
    for token in sorted(seen, key=lambda t: sent_at[t]):
        who = token.split("m", 1)[0]
        thread = watcher.threads[token]
        home.setdefault(who, thread)
        if thread is None or thread != home[who]:
            result.misplaced += 1
    result.topics = sum(1 for t in topics if not t.get("deleted"))
    ours = {TEAM_TOKEN, *relays}
    for entry in calls:
        if entry.get("token") not in ours:
            continue
        in_group = str((entry.get("params") or {}).get("chat_id")) == str(chat_id)
        if entry.get("error_code") == 429:
            result.too_many += 1
            result.group_too_many += in_group
            result.too_many_by_method[entry["method"]] += 1
        if in_group and entry.get("ok") and entry["method"].lower() in GROUP_METHODS:
            result.group_calls += 1
            result.by_method[entry["method"]] += 1
            result.relay_calls += entry["token"] in relays
    if not result.spec.limits and seen:
        first = min(sent_at.values())
        span = max(watcher.first_seen[t] for t in seen) - first
        result.throughput = len(seen) / span if span > 0 else None


# ---- the table ----------------------------------------------------------------------------


def _num(value: float | None, digits: int = 1, unit: str = "") -> str:
    if value is None:
        return "—"
    return f"{value:.{digits}f}{unit}"


def rows_of(result: Result) -> list[tuple[str, str]]:
    accepted = result.accepted or 1
    bound = result.bound
    p95 = result.percentile(0.95)
    rows = [
        ("client messages accepted", str(result.accepted)),
        ("visible to operators", str(result.visible)),
        ("lost (not visible by the deadline)", str(result.lost)),
        ("duplicated (in >1 group message)", str(result.duplicated)),
        ("misplaced (General or another topic)", str(result.misplaced)),
        ("topics created", str(result.topics)),
        ("429s received by eadesk (in the group)", f"{result.too_many} ({result.group_too_many})"),
        ("group API calls, ok", str(result.group_calls)),
        ("  of them by relay bots", str(result.relay_calls)),
        ("group API calls per client message", _num(result.group_calls / accepted, 2)),
        ("latency p50", _num(result.percentile(0.5), 1, " s")),
        ("latency p95", _num(p95, 1, " s")),
        ("latency max", _num(max(result.latencies, default=None), 1, " s")),
        ("all visible after (from load start)", _num(result.all_visible_after, 1, " s")),
        ("budget bound [1]", _num(bound, 1, " s")),
        ("p95 ÷ budget bound", _num(p95 / bound, 2) if p95 is not None and bound else "—"),
    ]
    if not result.spec.limits:
        rows += [("client messages per second [2]", _num(result.throughput, 1))]
    harness = _per_message(result, result.harness_cpu, 2, 1000)
    rows += [
        ("SQL statements per client message [3]", _per_message(result, result.sql_statements)),
        ("  transactions per client message", _per_message(result, result.transactions)),
        ("CPU ms per client message [3]", _per_message(result, result.cpu, 2, 1000)),
        ("  emulator and load, CPU ms per message", harness),
    ]
    return rows


def _per_message(result: Result, value: float | None, digits: int = 1, scale: int = 1) -> str:
    if value is None or not result.accepted:
        return "—"
    return _num(value * scale / result.accepted, digits)


ROW_NAMES = [name for name, _ in rows_of(Result(LoadSpec()))]


def render(results: Sequence[Result]) -> str:
    spec = results[0].spec
    columns = [rows_of(r) for r in results]
    names = [name for name, _ in columns[0]]
    head = ["", *(r.label for r in results)]
    body = [[name, *(col[i][1] for col in columns)] for i, name in enumerate(names)]
    widths = [max(len(row[i]) for row in [head, *body]) for i in range(len(head))]

    def line(cells: list[str]) -> str:
        first = cells[0].ljust(widths[0])
        rest = [cell.rjust(width) for cell, width in zip(cells[1:], widths[1:], strict=True)]
        return "  ".join([first, *rest]).rstrip()

    limits = (
        f"limits on: {results[0].per_group_per_minute} calls/min per group per bot"
        if spec.limits
        else "limits off"
    )
    out = [
        f"eadesk delivery: {spec.clients} new clients × {spec.messages} text messages over "
        f"{spec.duration:g} s (seed {spec.seed}), {limits}, deadline {spec.deadline:g} s",
        "",
        line(head),
        line(["-" * w for w in widths]),
        *(line(row) for row in body),
        "",
        "[1] the least time the group's budget allows for the calls that must be made: "
        "required = 2 × clients",
        "    (one createForumTopic + at least one message per client, all of its messages "
        "coalesced), k = bots",
        "    posting (1 + relays), L = calls/min per group per bot; the first minute's k·L "
        "calls may go at once:",
        "    bound = max(0, required − k·L) ÷ (k·L) × 60 s.  p95 ÷ bound near 1 or below: "
        "budget-bound;",
        "    well above 1: spending calls it need not (one call per message, no coalescing, "
        "unused relays).",
        "Latency: client's send → first seen in the group (polled every "
        f"{POLL_INTERVAL if spec.limits else FAST_POLL_INTERVAL:g} s), over visible messages only.",
        "Group API calls: ok calls into the group that Telegram counts against its budget "
        "(send*, copy*, forward*,",
        "    edit*, create/edit/close/reopenForumTopic).",
    ]
    for r in results:
        calls = ", ".join(f"{name} {n}" for name, n in r.by_method.most_common())
        out.append(f"Group API calls of {r.label}: {calls or 'none'}.")
        if r.too_many_by_method:
            refused = ", ".join(f"{name} {n}" for name, n in r.too_many_by_method.most_common())
            out.append(f"429s of {r.label}, by method: {refused}.")
    if not spec.limits:
        out += [
            "[2] visible messages ÷ (last first-seen − first send); bounded by the schedule "
            "(use --duration 0).",
        ]
    out += [
        "[3] eadesk's own process (the emulator and the load run in another), from right "
        "before the first client",
        "    message until all are visible, ÷ accepted: statements tortoise ran (an "
        "executemany is one), the",
        "    transactions around them (each adds its BEGIN and COMMIT), CPU time of all "
        "its threads; and the CPU",
        "    time of this process (emulator, load, watcher) over the same span.",
    ]
    if not spec.limits:
        out.append(
            "Limits off: the emulator's, and eadesk's own caps too (each bot's group budget "
            "per minute and per second,\n    and its limit over all chats)."
        )
    return "\n".join(out)


IDLE = "<method 'poll' of 'select.epoll' objects>"


def by_package(stats: pstats.Stats) -> Counter[str]:
    """Own CPU time (tottime) by library or eadesk package; the event loop's idle wait left
    out."""
    root = str(Path(__file__).resolve().parent.parent) + "/"
    spent: Counter[str] = Counter()
    entries: dict[tuple[str, int, str], tuple[Any, ...]] = stats.stats  # type: ignore[attr-defined]
    for (path, _, name), (_, _, own, *_) in entries.items():
        if name == IDLE:
            continue
        if "site-packages/" in path:
            key = path.split("site-packages/", 1)[1].split("/", 1)[0]
        elif path.startswith(root):
            key = "/".join(path[len(root) :].split("/")[:2])
        elif path == "~":
            key = name if name.startswith("<method") else "builtins"
        elif "/lib/python3" in path:  # the standard library: by its top-level module
            key = "stdlib " + path.split("/lib/python3", 1)[1].split("/")[1].removesuffix(".py")
        else:
            key = path
        spent[key] += own
    return spent


def render_profile(result: Result, top: int = 30) -> str:
    """The statements eadesk ran per client message by shape, and its top CPU consumers."""
    accepted = result.accepted or 1
    out = []
    if result.cpu is not None and result.cpu_loop is not None:
        out.append(
            f"[{result.label}] CPU ms per client message: {result.cpu / accepted * 1000:.2f}, "
            f"of them {result.cpu_loop / accepted * 1000:.2f} in the event loop's thread and "
            f"{(result.cpu - result.cpu_loop) / accepted * 1000:.2f} in the others (aiosqlite); "
            f"{(result.gc or 0) / accepted * 1000:.2f} in the garbage collector"
        )
    total = sum(result.statements.values())
    out.append(
        f"[{result.label}] SQL statements per client message, by shape "
        f"({total / accepted:.1f} in all; top {top}):"
    )
    for text, count in result.statements.most_common(top):
        out.append(f"  {count / accepted:6.2f}  {count:6d}  {text[:240]}")
    if result.profile and result.profile.exists():
        stream = io.StringIO()
        stats = pstats.Stats(str(result.profile), stream=stream)
        spent = by_package(stats)
        busy = sum(spent.values()) or 1.0
        out.append(
            f"[{result.label}] eadesk's event loop thread, cProfile of the steady state "
            f"({result.profile}), own time by package (profiled: {busy:.2f} s):"
        )
        out += [
            f"  {seconds / accepted * 1000:6.2f} ms/msg  {seconds / busy:6.1%}  {package}"
            for package, seconds in spent.most_common(top)
        ]
        stats.sort_stats("tottime").print_stats(top)
        stats.sort_stats("cumulative").print_stats(r"/(core|bot|connectors|tgapi)/", top)
        out.append(stream.getvalue())
    return "\n".join(out)


# ---- command line ---------------------------------------------------------------------------


def parse(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench delivery",
        description="Client messages into the team group through eadesk, against the emulator.",
    )
    parser.add_argument("--clients", type=int, default=40, help="new clients (default 40)")
    parser.add_argument("--messages", type=int, default=5, help="messages per client (5)")
    parser.add_argument(
        "--duration", type=float, default=60.0, help="seconds the messages spread over (60)"
    )
    parser.add_argument(
        "--deadline",
        type=float,
        default=900.0,
        help="seconds from the start of the load to wait for visibility (900)",
    )
    parser.add_argument("--seed", type=int, default=1, help="seed of the schedule (1)")
    parser.add_argument(
        "--no-limits",
        action="store_true",
        help="Telegram's limits off, and eadesk's own caps; adds throughput",
    )
    parser.add_argument(
        "--database-url",
        metavar="URL",
        help="a PostgreSQL server (postgres://USER:PASSWORD@HOST:PORT/DB) to create a fresh "
        "database on for each run (default: SQLite in a temp dir)",
    )
    parser.add_argument(
        "--profile",
        metavar="DIR",
        type=Path,
        help="also list eadesk's SQL statements by shape and its top CPU consumers (cProfile "
        "of its main thread, saved in DIR; the profiler inflates the CPU figure)",
    )
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        "--relay-bots",
        type=int,
        metavar="N",
        help="one configuration: the team bot plus N relay bots (RELAY_BOT_TOKENS)",
    )
    group.add_argument(
        "--compare-relays",
        type=int,
        metavar="N",
        default=2,
        help="(default) two columns: the team bot alone, and with N relay bots (2)",
    )
    args = parser.parse_args(list(argv))
    for name in ("clients", "messages"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1")
    if args.duration < 0 or args.deadline <= 0:
        parser.error("--duration must be ≥ 0 and --deadline > 0")
    return args


def configurations(args: argparse.Namespace) -> list[LoadSpec]:
    base = LoadSpec(
        clients=args.clients,
        messages=args.messages,
        duration=args.duration,
        deadline=args.deadline,
        seed=args.seed,
        limits=not args.no_limits,
    )
    relays = [args.relay_bots] if args.relay_bots is not None else [0, args.compare_relays]
    return [
        LoadSpec(**{**base.__dict__, "relay_bots": n})
        for n in dict.fromkeys(max(0, r) for r in relays)
    ]


async def run_all(
    specs: Sequence[LoadSpec],
    quiet: bool = False,
    database_url: str | None = None,
    profile: Path | None = None,
) -> list[Result]:
    results = []
    for number, spec in enumerate(specs):
        where = profile / f"eadesk-{number}.prof" if profile else None
        results.append(
            await run_delivery(spec, quiet=quiet, database_url=database_url, profile=where)
        )
    return results


def main(argv: Sequence[str]) -> int:
    args = parse(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 4096 <= hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (4096, hard))
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
    results = asyncio.run(
        run_all(configurations(args), database_url=args.database_url, profile=args.profile)
    )
    print(render(results))
    if args.profile:
        for result in results:
            print("\n" + render_profile(result))
    return 0 if all(r.lost == 0 and r.duplicated == 0 for r in results) else 1
