"""Operator actions on a dialog: each is stored as an Event (who, when, why) and published."""

from __future__ import annotations

from datetime import timedelta

import pytest
from tortoise.transactions import in_transaction

from core.clock import FrozenClock
from core.events import AssigneeChanged, StatusChanged, TagsChanged
from core.lifecycle import Action, DialogStatus, InvalidTransition
from core.models import ActorKind, Channel, Dialog, Episode, Event, Operator
from core.service import Core
from tests.core.helpers import Recorder, events_of, write

pytestmark = pytest.mark.usefixtures("db")


async def open_dialog(core: Core, channel: Channel) -> Dialog:
    return (await write(core, channel)).dialog


async def last_event(dialog: Dialog) -> Event:
    return (await events_of(dialog))[-1]


async def test_close_records_who_when_why_and_publishes(
    core: Core, clock: FrozenClock, telegram: Channel, operator: Operator, published: Recorder
) -> None:
    dialog = await open_dialog(core, telegram)
    clock.advance(timedelta(minutes=7))
    published.clear()

    closed = await core.dialogs.close(dialog.id, operator, "answered")

    assert closed.status is DialogStatus.CLOSED
    stored = await Dialog.get(id=dialog.id)
    assert stored.status is DialogStatus.CLOSED and stored.closed_at == clock.now()
    episode = await Episode.get(dialog_id=dialog.id)
    assert episode.closed_at == clock.now()
    event = await last_event(dialog)
    assert event.name == "dialog.close"
    assert event.actor_id == operator.id  # type: ignore[attr-defined]
    assert event.actor_kind is ActorKind.OPERATOR
    assert event.at == clock.now()
    assert event.reason == "answered"
    assert event.episode_id == episode.id  # type: ignore[attr-defined]
    assert event.data["old"] == "open" and event.data["new"] == "closed"
    [change] = published.events
    assert isinstance(change, StatusChanged)
    assert (change.old, change.new, change.reason) == ("open", "closed", "answered")
    assert change.actor_id == operator.id and change.at == clock.now()
    assert change.dialog_id == dialog.id and change.data["action"] == "close"


async def test_reopen_records_and_publishes(
    core: Core, clock: FrozenClock, telegram: Channel, operator: Operator, published: Recorder
) -> None:
    dialog = await open_dialog(core, telegram)
    await core.dialogs.close(dialog.id, operator, "answered")
    clock.advance(timedelta(hours=1))
    published.clear()

    await core.dialogs.reopen(dialog.id, operator, "client called back")

    assert (await Dialog.get(id=dialog.id)).status is DialogStatus.OPEN
    event = await last_event(dialog)
    assert (event.name, event.reason, event.at) == (
        "dialog.reopen",
        "client called back",
        clock.now(),
    )
    assert event.actor_id == operator.id  # type: ignore[attr-defined]
    [change] = published.of(StatusChanged)
    assert (change.old, change.new, change.actor_id) == ("closed", "open", operator.id)


async def test_an_action_without_an_operator_is_the_system(core: Core, telegram: Channel) -> None:
    dialog = await open_dialog(core, telegram)
    await core.dialogs.close(dialog.id, None)
    event = await last_event(dialog)
    assert event.actor_kind is ActorKind.SYSTEM and event.actor_id is None  # type: ignore[attr-defined]
    assert event.reason == "closed"


async def test_assign_and_unassign(
    core: Core,
    clock: FrozenClock,
    telegram: Channel,
    operator: Operator,
    other_operator: Operator,
    published: Recorder,
) -> None:
    dialog = await open_dialog(core, telegram)
    published.clear()

    _, changed = await core.dialogs.assign(dialog.id, other_operator, actor=operator)
    assert changed
    assert (await Dialog.get(id=dialog.id)).assignee_id == other_operator.id  # type: ignore[attr-defined]
    event = await last_event(dialog)
    assert event.name == "dialog.assign" and event.at == clock.now()
    assert event.actor_id == operator.id  # type: ignore[attr-defined]
    assert event.data == {"old": None, "new": other_operator.id}

    # Assigning the same operator again changes nothing and tells nobody.
    _, changed = await core.dialogs.assign(dialog.id, other_operator, actor=operator)
    assert not changed

    clock.advance(timedelta(minutes=1))
    _, changed = await core.dialogs.assign(dialog.id, None, actor=other_operator)
    assert changed
    assert (await Dialog.get(id=dialog.id)).assignee_id is None  # type: ignore[attr-defined]
    event = await last_event(dialog)
    assert event.name == "dialog.unassign" and event.at == clock.now()
    assert event.actor_id == other_operator.id  # type: ignore[attr-defined]
    assert event.data == {"old": other_operator.id, "new": None}

    assert [(e.old_assignee_id, e.new_assignee_id, e.actor_id) for e in published.events] == [
        (None, other_operator.id, operator.id),
        (other_operator.id, None, other_operator.id),
    ]
    assert all(isinstance(e, AssigneeChanged) for e in published.events)


