"""The ticker runs every sweep once at start (catching up after downtime), then on interval;
one failing sweep does not stop the others."""

from __future__ import annotations

import asyncio

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
    # The scheduler shuts down on the loop's next turn; no tick runs after stop().
    await asyncio.sleep(0.05)
    assert not ticker.scheduler.running
    assert calls == ["broken", "snoozes"]


async def test_sweeps_run_again_on_the_interval() -> None:
    calls: list[float] = []

    async def sweep() -> None:
        calls.append(asyncio.get_running_loop().time())

    ticker = Ticker(interval_seconds=0.2)
    ticker.every_tick("sweep", sweep)
    await ticker.start()
    try:
        for _ in range(100):
            if len(calls) >= 3:
                break
            await asyncio.sleep(0.02)
    finally:
        ticker.stop()
        await asyncio.sleep(0)
    assert len(calls) >= 3
    # The first interval run is an interval after the catch-up, not right after it.
    assert calls[1] - calls[0] >= 0.15
