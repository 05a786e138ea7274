"""Reporting rows and the reports read from them (/stats, later SLA and digests).

Each row is written when its event happens, in the transaction of the change that causes it
(ingest, an operator's reply, a close, a snooze), with its value in seconds and in business
seconds (core.business_hours, `CoreContext.business_hours`). Reports read only these rows,
with a few indexed queries that return plain tuples: no counter is kept anywhere to drift.

What counts:
- `opened` / `reopened`: an episode begins (a new dialog; a client — or an operator's
  /reopen — after the reopen window): the "new episodes" of a period are both.
- `continued`: a client wrote within the window after a close (the same episode goes on).
- `first_response`: the episode's first operator reply (not a comment, a note, anything
  automatic): from the episode's start.
- `reply_time`: every operator reply to a waiting client: from the oldest unanswered message.
- `resolved`: a close, from the episode's start; `operator` is who closed (None: the system).
- `snoozed`: a snooze, with how long it was set for.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tortoise import Tortoise

from core.context import CoreContext
from core.models import Dialog, Episode, Message, ReportEvent, ReportKind, Tag

# ---- writing ----------------------------------------------------------------------------------


async def record(
    ctx: CoreContext,
    kind: ReportKind,
    *,
    at: datetime,
    dialog: Dialog,
    episode: Episode | int | None,
    operator_id: int | None = None,
    since: datetime | None = None,
    message_id: int | None = None,
    value: int | None = None,
    target: int | None = None,
) -> ReportEvent:
    """One row, inside the caller's transaction. `since`: the value is `since` -> `at`
    (plain and in business hours); or a plain `value` with no business counterpart.
    `target`: a response's SLA target in force (core.sla sets it on a new reply's rows)."""
    at = at.astimezone(UTC)  # kept as UTC: SQLite compares times as text
    business = None
    if since is not None:
        value = max(0, int((at - since).total_seconds()))
        business = ctx.business_hours.seconds(since, at)
    episode_id = episode.id if isinstance(episode, Episode) else episode
    return await ReportEvent.create(
        kind=kind,
        at=at,
        dialog_id=dialog.id,
        episode_id=episode_id,
        channel_id=dialog.channel_id,  # type: ignore[attr-defined]
        operator_id=operator_id,
        message_id=message_id,
        value=value,
        business_value=business,
        target=target,
    )


async def record_reply(
    ctx: CoreContext,
    *,
    at: datetime,
    dialog: Dialog,
    episode: Episode | None,
    message: Message,
    waiting_since: datetime | None,
) -> None:
    """An operator's reply: the episode's first response (when it is the first) and the
    reply time of a waiting client. Costs nothing when neither applies (a second part)."""
    operator_id = message.author_id  # type: ignore[attr-defined]
    if episode is not None and episode.first_response_at is None:
        await record(
            ctx,
            ReportKind.FIRST_RESPONSE,
            at=at,
            dialog=dialog,
            episode=episode,
            operator_id=operator_id,
            since=episode.started_at,
            message_id=message.id,
        )
    if waiting_since is not None:
        if episode is not None and episode.started_at > waiting_since:
            # A wait left from before a close: within this episode it began with it.
            waiting_since = episode.started_at
        await record(
            ctx,
            ReportKind.REPLY_TIME,
            at=at,
            dialog=dialog,
            episode=episode,
            operator_id=operator_id,
            since=waiting_since,
            message_id=message.id,
        )


async def withdrawn(ctx: CoreContext, messages: Sequence[Message]) -> None:
    """Replies that became comments answered nothing: their rows go. An episode whose first
    response went gets one for its next reply that stayed, if any."""
    episode_ids = {m.episode_id for m in messages if m.episode_id}  # type: ignore[attr-defined]
    if not episode_ids:
        return
    rows = await ReportEvent.filter(
        episode_id__in=list(episode_ids), message_id__in=[m.id for m in messages]
    )
    # The first-response target in force stays with the episode's next reply.
    episodes = {r.episode_id: r.target for r in rows if r.kind is ReportKind.FIRST_RESPONSE}  # type: ignore[attr-defined]
    await ReportEvent.filter(id__in=[r.id for r in rows]).delete()
    for episode_id, target in episodes.items():
        if episode_id is None:
            continue
        episode = await Episode.get(id=episode_id)
        if episode.first_response_at is None:
            continue
        reply = (
            await Message.filter(episode_id=episode_id, kind="out", automatic=False)
            .order_by("created_at", "id")
            .first()
        )
        if reply is None:
            continue
        dialog = await Dialog.get(id=episode.dialog_id)  # type: ignore[attr-defined]
        await record(
            ctx,
            ReportKind.FIRST_RESPONSE,
            at=reply.created_at,
            dialog=dialog,
            episode=episode,
            operator_id=reply.author_id,  # type: ignore[attr-defined]
            since=episode.started_at,
            message_id=reply.id,
            target=target,
        )


# ---- periods ----------------------------------------------------------------------------------


class PeriodError(ValueError):
    """`args[0]`: what was wrong ("words", "dates", "order")."""


@dataclass(frozen=True)
class Period:
    """[start, end) in UTC, and the local days it covers."""

    start: datetime
    end: datetime
    first_day: date
    last_day: date

    @property
    def days(self) -> int:
        return (self.last_day - self.first_day).days + 1

    def previous(self, tz: ZoneInfo) -> Period:
        """The period of the same number of days just before."""
        last = self.first_day - timedelta(days=1)
        return days_period(last - timedelta(days=self.days - 1), last, tz)


def _midnight(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)


def days_period(first: date, last: date, tz: ZoneInfo) -> Period:
    return Period(_midnight(first, tz), _midnight(last + timedelta(days=1), tz), first, last)


PERIOD_WORDS = {
    "today": 1, "сегодня": 1, "day": 1, "день": 1,
    "week": 7, "неделя": 7, "неделю": 7,
    "month": 30, "месяц": 30,
}  # fmt: skip


def parse_date(text: str) -> date:
    for form in ("%Y-%m-%d", "%d.%m.%Y"):
        try:
            return datetime.strptime(text, form).date()
        except ValueError:
            continue
    raise PeriodError("dates")


def parse_period(words: Sequence[str], now: datetime, tz: ZoneInfo) -> Period:
    """`today`, `week` (the 7 days to today), `month` (the 30 days to today), or two dates
    `FROM TO` (2026-11-01 2026-11-30, or 01.11.2026), both days included. No words: today."""
    today = now.astimezone(tz).date()
    if not words:
        return days_period(today, today, tz)
    if len(words) == 1 and words[0].lower() in PERIOD_WORDS:
        days = PERIOD_WORDS[words[0].lower()]
        return days_period(today - timedelta(days=days - 1), today, tz)
    if len(words) == 2:
        first, last = parse_date(words[0]), parse_date(words[1])
        if last < first:
            raise PeriodError("order")
        return days_period(first, last, tz)
    if len(words) == 1:
        day = parse_date(words[0]) if any(c.isdigit() for c in words[0]) else None
        if day is not None:
            return days_period(day, day, tz)
    raise PeriodError("words")


# ---- reading ----------------------------------------------------------------------------------


@dataclass
class Times:
    """A distribution of durations in seconds: plain and business."""

    plain: list[int] = field(default_factory=list)
    business: list[int] = field(default_factory=list)

    def add(self, value: int | None, business: int | None) -> None:
        if value is not None:
            self.plain.append(value)
            self.business.append(value if business is None else business)

    @property
    def count(self) -> int:
        return len(self.plain)

    def _sorted(self, business: bool) -> list[int]:
        values = self.business if business else self.plain
        values.sort()
        return values

    def median(self, business: bool = False) -> float | None:
        values = self._sorted(business)
        return statistics.median(values) if values else None

    def p90(self, business: bool = False) -> float | None:
        """The 90th percentile, nearest rank: the value 90% of them do not exceed."""
        values = self._sorted(business)
        if not values:
            return None
        return values[max(0, math.ceil(0.9 * len(values)) - 1)]


@dataclass
class Figures:
    """The numbers of one scope (the team, an operator, a channel, a tag) in one period."""

    opened: int = 0
    reopened: int = 0
    continued: int = 0
    closed: int = 0
    # First responses counted (their times may be a sample: see build_report).
    first_responses: int = 0
    first_response: Times = field(default_factory=Times)
    reply_time: Times = field(default_factory=Times)
    resolution: Times = field(default_factory=Times)

    @property
    def new(self) -> int:
        return self.opened + self.reopened

    def count(self, kind: str, n: int = 1) -> None:
        if kind == ReportKind.OPENED:
            self.opened += n
        elif kind == ReportKind.REOPENED:
            self.reopened += n
        elif kind == ReportKind.CONTINUED:
            self.continued += n

    def times(self, kind: str) -> Times:
        if kind == ReportKind.FIRST_RESPONSE:
            return self.first_response
        if kind == ReportKind.REPLY_TIME:
            return self.reply_time
        return self.resolution


@dataclass
class Report:
    period: Period
    previous: Period
    # None: the team's; else only this operator's work.
    operator_id: int | None
    totals: Figures
    before: Figures
    by_operator: dict[int, Figures]
    by_channel: dict[int, Figures]
    by_tag: dict[str, Figures]
    # New episodes per local day of the period and of the previous one, in order.
    per_day: list[tuple[date, int]]
    per_day_before: list[tuple[date, int]]
    # New and continued episodes by local weekday (0 = Monday) and hour.
    load: list[list[int]]
    # SLA (core.sla): per response kind with a target, (met, counted) in the period.
    sla: dict[str, tuple[int, int]] = field(default_factory=dict)


# Beyond this many timed rows in a period, medians and percentiles read an even sample.
SAMPLE = 10_000
START_KINDS = (ReportKind.OPENED, ReportKind.REOPENED, ReportKind.CONTINUED)
# Kinds with a duration: first response, reply time, resolution (a close).
TIMED_KINDS = (ReportKind.FIRST_RESPONSE, ReportKind.REPLY_TIME, ReportKind.RESOLVED)


def _dialect() -> str:
    return str(Tortoise.get_connection("default").capabilities.dialect)


async def _query(sql: str, params: Iterable[Any]) -> list[Any]:
    """Plain rows of a raw query; `?` placeholders (numbered for PostgreSQL)."""
    conn = Tortoise.get_connection("default")
    values = list(params)
    if conn.capabilities.dialect == "sqlite":
        # Times are kept as text there: compare them in the form they are stored in.
        values = [str(v.astimezone(UTC)) if isinstance(v, datetime) else v for v in values]
    else:
        parts = sql.split("?")
        sql = parts[0] + "".join(f"${n}{part}" for n, part in enumerate(parts[1:], 1))
    _, rows = await conn.execute_query(sql, values)
    return list(rows)


def _where(
    kinds: Sequence[ReportKind], period: Period, operator_id: int | None, alias: str = ""
) -> tuple[str, list[Any]]:
    """The rows of `kinds` in the period: a range of the (kind, at, …) index, which holds
    every column the reports read (they never touch the table itself)."""
    a = f'"{alias}".' if alias else ""
    sql = f'{a}"kind" IN ({", ".join("?" for _ in kinds)}) AND {a}"at" >= ? AND {a}"at" < ?'
    params: list[Any] = [k.value for k in kinds] + [period.start, period.end]
    if operator_id is not None:
        sql += f' AND {a}"operator_id" = ?'
        params.append(operator_id)
    return sql, params


def _bucket(tz: ZoneInfo, period: Period) -> tuple[str, str]:
    """An SQL expression of a row's UTC hour as text (its minute in a zone whose offset is not
    whole hours), and the strptime form to read it back."""
    whole = all(
        (moment.astimezone(tz).utcoffset() or timedelta(0)).total_seconds() % 3600 == 0
        for moment in (period.start, period.end)
    )
    if _dialect() == "sqlite":
        return (
            f'substr("at", 1, {13 if whole else 16})',
            "%Y-%m-%d %H" if whole else "%Y-%m-%d %H:%M",
        )
    form = "YYYY-MM-DD HH24" if whole else "YYYY-MM-DD HH24:MI"
    return (
        f"to_char(\"at\" AT TIME ZONE 'UTC', '{form}')",
        "%Y-%m-%d %H" if whole else "%Y-%m-%d %H:%M",
    )


async def _starts(
    period: Period, tz: ZoneInfo, operator_id: int | None
) -> list[tuple[datetime, str, int, int]]:
    """Episode starts and continuations: (local moment of their hour, kind, channel, count)."""
    bucket, form = _bucket(tz, period)
    where, params = _where(START_KINDS, period, operator_id)
    sql = (
        f'SELECT {bucket}, "kind", "channel_id", COUNT(*) FROM "reportevent" WHERE {where}'
        " GROUP BY 1, 2, 3"
    )
    out = []
    for hour, kind, channel_id, count in await _query(sql, params):
        moment = datetime.strptime(str(hour), form).replace(tzinfo=UTC).astimezone(tz)
        out.append((moment, str(kind), int(channel_id), int(count)))
    return out


def _per_day(
    starts: list[tuple[datetime, str, int, int]], period: Period
) -> list[tuple[date, int]]:
    counts = dict.fromkeys((period.first_day + timedelta(days=n) for n in range(period.days)), 0)
    for moment, kind, _, count in starts:
        day = moment.date()
        if kind != ReportKind.CONTINUED and day in counts:
            counts[day] += count
    return list(counts.items())


async def _values(
    period: Period, operator_id: int | None, step: int, keys: bool = True
) -> list[Any]:
    """(kind, value, business value[, operator, channel]) of the timed rows; every `step`th
    row only (by id) when there are too many to read them all."""
    where, params = _where(TIMED_KINDS, period, operator_id)
    columns = '"kind", "value", "business_value"'
    if keys:
        columns += ', "operator_id", "channel_id"'
    if step > 1:
        where += ' AND "id" % ? = 0'
        params.append(step)
    return await _query(f'SELECT {columns} FROM "reportevent" WHERE {where}', params)


async def _count(kind: ReportKind, period: Period, operator_id: int | None) -> int:
    """How many rows of `kind` in the period (read from the index alone)."""
    where, params = _where((kind,), period, operator_id)
    [(count,)] = await _query(f'SELECT COUNT(*) FROM "reportevent" WHERE {where}', params)
    return int(count)


def _step(count: int) -> int:
    """Read every n-th timed row: all of them up to SAMPLE, else about SAMPLE of them."""
    return max(1, count // SAMPLE)


async def _before(
    period: Period, tz: ZoneInfo, operator_id: int | None
) -> tuple[Figures, list[tuple[date, int]]]:
    """The period before, for comparison: its counts, its team-wide times, its days."""
    figures = Figures()
    starts = await _starts(period, tz, operator_id)
    for _, kind, _, count in starts:
        figures.count(kind, count)
    counts = {kind: await _count(kind, period, operator_id) for kind in TIMED_KINDS}
    figures.closed = counts[ReportKind.RESOLVED]
    for kind, value, business in await _values(
        period, operator_id, _step(sum(counts.values())), keys=False
    ):
        figures.times(str(kind)).add(value, business)
    return figures, _per_day(starts, period)


async def build_report(period: Period, tz: ZoneInfo, operator_id: int | None = None) -> Report:
    """The numbers of `period` (and of the one before, for comparison). `operator_id`: only
    that operator's work (their replies, closes); else the team's.

    Counts are SQL aggregates over the (kind, at, …) index, exact. Medians and 90th
    percentiles are exact up to SAMPLE timed rows in the period; beyond, they are read from
    an even sample of about SAMPLE of them (every n-th row by id)."""
    previous = period.previous(tz)
    totals = Figures()
    by_operator: dict[int, Figures] = defaultdict(Figures)
    by_channel: dict[int, Figures] = defaultdict(Figures)
    by_tag: dict[str, Figures] = defaultdict(Figures)
    load = [[0] * 24 for _ in range(7)]
    starts = await _starts(period, tz, operator_id)
    for moment, kind, channel_id, count in starts:
        totals.count(kind, count)
        by_channel[channel_id].count(kind, count)
        load[moment.weekday()][moment.hour] += count
    # Exact counts: closes per operator and channel, first responses per operator, how many
    # reply times (each kind on its own: a range of the index each).
    where, params = _where((ReportKind.RESOLVED,), period, operator_id)
    sql = (
        'SELECT "operator_id", "channel_id", COUNT(*) FROM "reportevent"'
        f" WHERE {where} GROUP BY 1, 2"
    )
    timed = 0
    for who, channel_id, count in await _query(sql, params):
        timed += int(count)
        totals.closed += count
        by_channel[channel_id].closed += count
        if who is not None:
            by_operator[who].closed += count
    where, params = _where((ReportKind.FIRST_RESPONSE,), period, operator_id)
    sql = f'SELECT "operator_id", COUNT(*) FROM "reportevent" WHERE {where} GROUP BY 1'
    for who, count in await _query(sql, params):
        timed += int(count)
        if who is not None:
            by_operator[who].first_responses += count
    timed += await _count(ReportKind.REPLY_TIME, period, operator_id)
    step = _step(timed)
    for kind, value, business, who, channel_id in await _values(period, operator_id, step):
        totals.times(kind).add(value, business)
        by_channel[channel_id].times(kind).add(value, business)
        if who is not None:
            by_operator[who].times(kind).add(value, business)
    # Per tag (the dialogs' tags as they are now): counts, then the sampled times.
    tagged: dict[int, Figures] = defaultdict(Figures)
    where, params = _where((*START_KINDS, ReportKind.RESOLVED), period, operator_id, alias="r")
    joined = ' FROM "reportevent" "r" JOIN "dialog_tag" "dt" ON "dt"."dialog_id" = "r"."dialog_id"'
    sql = f'SELECT "dt"."tag_id", "r"."kind", COUNT(*){joined} WHERE {where} GROUP BY 1, 2'
    for tag_id, kind, count in await _query(sql, params):
        figures = tagged[int(tag_id)]
        figures.count(kind, count)
        if kind == ReportKind.RESOLVED:
            figures.closed += count
    where, params = _where(TIMED_KINDS, period, operator_id, alias="r")
    if step > 1:
        where += ' AND "r"."id" % ? = 0'
        params.append(step)
    sql = (
        f'SELECT "dt"."tag_id", "r"."kind", "r"."value", "r"."business_value"{joined} WHERE {where}'
    )
    for tag_id, kind, value, business in await _query(sql, params):
        tagged[int(tag_id)].times(kind).add(value, business)
    if tagged:
        names = dict(await Tag.filter(id__in=list(tagged)).values_list("id", "name"))
        by_tag = {str(names[tag_id]): f for tag_id, f in tagged.items() if tag_id in names}
    before, per_day_before = await _before(previous, tz, operator_id)
    return Report(
        period=period,
        previous=previous,
        operator_id=operator_id,
        totals=totals,
        before=before,
        by_operator=dict(by_operator),
        by_channel=dict(by_channel),
        by_tag=dict(by_tag),
        per_day=_per_day(starts, period),
        per_day_before=per_day_before,
        load=load,
        sla=await sla_shares(period, operator_id),
    )


async def sla_shares(period: Period, operator_id: int | None = None) -> dict[str, tuple[int, int]]:
    """Per kind (first_response, reply_time): how many response rows with a target in force
    (core.sla) met it (business value within the target), and how many had one."""
    kinds = (ReportKind.FIRST_RESPONSE, ReportKind.REPLY_TIME)
    where, params = _where(kinds, period, operator_id)
    sql = (
        'SELECT "kind", COUNT(*), SUM(CASE WHEN "business_value" <= "target" THEN 1 ELSE 0 END)'
        f' FROM "reportevent" WHERE {where} AND "target" IS NOT NULL GROUP BY 1'
    )
    rows = await _query(sql, params)
    return {str(kind): (int(met or 0), int(count)) for kind, count, met in rows}


# ---- one row per episode (CSV) ----------------------------------------------------------------

CSV_COLUMNS = (
    "episode_id",
    "dialog_id",
    "number",
    "channel",
    "client",
    "started_at",
    "closed_at",
    "first_response_s",
    "first_response_business_s",
    "resolution_s",
    "resolution_business_s",
    "closed_by",
    "assignee",
    "tags",
)


async def episode_rows(
    period: Period, tz: ZoneInfo, operator_id: int | None = None
) -> list[list[str]]:
    """One row per episode that began in the period (CSV_COLUMNS), times in `tz`; with
    `operator_id`, only the episodes that operator answered or closed."""
    episodes = (
        await Episode.filter(started_at__gte=period.start, started_at__lt=period.end)
        .order_by("started_at", "id")
        .prefetch_related("dialog__channel", "dialog__client", "dialog__assignee", "dialog__tags")
    )
    ids = [e.id for e in episodes]
    found = (
        await ReportEvent.filter(
            episode_id__in=ids, kind__in=[ReportKind.FIRST_RESPONSE, ReportKind.RESOLVED]
        )
        .order_by("id")
        .prefetch_related("operator")
    )
    first: dict[int, ReportEvent] = {}
    last_close: dict[int, ReportEvent] = {}
    touched: dict[int, set[int]] = defaultdict(set)
    for row in found:
        episode_id = row.episode_id  # type: ignore[attr-defined]
        if row.operator_id is not None:  # type: ignore[attr-defined]
            touched[episode_id].add(row.operator_id)  # type: ignore[attr-defined]
        if row.kind is ReportKind.FIRST_RESPONSE:
            first.setdefault(episode_id, row)
        else:
            last_close[episode_id] = row

    def when(moment: datetime | None) -> str:
        return moment.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S") if moment else ""

    def num(value: int | None) -> str:
        return "" if value is None else str(value)

    out = []
    for episode in episodes:
        if operator_id is not None and operator_id not in touched.get(episode.id, set()):
            continue
        dialog = episode.dialog
        fr, close = first.get(episode.id), last_close.get(episode.id)
        out.append(
            [
                str(episode.id),
                str(dialog.id),
                str(episode.number),
                dialog.channel.name,
                dialog.client.name,
                when(episode.started_at),
                when(episode.closed_at),
                num(fr.value if fr else None),
                num(fr.business_value if fr else None),
                num(close.value if close and episode.closed_at else None),
                num(close.business_value if close and episode.closed_at else None),
                close.operator.name if close and close.operator and episode.closed_at else "",
                dialog.assignee.name if dialog.assignee else "",
                " ".join(sorted(t.name for t in dialog.tags)),
            ]
        )
    return out


# ---- satisfaction ratings (core.csat) ---------------------------------------------------------


@dataclass
class RatingFigures:
    """Ratings 1..5 in a period: how many, their sum, how many were 4 or 5."""

    count: int = 0
    total: int = 0
    good: int = 0

    @property
    def average(self) -> float:
        return self.total / self.count if self.count else 0.0


async def ratings(
    period: Period, operator_id: int | None = None
) -> tuple[RatingFigures, dict[int, RatingFigures]]:
    """The period's ratings, the team's (or `operator_id`'s) and per operator: one aggregate
    over the (kind, at, …) index."""
    where, params = _where((ReportKind.CSAT,), period, operator_id)
    sql = (
        'SELECT "operator_id", COUNT(*), SUM("value"),'
        ' SUM(CASE WHEN "value" >= 4 THEN 1 ELSE 0 END)'
        f' FROM "reportevent" WHERE {where} GROUP BY 1'
    )
    totals = RatingFigures()
    by_operator: dict[int, RatingFigures] = {}
    for who, count, total, good in await _query(sql, params):
        figures = RatingFigures(int(count), int(total or 0), int(good or 0))
        totals.count += figures.count
        totals.total += figures.total
        totals.good += figures.good
        if who is not None:
            by_operator[int(who)] = figures
    return totals, by_operator
