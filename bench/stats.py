"""`python -m bench stats`: how long `/stats month` takes to compute over 100,000 episodes.

A temp SQLite file brought up by the real migrations gets EPISODES episodes' reporting rows
in the last 30 days (each: its start, a first response, a reply time, a close; a tenth of
them re-openings, some tagged) and as many in the 30 days before (the comparison reads
those too). Then the core function behind `/stats month` (core.reporting.build_report: the
team's numbers, per operator, channel and tag, per day, the weekday × hour load, and the
period before) runs RUNS times; the median is printed, with the text and the charts' own
times for scale (those are the bot's, not the core's).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

TZ = ZoneInfo("Europe/Moscow")
NOW = datetime(2026, 11, 30, 15, 0, tzinfo=UTC)
CHANNELS = 3
OPERATORS = 8
TAGS = ("billing", "vip", "bug", "delivery")
BATCH = 5000


def _text(moment: datetime) -> str:
    # As tortoise keeps times in SQLite (compared as text).
    return str(moment.astimezone(UTC))


async def fill(episodes: int, days_back: int, seed: int) -> None:
    """`episodes` episodes (with their rows) from `days_back` days ago to NOW."""
    from tortoise import Tortoise

    from core.business_hours import parse_business_hours
    from core.models import Channel, ChannelKind, Client, Operator, Tag

    rng = random.Random(seed)
    hours = parse_business_hours("mon-fri 09:00-18:00", TZ)
    conn = Tortoise.get_connection("default")
    start = NOW - timedelta(days=days_back)
    if not await Channel.exists():
        for n in range(CHANNELS):
            await Channel.create(
                key=f"bench:{n}", kind=ChannelKind.TELEGRAM, name=f"channel {n}", created_at=NOW
            )
        for n in range(OPERATORS):
            await Operator.create(user_id=1000 + n, name=f"Operator {n}", created_at=NOW)
        for name in TAGS:
            await Tag.create(name=name)
        await Client.create(name="bench", created_at=NOW)
    channel_ids = [c.id for c in await Channel.all()]
    operator_ids = [o.id for o in await Operator.all()]
    tag_ids = [t.id for t in await Tag.all()]
    client_id = (await Client.first()).id  # type: ignore[union-attr]
    _, rows = await conn.execute_query('SELECT COALESCE(MAX("id"), 0) FROM "dialog"')
    dialog_id = int(rows[0][0])
    _, rows = await conn.execute_query('SELECT COALESCE(MAX("id"), 0) FROM "episode"')
    episode_id = int(rows[0][0])
    dialogs: list[list[Any]] = []
    tags: list[list[Any]] = []
    episode_rows: list[list[Any]] = []
    events: list[list[Any]] = []

    async def flush() -> None:
        if dialogs:
            await conn.execute_many(
                'INSERT INTO "dialog" ("id", "client_id", "channel_id", "chat_key", "subject",'
                ' "status", "created_at", "last_message_at", "unreachable")'
                " VALUES (?, ?, ?, ?, '', 'closed', ?, ?, 0)",
                dialogs,
            )
        if tags:
            await conn.execute_many(
                'INSERT INTO "dialog_tag" ("dialog_id", "tag_id") VALUES (?, ?)', tags
            )
        if episode_rows:
            await conn.execute_many(
                'INSERT INTO "episode" ("id", "dialog_id", "number", "started_at", "closed_at",'
                ' "first_response_at") VALUES (?, ?, ?, ?, ?, ?)',
                episode_rows,
            )
        if events:
            await conn.execute_many(
                'INSERT INTO "reportevent" ("kind", "at", "dialog_id", "episode_id",'
                ' "channel_id", "operator_id", "value", "business_value")'
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                events,
            )
        for batch in (dialogs, tags, episode_rows, events):
            batch.clear()

    def row(kind: str, at: datetime, since: datetime | None, d: int, e: int, ch: int,
            op: int | None) -> None:  # fmt: skip
        value = business = None
        if since is not None:
            value = int((at - since).total_seconds())
            business = hours.seconds(since, at)
        events.append([kind, _text(at), d, e, ch, op, value, business])

    span = days_back * 86400
    for n in range(episodes):
        began = start + timedelta(seconds=rng.randrange(span))
        reopening = rng.random() < 0.1 and dialog_id > 0
        channel = rng.choice(channel_ids)
        if not reopening:
            dialog_id += 1
            dialogs.append([dialog_id, client_id, channel, f"chat-{dialog_id}",
                            _text(began), _text(began)])  # fmt: skip
            if rng.random() < 0.3:
                tags.append([dialog_id, rng.choice(tag_ids)])
        episode_id += 1
        operator = rng.choice(operator_ids)
        answered = began + timedelta(seconds=rng.randint(30, 4 * 3600))
        closed = answered + timedelta(seconds=rng.randint(60, 2 * 86400))
        episode_rows.append([episode_id, dialog_id, n + 1, _text(began), _text(closed),
                             _text(answered)])  # fmt: skip
        row("reopened" if reopening else "opened", began, None, dialog_id, episode_id,
            channel, None)  # fmt: skip
        row("first_response", answered, began, dialog_id, episode_id, channel, operator)
        row("reply_time", answered, began, dialog_id, episode_id, channel, operator)
        row("resolved", closed, began, dialog_id, episode_id, channel, operator)
        if len(events) >= BATCH:
            await flush()
    await flush()


async def run(episodes: int, runs: int, seed: int) -> int:
    from core.db import close_database, open_database
    from core.reporting import build_report, parse_period

    with tempfile.TemporaryDirectory(prefix="eadesk-bench-stats-") as folder:
        url = f"sqlite://{Path(folder) / 'stats.sqlite3'}"
        await open_database(url)
        try:
            began = time.perf_counter()
            # Over 60 days: about as many in the month as in the 30 days before it.
            await fill(2 * episodes, 60, seed)
            print(
                f"filled {2 * episodes:,} episodes over 60 days (about {episodes:,} in the"
                f" month) in {time.perf_counter() - began:.1f} s"
            )
            month = parse_period(["month"], NOW, TZ)
            times = []
            report = None
            for _ in range(runs):
                began = time.perf_counter()
                report = await build_report(month, TZ)
                times.append(time.perf_counter() - began)
            assert report is not None
            print(
                "/stats month (core.reporting.build_report):"
                f" median {statistics.median(times):.3f} s"
                f" over {runs} runs (min {min(times):.3f}, max {max(times):.3f});"
                f" {report.totals.new:,} new episodes, {report.totals.closed:,} closed"
            )
            await _bot_side(report)
        finally:
            await close_database()
    return 0


async def _bot_side(report: object) -> None:
    """For scale: the text and the charts of the same report (the bot's work)."""
    from bot.team.stats import names, report_text
    from bot.team.stats_charts import charts

    began = time.perf_counter()
    operators, channels = await names(report)  # type: ignore[arg-type]
    report_text(report, operators, channels, "en")  # type: ignore[arg-type]
    text = time.perf_counter() - began
    began = time.perf_counter()
    drawn = charts(report, operators, "en")  # type: ignore[arg-type]
    print(
        f"  (bot side, once: text {text:.3f} s; {len(drawn)} charts "
        f"{time.perf_counter() - began:.3f} s)"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench stats", description=__doc__)
    parser.add_argument("--episodes", type=int, default=100_000,
                        help="episodes in the month (as many again before it)")  # fmt: skip
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=16)
    args = parser.parse_args(list(argv) if argv is not None else None)
    return asyncio.run(run(args.episodes, args.runs, args.seed))


if __name__ == "__main__":
    sys.exit(main())
