"""Reporting rows: written when each event happens, with its value in plain and business
seconds; never for a comment, an automatic reply or an ordinary client message."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from core import reporting
from core.business_hours import parse_business_hours
from core.clock import FrozenClock
from core.models import Channel, Operator, ReportEvent, ReportKind
from core.reporting import build_report, days_period, episode_rows, parse_period
from core.service import Core
from tests.core.helpers import write
from tests.core.test_statements import counted

pytestmark = pytest.mark.usefixtures("db")

MIN = timedelta(minutes=1)
UTC_ZONE = ZoneInfo("UTC")


async def rows() -> list[tuple[str, int | None, int | None, int | None]]:
    """(kind, value, business value, operator id) of every row, in order."""
    return [
        (r.kind.value, r.value, r.business_value, r.operator_id)  # type: ignore[attr-defined]
        for r in await ReportEvent.all().order_by("id")
    ]


async def test_an_episode_and_its_responses_give_one_row_each(
    core: Core, clock: FrozenClock, telegram: Channel, operator: Operator
) -> None:
    dialog = (await write(core, telegram)).dialog
    clock.advance(5 * MIN)
    await write(core, telegram, text="anyone?")  # still the same wait: no row
    await core.conversation.comment(dialog.id, operator, "// looking")  # a comment: no row
    await core.conversation.note(dialog.id, operator, "mine")  # a note: no row
    clock.advance(5 * MIN)
    await core.conversation.reply(dialog.id, operator, "Hello!")
    await core.conversation.reply(dialog.id, operator, "How can I help?")  # nobody waits
    clock.advance(MIN)
    await write(core, telegram, text="my order")
    clock.advance(2 * MIN)
    await core.conversation.reply(dialog.id, operator, "On its way")
    clock.advance(30 * MIN)
    await core.dialogs.close(dialog.id, operator)
    op = operator.id
    assert await rows() == [
        ("opened", None, None, None),
        ("first_response", 600, 600, op),
        ("reply_time", 600, 600, op),
        ("reply_time", 120, 120, op),
        ("resolved", 2580, 2580, op),
    ]


async def test_continued_reopened_and_snoozed(
    core: Core, clock: FrozenClock, telegram: Channel, operator: Operator
) -> None:
    dialog = (await write(core, telegram)).dialog
    await core.dialogs.close(dialog.id, operator)
    clock.advance(timedelta(hours=1))
    await write(core, telegram, text="one more thing")  # within the window
    await core.dialogs.snooze(dialog.id, clock.now() + timedelta(hours=3), operator)
    await core.dialogs.close(dialog.id, None)  # by the system
    clock.advance(timedelta(hours=49))
    await write(core, telegram, text="hello again")  # after the window: a new episode
    clock.advance(MIN)
    await core.conversation.reply(dialog.id, operator, "Hi")
    kinds = [(kind, value, who) for kind, value, _, who in await rows()]
    assert kinds == [
        ("opened", None, None),
        ("resolved", 0, operator.id),
        ("continued", 3600, None),
        ("snoozed", 3 * 3600, operator.id),
        ("resolved", 3600, None),
        ("reopened", None, None),
        ("first_response", 60, operator.id),
        ("reply_time", 60, operator.id),
    ]


async def test_business_seconds_follow_business_hours(
    core: Core, clock: FrozenClock, telegram: Channel, operator: Operator
) -> None:
    core.ctx.business_hours = parse_business_hours("mon-fri 09:00-18:00", "UTC")
    clock.set(datetime(2026, 11, 6, 17, 0, tzinfo=UTC))  # Friday 17:00
    dialog = (await write(core, telegram)).dialog
    clock.set(datetime(2026, 11, 9, 9, 30, tzinfo=UTC))  # Monday 09:30
    await core.conversation.reply(dialog.id, operator, "Sorry for the wait")
    first = await ReportEvent.get(kind=ReportKind.FIRST_RESPONSE)
    assert first.value == (2 * 86400 + 16 * 3600 + 30 * 60)
    assert first.business_value == 3600 + 1800


async def test_an_automatic_reply_is_no_response_and_a_withdrawn_one_takes_its_rows(
    core: Core, clock: FrozenClock, telegram: Channel, operator: Operator
) -> None:
    dialog = (await write(core, telegram)).dialog
    clock.advance(MIN)
    await core.conversation.reply(dialog.id, operator, "We are closed now", automatic=True)
    assert [k for k, *_ in await rows()] == ["opened"]
    clock.advance(MIN)
    reply = await core.conversation.reply(dialog.id, operator, "Hello")
    assert [k for k, *_ in await rows()] == ["opened", "first_response", "reply_time"]
    await core.conversation.withdraw([reply])
    assert [k for k, *_ in await rows()] == ["opened"]
    clock.advance(MIN)
    await core.conversation.reply(dialog.id, operator, "Hello, really")
    assert [(k, v) for k, v, *_ in await rows()] == [
        ("opened", None),
        ("first_response", 180),
        ("reply_time", 180),
    ]


async def test_an_ordinary_client_message_writes_no_row(
    core: Core, clock: FrozenClock, telegram: Channel
) -> None:
    await write(core, telegram)
    async with counted() as shapes:
        await write(core, telegram, text="me again")
    assert not [text for text in shapes if '"reportevent"' in text]
    assert await ReportEvent.all().count() == 1


async def test_the_report_counts_and_compares_with_the_period_before(
    core: Core, clock: FrozenClock, telegram: Channel, email: Channel, operator: Operator
) -> None:
    clock.set(datetime(2026, 11, 9, 10, 0, tzinfo=UTC))  # yesterday's: one dialog
    await write(core, telegram, chat="y")
    clock.set(datetime(2026, 11, 10, 10, 0, tzinfo=UTC))
    for n, wait in enumerate((1, 2, 3, 10), 1):
        result = await write(core, telegram if n < 4 else email, chat=f"c{n}")
        clock.advance(wait * MIN)
        await core.conversation.reply(result.dialog.id, operator, "ok")
        await core.dialogs.close(result.dialog.id, operator)
    await core.dialogs.tag(result.dialog.id, ["vip"], operator)
    today = parse_period(["today"], clock.now(), UTC_ZONE)
    report = await build_report(today, UTC_ZONE)
    assert (report.totals.new, report.before.new, report.totals.closed) == (4, 1, 4)
    assert report.totals.first_response.median() == 150  # 60 120 | 180 600
    assert report.totals.first_response.p90() == 600
    assert report.by_channel[email.id].first_response.plain == [600]
    assert report.by_tag["vip"].closed == 1
    assert report.by_operator[operator.id].closed == 4
    assert report.per_day == [(today.first_day, 4)]
    assert report.load[1][10] == 4  # Tuesday 10:00
    own = await build_report(today, UTC_ZONE, operator.id)
    assert own.totals.new == 0 and own.totals.closed == 4
    csv = await episode_rows(today, UTC_ZONE)
    assert [row[7] for row in csv] == ["60", "120", "180", "600"]
    assert csv[3][13] == "vip" and csv[3][11] == "Olga"


def test_periods() -> None:
    now = datetime(2026, 11, 10, 21, 30, tzinfo=UTC)  # 00:30 on the 11th in Moscow
    moscow = ZoneInfo("Europe/Moscow")
    today = parse_period([], now, moscow)
    assert today.first_day == today.last_day == datetime(2026, 11, 11).date()
    assert today.start == datetime(2026, 11, 10, 21, 0, tzinfo=UTC)
    week = parse_period(["week"], now, moscow)
    assert (week.days, week.previous(moscow).days) == (7, 7)
    assert week.previous(moscow).last_day == datetime(2026, 11, 4).date()
    given = parse_period(["2026-11-01", "2026-11-30"], now, moscow)
    assert given == days_period(datetime(2026, 11, 1).date(), datetime(2026, 11, 30).date(), moscow)
    for bad in (["yesterdays"], ["2026-11-30", "2026-11-01"], ["a", "b", "c"]):
        with pytest.raises(ValueError):
            parse_period(bad, now, moscow)


async def test_past_the_sample_size_counts_stay_exact_and_times_are_sampled(
    core: Core,
    clock: FrozenClock,
    telegram: Channel,
    operator: Operator,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(reporting, "SAMPLE", 4)
    clock.set(datetime(2026, 11, 10, 10, 0, tzinfo=UTC))
    for n in range(8):
        result = await write(core, telegram, chat=f"c{n}")
        clock.advance(MIN)
        await core.conversation.reply(result.dialog.id, operator, "ok")
        await core.dialogs.close(result.dialog.id, operator)
    report = await build_report(parse_period([], clock.now(), UTC_ZONE), UTC_ZONE)
    assert (report.totals.new, report.totals.closed) == (8, 8)
    assert report.by_operator[operator.id].first_responses == 8
    # 24 timed rows (first responses, reply times, closes): every 6th is read, about 4.
    sampled = report.totals.first_response.count + report.totals.resolution.count
    assert 0 < sampled + report.totals.reply_time.count <= 6
