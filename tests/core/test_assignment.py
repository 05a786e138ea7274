"""core.assignment.choose: who automatic assignment gives a dialog to."""

from __future__ import annotations

from datetime import timedelta

import pytest

from core.assignment import AssignPolicy, choose
from core.clock import FrozenClock
from core.lifecycle import DialogStatus
from core.models import Channel, Dialog, Operator
from core.service import Core
from tests.core.helpers import write

pytestmark = pytest.mark.usefixtures("db")


async def team(clock: FrozenClock, *names: str) -> list[Operator]:
    return [
        await Operator.create(
            user_id=2000 + n, username=name.lower(), name=name, created_at=clock.now()
        )
        for n, name in enumerate(names)
    ]


async def dialogs_of(core: Core, telegram: Channel, operator: Operator, n: int, tag: str) -> None:
    for i in range(n):
        result = await write(core, telegram, chat=f"{tag}-{operator.id}-{i}")
        await Dialog.filter(id=result.dialog.id).update(assignee_id=operator.id)


async def picks(core: Core, clock: FrozenClock, policy: AssignPolicy, n: int) -> list[str]:
    names = []
    for _ in range(n):
        clock.advance(timedelta(seconds=1))
        chosen = await choose(core.ctx, policy, 0)
        names.append(chosen.name if chosen else "-")
    return names


async def test_round_robin_takes_turns_among_those_on_duty(core: Core, clock: FrozenClock) -> None:
    anna, boris, vera, gleb = await team(clock, "Anna", "Boris", "Vera", "Gleb")
    await Operator.filter(id=vera.id).update(on_duty=False)
    await Operator.filter(id=gleb.id).update(active=False)  # left the team
    policy = AssignPolicy(strategy="round_robin")
    assert await picks(core, clock, policy, 4) == ["Anna", "Boris", "Anna", "Boris"]
    # The turn is stored: whoever reads it next (after a restart) goes on from it.
    stored = await Operator.get(id=anna.id)
    assert stored.auto_assigned_at == clock.now() - timedelta(seconds=1)
    # Vera comes back: never chosen yet, she is next; then the turn goes on fairly.
    await Operator.filter(id=vera.id).update(on_duty=True)
    assert await picks(core, clock, policy, 3) == ["Vera", "Anna", "Boris"]
    # pool "all" counts those off duty too (never a departed one).
    await Operator.filter(id=boris.id).update(on_duty=False)
    assert await picks(core, clock, AssignPolicy(strategy="round_robin", pool="all"), 3) == [
        "Vera",
        "Anna",
        "Boris",
    ]


async def test_least_busy_and_the_cap(core: Core, clock: FrozenClock, telegram: Channel) -> None:
    anna, boris, vera = await team(clock, "Anna", "Boris", "Vera")
    await dialogs_of(core, telegram, anna, 3, "a")
    await dialogs_of(core, telegram, boris, 1, "b")
    await dialogs_of(core, telegram, vera, 2, "v")
    # A snoozed or closed dialog is no load.
    await Dialog.filter(assignee_id=vera.id).update(status=DialogStatus.SNOOZED)
    chosen = await choose(core.ctx, AssignPolicy(strategy="least_busy"), 0)
    assert chosen is not None and chosen.name == "Vera"
    await Dialog.filter(assignee_id=vera.id).update(status=DialogStatus.OPEN)
    chosen = await choose(core.ctx, AssignPolicy(strategy="least_busy"), 0)
    assert chosen is not None and chosen.name == "Boris"
    # Round robin with a cap of 2 open dialogs each: Anna (3) is skipped, Vera is at 2.
    capped = AssignPolicy(strategy="round_robin", max_open=2)
    assert await picks(core, clock, capped, 2) == ["Boris", "Boris"]
    # Everyone at the cap: nobody fits, the dialog stays unassigned.
    assert await choose(core.ctx, AssignPolicy(strategy="round_robin", max_open=1), 0) is None
    # The dialog being assigned is not counted against its own assignee.
    own = await Dialog.filter(assignee_id=boris.id).first()
    assert own is not None
    chosen = await choose(core.ctx, AssignPolicy(operator="@boris", max_open=1), own.id)
    assert chosen is not None and chosen.id == boris.id


async def test_a_named_operator_even_off_duty_but_never_a_departed_one(
    core: Core, clock: FrozenClock
) -> None:
    anna, boris = await team(clock, "Anna", "Boris")
    await Operator.filter(id=anna.id).update(on_duty=False)
    for name in ("@anna", "anna", "ANNA", "Anna"):
        chosen = await choose(core.ctx, AssignPolicy(operator=name), 0)
        assert chosen is not None and chosen.id == anna.id, name
    chosen = await choose(core.ctx, AssignPolicy(operator=str(boris.user_id)), 0)
    assert chosen is not None and chosen.id == boris.id
    assert await choose(core.ctx, AssignPolicy(operator="@nobody"), 0) is None
    await Operator.filter(id=anna.id).update(active=False)
    assert await choose(core.ctx, AssignPolicy(operator="@anna"), 0) is None


async def test_nobody_on_duty_means_nobody(core: Core, clock: FrozenClock) -> None:
    (anna,) = await team(clock, "Anna")
    await Operator.filter(id=anna.id).update(on_duty=False)
    assert await choose(core.ctx, AssignPolicy(strategy="round_robin"), 0) is None
    assert await choose(core.ctx, AssignPolicy(strategy="least_busy"), 0) is None
