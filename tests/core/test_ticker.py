"""The ticker runs every sweep once at start (catching up after downtime), then on interval;
one failing sweep does not stop the others."""

from __future__ import annotations

from core.ticker import Ticker


async def test_start_catches_up_at_once_and_a_failing_sweep_stops_nothing() -> None:
    calls: list[str] = []

    async def broken() -> None:
        calls.append("broken")
        raise RuntimeError("database away")

    async def snoozes() -> int:
        calls.append("snoozes")
        return 0

    ticker = Ticker(interval_seconds=3600)
    ticker.every_tick("broken", broken)
    ticker.every_tick("snoozes", snoozes)
    try:
        await ticker.start()
        # No waiting: the catch-up ran inside start().
        assert calls == ["broken", "snoozes"]
        assert ticker.scheduler.running
    finally:
        ticker.stop()
    assert not ticker.scheduler.running
