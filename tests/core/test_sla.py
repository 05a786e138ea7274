"""core.sla: targets in business hours, warnings and breaches told once per wait (also
after a restart), the target kept with each reply's reporting row for /stats."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from core.business_hours import parse_business_hours
from core.clock import FrozenClock
from core.context import CoreContext
from core.models import Channel, Dialog, Operator, ReportEvent, ReportKind, SlaMark
from core.reporting import days_period, sla_shares
from core.service import Core
from core.sla import BREACH, WARNING, SlaAlert
from tests.core.helpers import write

pytestmark = pytest.mark.usefixtures("db")


def alerts_of(core: Core) -> list[SlaAlert]:
    told: list[SlaAlert] = []

    async def keep(event: SlaAlert) -> None:
        told.append(event)

    core.bus.on_change(SlaAlert, keep)
    return told


async def test_first_response_warning_then_breach_once_each(
    core: Core, clock: FrozenClock, telegram: Channel, operator: Operator
) -> None:
    core.sla.configure(timedelta(minutes=15), timedelta(hours=1))
    told = alerts_of(core)
    result = await write(core, telegram)
    await Dialog.filter(id=result.dialog.id).update(assignee_id=operator.id)
    clock.advance(timedelta(minutes=11))
    assert await core.sla.sweep() == 0 and told == []
    clock.advance(timedelta(minutes=1))  # 12 of 15 minutes: 80%
    assert await core.sla.sweep() == 1
    assert await core.sla.sweep() == 0
    assert [(a.target, a.stage, a.limit, a.assignee_id) for a in told] == [
        ("first", WARNING, 900, operator.id)
    ]
    assert await core.sla.states([await Dialog.get(id=result.dialog.id)]) == {
        result.dialog.id: WARNING
    }
    clock.advance(timedelta(minutes=3))
    assert await core.sla.sweep() == 1
    clock.advance(timedelta(hours=2))
    assert await core.sla.sweep() == 0
    # A restart: a new core over the same database tells nothing again.
    again = Core(CoreContext(clock=clock))
    again.sla.configure(timedelta(minutes=15), timedelta(hours=1))
    told_again = alerts_of(again)
    assert await again.sla.sweep() == 0 and told_again == []
    assert [(a.target, a.stage) for a in told] == [("first", WARNING), ("first", BREACH)]
    assert await SlaMark.filter(dialog_id=result.dialog.id).count() == 2
    # The late reply's row keeps the target: /stats counts it missed.
    await core.conversation.reply(result.dialog.id, operator, "Sorry for the wait")
    row = await ReportEvent.get(kind=ReportKind.FIRST_RESPONSE)
    assert row.target == 900 and row.business_value is not None and row.business_value > 900
    reply_row = await ReportEvent.get(kind=ReportKind.REPLY_TIME)
    assert reply_row.target is None  # the first reply answers to the first-response target


async def test_next_response_counts_business_hours_only(
    db: str, telegram: Channel, operator: Operator
) -> None:
    # Friday 17:50 UTC, hours mon-fri 09:00-18:00: the weekend does not count.
    clock = FrozenClock(datetime(2026, 11, 27, 17, 0, tzinfo=UTC))
    hours = parse_business_hours("mon-fri 09:00-18:00", "UTC")
    core = Core(CoreContext(clock=clock, business_hours=hours))
    core.sla.configure(None, timedelta(minutes=30))
    told = alerts_of(core)
    result = await write(core, telegram)
    await core.conversation.reply(result.dialog.id, operator, "Hi")  # no first-response target
    clock.advance(timedelta(minutes=50))  # Friday 17:50
    await write(core, telegram, text="and another thing")
    clock.advance(timedelta(hours=60))  # Monday 05:50: 10 business minutes so far
    assert await core.sla.sweep() == 0
    clock.advance(timedelta(hours=3, minutes=25))  # Monday 09:15: 25 minutes, past 80%
    assert await core.sla.sweep() == 1
    clock.advance(timedelta(minutes=4))  # 29 minutes: still within
    assert await core.sla.sweep() == 0
    await core.conversation.reply(result.dialog.id, operator, "Here it is")
    clock.advance(timedelta(hours=5))
    assert await core.sla.sweep() == 0  # answered: nothing waits
    assert [(a.target, a.stage) for a in told] == [("next", WARNING)]
    period = days_period(datetime(2026, 11, 27).date(), datetime(2026, 11, 30).date(), UTC)
    assert await sla_shares(period) == {"reply_time": (1, 1)}


async def test_an_override_and_a_new_wait_each_told(
    core: Core, clock: FrozenClock, telegram: Channel, operator: Operator
) -> None:
    async def override(dialog_id: int) -> tuple[timedelta | None, timedelta | None]:
        return timedelta(hours=1), timedelta(minutes=10)

    core.sla.configure(timedelta(minutes=15), timedelta(hours=2), override)
    told = alerts_of(core)
    result = await write(core, telegram)
    clock.advance(timedelta(minutes=50))
    assert await core.sla.sweep() == 1  # 50 of the overriding hour: a warning, no breach
    await core.conversation.reply(result.dialog.id, operator, "Hi")
    for _ in range(2):  # two waits for the next response (10m here): each told
        await write(core, telegram, text="?")
        clock.advance(timedelta(minutes=11))
        assert await core.sla.sweep() == 1
        await core.conversation.reply(result.dialog.id, operator, "Yes")
    assert [(a.target, a.stage, a.assignee_id) for a in told] == [
        ("first", WARNING, None),
        ("next", BREACH, None),
        ("next", BREACH, None),
    ]
    period = days_period(clock.now().date(), clock.now().date(), UTC)
    assert await sla_shares(period) == {"first_response": (1, 1), "reply_time": (0, 2)}


async def test_a_withdrawn_first_reply_leaves_its_target_to_the_next_reply(
    core: Core, clock: FrozenClock, telegram: Channel, operator: Operator
) -> None:
    core.sla.configure(timedelta(minutes=15), None)
    result = await write(core, telegram)
    clock.advance(timedelta(minutes=5))
    first = await core.conversation.reply(result.dialog.id, operator, "Hi")
    clock.advance(timedelta(minutes=20))
    await core.conversation.reply(result.dialog.id, operator, "Still there?")
    await core.conversation.withdraw([first])  # it became a comment before it went out
    row = await ReportEvent.get(kind=ReportKind.FIRST_RESPONSE)
    assert row.value == 25 * 60 and row.target == 900
    period = days_period(clock.now().date(), clock.now().date(), UTC)
    assert await sla_shares(period) == {"first_response": (0, 1)}
