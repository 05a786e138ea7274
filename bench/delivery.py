"""`python -m bench delivery`: client messages into the team group under Telegram's limits.

Everything runs in this process on 127.0.0.1: the Bot API emulator (limits on by default:
20 calls per minute per group per bot, …), eadesk itself (`bot.app.App`, SQLite in a temp
dir) and the load — new clients writing text messages to the team bot on a seeded random
schedule, through the emulator's control API. A watcher polls the group every ~200 ms and
notes when each client message (a unique token in its text) first shows up in a topic.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import math
import random
import re
import resource
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

TEAM_TOKEN = "700001:bench-team-bot"
TEAM_USERNAME = "bench_desk_bot"
RELAY_BASE_ID = 710001
ADMIN_RIGHTS = {"can_manage_topics": True, "can_delete_messages": True, "can_pin_messages": True}
UNLIMITED_PER_MINUTE = 1_000_000
# eadesk long-polls with this timeout: the emulator wakes a waiting getUpdates at once, and a
# short one lets the emulator shut down without waiting for a 20 s poll to end.
POLL_TIMEOUT = 2
POLL_INTERVAL = 0.2
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
    cpu: float = 0.0
    per_group_per_minute: int = 20
    throughput: float | None = None
    by_method: Counter[str] = field(default_factory=Counter)

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


async def run_delivery(spec: LoadSpec, *, quiet: bool = True) -> Result:
    """One configuration: a fresh emulator, a fresh eadesk, the load, the figures."""
    from bot.app import App
    from bot.config import Settings
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
            settings = Settings(  # type: ignore[call-arg]
                _env_file=None,
                BOT_TOKEN=TEAM_TOKEN,
                TEAM_CHAT_ID=chat_id,
                TELEGRAM_API_URL=emu.base_url,
                DATABASE_URL=f"sqlite://{Path(tmp) / 'eadesk.sqlite3'}",
                LANGUAGE="en",
                HTTP_PORT=0,
                RELAY_BOT_TOKENS=relays,
                # Limits off: lift eadesk's own group budget too, to measure the pipeline
                # (its per-second cap of 3 calls, fixed in GroupBudget, still applies).
                GROUP_MESSAGES_PER_MINUTE=(
                    result.per_group_per_minute if spec.limits else UNLIMITED_PER_MINUTE
                ),
            )
            app = App(settings, poll_timeout=POLL_TIMEOUT)
            await app.start()
            say(f"[{result.label}] eadesk started: {len(schedule)} messages, {spec.duration:g} s")
            watcher = Watcher(control, chat_id)
            sent_at: dict[str, float] = {}
            cpu0, wall0 = time.process_time(), time.monotonic()
            try:
                await drive(control, spec, schedule, users, watcher, sent_at, result, wall0, say)
                result.cpu = time.process_time() - cpu0
                result.wall = time.monotonic() - wall0
                calls = await control.get("/_emu/calls")
                topics = await control.get(f"/_emu/chats/{chat_id}/topics")
            finally:
                await app.stop()
    tally(result, watcher, sent_at, calls, topics, chat_id, relays, wall0)
    return result


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
) -> None:
    """Send on schedule (one task per client keeps its messages in order) while watching."""

    async def client(number: int) -> None:
        for item in (p for p in schedule if p.client == number):
            await asyncio.sleep(max(0.0, start + item.at - time.monotonic()))
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
                done_since = done_since or now
                if now - done_since >= SETTLE_SECONDS:
                    break
            if now >= next_report:
                next_report += 30.0
                say(
                    f"  t={now - start:5.0f} s  sent {len(sent_at)}  visible "
                    f"{len(sent_at) - len(pending)}"
                )
            await asyncio.sleep(POLL_INTERVAL)
        await watcher.scan()
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
        per_1000 = result.cpu / accepted * 1000
        rows += [
            ("client messages per second [2]", _num(result.throughput, 1)),
            ("CPU seconds per 1000 messages [3]", _num(per_1000, 2)),
        ]
    return rows


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
        "Latency: client's send → first seen in the group (polled every 0.2 s), over visible "
        "messages only.",
        "Group API calls: ok calls into the group that Telegram counts against its budget "
        "(send*, copy*, forward*,",
        "    edit*, create/edit/close/reopenForumTopic). Emulator, eadesk and the load share "
        "one process.",
    ]
    for r in results:
        calls = ", ".join(f"{name} {n}" for name, n in r.by_method.most_common())
        out.append(f"Group API calls of {r.label}: {calls or 'none'}.")
    if not spec.limits:
        out += [
            "[2] visible messages ÷ (last first-seen − first send); bounded by the schedule "
            "(use --duration 0).",
            "[3] process CPU time (eadesk + emulator + load) ÷ accepted × 1000.",
        ]
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
        "--no-limits", action="store_true", help="Telegram's limits off; adds throughput and CPU"
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


async def run_all(specs: Sequence[LoadSpec], quiet: bool = False) -> list[Result]:
    return [await run_delivery(spec, quiet=quiet) for spec in specs]


def main(argv: Sequence[str]) -> int:
    args = parse(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 4096 <= hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (4096, hard))
    results = asyncio.run(run_all(configurations(args)))
    print(render(results))
    return 0 if all(r.lost == 0 and r.duplicated == 0 for r in results) else 1
