"""The group budget limiter and the link health tracker, with moved clocks."""

from __future__ import annotations

from datetime import timedelta

from core.clock import FrozenClock
from core.health import ALERT_AFTER, Health
from tgapi.limits import GroupBudget


class Monotonic:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_budget_allows_the_minute_then_says_how_long_to_wait():
    clock = Monotonic()
    budget = GroupBudget(per_minute=20, per_second=100, monotonic=clock)
    for _ in range(20):
        assert budget.take() == 0
        clock.now += 0.5
    wait = budget.take()
    assert 49 < wait <= 50.5, wait
    clock.now += wait
    assert budget.take() == 0
    assert budget.used_last_minute() == 20


def test_budget_limits_bursts_within_a_second():
    clock = Monotonic()
    budget = GroupBudget(per_minute=20, per_second=3, monotonic=clock)
    assert [budget.take() for _ in range(3)] == [0, 0, 0]
    assert 0 < budget.take() <= 1.0


def test_a_429_blocks_this_group_for_retry_after():
    clock = Monotonic()
    budget = GroupBudget(per_minute=20, monotonic=clock)
    budget.penalize(7)
    assert budget.take() == 7
    clock.now += 7
    assert budget.take() == 0


async def test_health_alerts_once_after_minutes_and_once_on_recovery():
    clock = FrozenClock()
    alerts: list[tuple[str, bool]] = []

    async def alert(name, recovered, since):
        alerts.append((name, recovered))

    health = Health(clock, alert)
    await health.ok("Telegram")
    await health.failed("Telegram", "timeout")
    assert alerts == [] and not health.all_ok
    clock.advance(ALERT_AFTER)
    await health.failed("Telegram", "timeout")
    await health.failed("Telegram", "timeout")
    assert alerts == [("Telegram", False)]
    await health.ok("Telegram")
    assert alerts == [("Telegram", False), ("Telegram", True)] and health.all_ok


async def test_a_short_blip_raises_no_alert():
    clock = FrozenClock()
    alerts: list[bool] = []

    async def alert(name, recovered, since):
        alerts.append(recovered)

    health = Health(clock, alert)
    await health.failed("Telegram", "reset")
    clock.advance(timedelta(seconds=30))
    await health.ok("Telegram")
    assert alerts == []
