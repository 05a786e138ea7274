"""The outbox's wake-up signal: a stop (a cancellation) that comes in the same turn as a
wake-up must end the waiting worker. Python 3.11's asyncio.wait_for swallowed it there, the
outbox loop went on, and `stop()` waited for it forever (a hung test teardown in CI)."""

from __future__ import annotations

import asyncio

import pytest

from core.context import Signal


async def test_a_stop_in_the_same_turn_as_a_wake_up_ends_the_wait() -> None:
    signal = Signal()
    waiting = asyncio.create_task(signal.wait_at_most(60))
    await asyncio.sleep(0)  # it waits now
    signal.set()
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting


async def test_a_wake_up_ends_the_wait_early_and_is_used_once() -> None:
    signal = Signal()
    waiting = asyncio.create_task(signal.wait_at_most(60))
    await asyncio.sleep(0)
    signal.set()
    await asyncio.wait_for(waiting, 5)
    # Cleared: the next wait lasts its time.
    loop = asyncio.get_running_loop()
    started = loop.time()
    await signal.wait_at_most(0.05)
    assert loop.time() - started >= 0.04
