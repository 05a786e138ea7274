"""Snoozes (§2): for a duration, until a moment, or forever; a client message wakes the
dialog at once; sweeps wake due dialogs exactly once, also after a restart."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.storage import EXTRA_APPS
from core.clock import FrozenClock
from core.context import CoreContext
from core.db import close_database, open_database
from core.durations import parse_duration
from core.events import EpisodeStarted, StatusChanged
from core.lifecycle import DialogStatus
from core.models import ActorKind, Channel, Dialog, Episode, Event, Operator
from core.service import Core
from tests.core.helpers import Recorder, events_of, write

pytestmark = pytest.mark.usefixtures("db")

SECOND = timedelta(seconds=1)


async def snoozed_dialog(
    core: Core, channel: Channel, operator: Operator, until: datetime | None
) -> Dialog:
    dialog = (await write(core, channel)).dialog
    await core.dialogs.snooze(dialog.id, until, operator, "waiting for the client")
    return dialog


async def status_of(dialog: Dialog) -> tuple[DialogStatus, datetime | None]:
    stored = await Dialog.get(id=dialog.id)
    return stored.status, stored.snoozed_until


async def wake_events(dialog: Dialog) -> list[Event]:
    return [e for e in await events_of(dialog) if e.name == "dialog.wake"]


async def test_snooze_for_a_duration_wakes_exactly_at_its_end(
    core: Core, clock: FrozenClock, telegram: Channel, operator: Operator, published: Recorder
) -> None:
    until = clock.now() + parse_duration("2h")
    dialog = await snoozed_dialog(core, telegram, operator, until)

    assert await status_of(dialog) == (DialogStatus.SNOOZED, until)
    event = (await events_of(dialog))[-1]
    assert (event.name, event.reason, event.at) == (
        "dialog.snooze",
        "waiting for the client",
        clock.now(),
    )
    assert event.actor_id == operator.id  # type: ignore[attr-defined]
    assert event.data["snoozed_until"] == until.isoformat()
    published.clear()

    clock.advance(timedelta(hours=2) - SECOND)
    assert await core.wake_due_snoozes() == 0
    assert (await status_of(dialog))[0] is DialogStatus.SNOOZED

    clock.advance(SECOND)
    assert await core.wake_due_snoozes() == 1
    assert await status_of(dialog) == (DialogStatus.OPEN, None)
    [wake] = await wake_events(dialog)
    assert wake.at == clock.now() and wake.actor_kind is ActorKind.SYSTEM
    assert wake.reason == "snooze ended"
    [change] = published.events
    assert isinstance(change, StatusChanged)
    assert (change.old, change.new, change.data["action"]) == ("snoozed", "open", "wake")
    # Waking is not a re-opening: the episode goes on.
    assert await Episode.filter(dialog_id=dialog.id).count() == 1

    clock.advance(timedelta(days=1))
    assert await core.wake_due_snoozes() == 0


async def test_snooze_until_a_named_moment_is_stored_in_utc(
    core: Core, clock: FrozenClock, telegram: Channel, operator: Operator
) -> None:
    # "Tomorrow 10:00" for a team in Moscow (UTC+3) is 07:00 UTC.
    moscow = ZoneInfo("Europe/Moscow")
    local_now = clock.now().astimezone(moscow)
    tomorrow_10 = datetime.combine(
        local_now.date() + timedelta(days=1), datetime.min.time(), moscow
    ).replace(hour=10)
    dialog = await snoozed_dialog(core, telegram, operator, tomorrow_10)

    status, stored = await status_of(dialog)
    assert status is DialogStatus.SNOOZED
    assert stored == datetime(2026, 1, 6, 7, 0, tzinfo=UTC)
    assert stored is not None and stored.utcoffset() == timedelta(0)

    clock.set(datetime(2026, 1, 6, 6, 59, 59, tzinfo=UTC))
    assert await core.wake_due_snoozes() == 0
    clock.set(datetime(2026, 1, 6, 7, 0, tzinfo=UTC))
    assert await core.wake_due_snoozes() == 1


async def test_snooze_forever_waits_for_the_client(
    core: Core, clock: FrozenClock, telegram: Channel, operator: Operator, published: Recorder
) -> None:
    dialog = await snoozed_dialog(core, telegram, operator, None)
    assert await status_of(dialog) == (DialogStatus.SNOOZED, None)

    clock.advance(timedelta(days=3650))
    assert await core.wake_due_snoozes() == 0
    assert not await core.dialogs.wake_if_due(dialog.id)
    assert (await status_of(dialog))[0] is DialogStatus.SNOOZED

    published.clear()
    result = await write(core, telegram, text="any news?")
    assert result.woke and not result.new_episode
    assert await status_of(dialog) == (DialogStatus.OPEN, None)
    assert [e.new for e in published.of(StatusChanged)] == ["open"]


async def test_client_message_during_a_snooze_wakes_it_at_once(
    core: Core, clock: FrozenClock, telegram: Channel, operator: Operator, published: Recorder
) -> None:
    until = clock.now() + timedelta(days=2)
    dialog = await snoozed_dialog(core, telegram, operator, until)
    clock.advance(timedelta(hours=3))
    published.clear()

    result = await write(core, telegram, text="I am back")

    assert result.woke and not result.reopened and not result.created
    assert not result.new_episode and published.of(EpisodeStarted) == []
    assert await status_of(dialog) == (DialogStatus.OPEN, None)
    event = (await events_of(dialog))[-1]
    assert event.name == "dialog.client_wrote" and event.actor_kind is ActorKind.CLIENT
    assert event.at == clock.now()
    [change] = published.of(StatusChanged)
    assert (change.old, change.new, change.data["action"]) == ("snoozed", "open", "client_wrote")
    # The snooze's old moment comes and goes: nothing happens, nobody is told twice.
    clock.set(until + SECOND)
    published.clear()
    assert await core.wake_due_snoozes() == 0
    assert await wake_events(dialog) == []
    assert published.events == []


async def test_wake_if_due_is_compare_and_set(
    core: Core, clock: FrozenClock, telegram: Channel, operator: Operator, published: Recorder
) -> None:
    dialog = await snoozed_dialog(core, telegram, operator, clock.now() + timedelta(hours=1))
    assert not await core.dialogs.wake_if_due(dialog.id)  # not due yet
    clock.advance(timedelta(hours=1))
    published.clear()

    assert await core.dialogs.wake_if_due(dialog.id)
    assert not await core.dialogs.wake_if_due(dialog.id)
    assert len(await wake_events(dialog)) == 1
    assert len(published.of(StatusChanged)) == 1


async def test_concurrent_sweeps_wake_once(
    core: Core, clock: FrozenClock, telegram: Channel, operator: Operator, published: Recorder
) -> None:
    dialog = await snoozed_dialog(core, telegram, operator, clock.now() + timedelta(hours=1))
    clock.advance(timedelta(hours=2))
    published.clear()
    woken = await asyncio.gather(*(core.dialogs.wake_if_due(dialog.id) for _ in range(4)))
    assert sorted(woken) == [False, False, False, True]
    assert len(await wake_events(dialog)) == 1
    assert len(published.of(StatusChanged)) == 1


async def test_resnooze_to_a_later_moment_is_not_woken_by_a_stale_sweep(
    core: Core, clock: FrozenClock, telegram: Channel, operator: Operator
) -> None:
    first = clock.now() + timedelta(hours=1)
    later = clock.now() + timedelta(hours=5)
    dialog = await snoozed_dialog(core, telegram, operator, first)
    await core.dialogs.snooze(dialog.id, later, operator, "moved")
    assert await status_of(dialog) == (DialogStatus.SNOOZED, later)

    clock.set(first)
    assert not await core.dialogs.wake_if_due(dialog.id)
    assert await core.wake_due_snoozes() == 0
    assert await status_of(dialog) == (DialogStatus.SNOOZED, later)

    clock.set(later)
    assert await core.dialogs.wake_if_due(dialog.id)


async def test_operator_reopens_or_closes_a_snoozed_dialog(
    core: Core, clock: FrozenClock, telegram: Channel, operator: Operator
) -> None:
    until = clock.now() + timedelta(hours=1)
    one = await snoozed_dialog(core, telegram, operator, until)
    two = await snoozed_dialog(core, telegram, operator, None)
    other = (await write(core, telegram, "chat-2")).dialog
    await core.dialogs.snooze(other.id, until, operator)

    await core.dialogs.reopen(one.id, operator)
    await core.dialogs.close(other.id, operator)

    assert await status_of(one) == (DialogStatus.OPEN, None)
    assert await status_of(other) == (DialogStatus.CLOSED, None)
    assert two.id == one.id  # same chat: the same dialog, re-snoozed forever then reopened
    assert await Episode.filter(dialog_id=one.id).count() == 1
    clock.set(until)
    assert await core.wake_due_snoozes() == 0


async def test_restart_with_an_expired_snooze_wakes_it_at_start(
    db: str, core: Core, clock: FrozenClock, telegram: Channel, operator: Operator
) -> None:
    due = clock.now() + timedelta(hours=1)
    dialog = await snoozed_dialog(core, telegram, operator, due)
    later = await snoozed_dialog(core, telegram, operator, None)
    assert later.id == dialog.id
    await core.dialogs.snooze(dialog.id, due, operator)
    waiting = (await write(core, telegram, "chat-2")).dialog
    await core.dialogs.snooze(waiting.id, due + timedelta(days=1), operator)

    # The process goes down; the moment passes while it is down.
    if ":memory:" not in db:
        await close_database()
        await open_database(db, extra_apps=EXTRA_APPS)
    restarted = Core(CoreContext(clock=FrozenClock(due + timedelta(hours=6))), tick_seconds=3600)
    recorder = Recorder()
    restarted.bus.subscribe(StatusChanged, recorder)

    await restarted.ticker.start()
    restarted.ticker.stop()

    assert await status_of(dialog) == (DialogStatus.OPEN, None)
    assert (await status_of(waiting))[0] is DialogStatus.SNOOZED
    assert [(e.dialog_id, e.new) for e in recorder.events] == [(dialog.id, "open")]