async def test_tag_and_untag(
    core: Core, clock: FrozenClock, telegram: Channel, operator: Operator, published: Recorder
) -> None:
    dialog = await open_dialog(core, telegram)
    published.clear()

    added = await core.dialogs.tag(dialog.id, ["#VIP", "billing", " ", "vip"], operator)
    assert added == ("billing", "vip")
    assert await core.dialogs.tag(dialog.id, ["billing"], operator) == ()
    stored = await Dialog.get(id=dialog.id)
    assert sorted(t.name for t in await stored.tags.all()) == ["billing", "vip"]
    event = await last_event(dialog)
    assert event.name == "dialog.tag" and event.at == clock.now()
    assert event.actor_id == operator.id  # type: ignore[attr-defined]
    assert event.data == {"tags": ["billing", "vip"]}

    clock.advance(timedelta(minutes=2))
    removed = await core.dialogs.untag(dialog.id, ["#vip", "unknown"], operator)
    assert removed == ("vip",)
    assert await core.dialogs.untag(dialog.id, ["vip"], operator) == ()
    assert [t.name for t in await stored.tags.all()] == ["billing"]
    event = await last_event(dialog)
    assert event.name == "dialog.untag" and event.at == clock.now()
    assert event.data == {"tags": ["vip"]}

    assert [(e.added, e.removed, e.actor_id) for e in published.events] == [
        (("billing", "vip"), (), operator.id),
        ((), ("vip",), operator.id),
    ]
    assert all(isinstance(e, TagsChanged) for e in published.events)


@pytest.mark.parametrize(
    ("setup", "act", "action"),
    [
        ("open", "reopen", Action.REOPEN),
        ("open", "wake", Action.WAKE),
        ("closed", "snooze", Action.SNOOZE),
        ("closed", "close", Action.CLOSE),
        ("closed", "wake", Action.WAKE),
    ],
)
async def test_invalid_transitions_are_refused_and_change_nothing(
    core: Core,
    clock: FrozenClock,
    telegram: Channel,
    operator: Operator,
    published: Recorder,
    setup: str,
    act: str,
    action: Action,
) -> None:
    dialog = await open_dialog(core, telegram)
    if setup == "closed":
        await core.dialogs.close(dialog.id, operator)
    before = await Dialog.get(id=dialog.id)
    events_before = len(await events_of(dialog))
    published.clear()

    with pytest.raises(InvalidTransition) as caught:
        if act == "reopen":
            await core.dialogs.reopen(dialog.id, operator)
        elif act == "snooze":
            await core.dialogs.snooze(dialog.id, clock.now() + timedelta(hours=1), operator)
        elif act == "close":
            await core.dialogs.close(dialog.id, operator)
        else:
            # A wake is only ever the system's; the table refuses it for a non-snoozed dialog.
            async with in_transaction():
                locked = await Dialog.get(id=dialog.id)
                await core.dialogs.change_status(
                    locked,
                    Action.WAKE,
                    now=clock.now(),
                    actor=None,
                    actor_kind=ActorKind.SYSTEM,
                    reason="test",
                )
    assert caught.value.action is action

    after = await Dialog.get(id=dialog.id)
    assert (after.status, after.snoozed_until) == (before.status, before.snoozed_until)
    assert len(await events_of(dialog)) == events_before
    assert published.events == []


async def test_wake_if_due_on_an_open_dialog_does_nothing(
    core: Core, telegram: Channel, published: Recorder
) -> None:
    dialog = await open_dialog(core, telegram)
    published.clear()
    assert not await core.dialogs.wake_if_due(dialog.id)
    assert published.events == []
