"""Writes that arrive together go as one (core.batching.Batched)."""

from __future__ import annotations

import asyncio

import pytest

from core.batching import Batched


class Store:
    def __init__(self) -> None:
        self.writes: list[list[int]] = []
        self.failing = False
        self.gate: asyncio.Event | None = None

    async def write(self, items: list[int]) -> None:
        if self.gate is not None:
            await self.gate.wait()
        if self.failing:
            raise RuntimeError("store away")
        self.writes.append(list(items))


async def test_writes_of_the_same_turn_go_as_one_and_each_caller_waits_for_it() -> None:
    store = Store()
    batched: Batched[int] = Batched(store.write)
    await asyncio.gather(*(batched.add(n) for n in range(5)))
    assert store.writes == [[0, 1, 2, 3, 4]]


async def test_what_comes_while_a_write_is_under_way_goes_in_the_next_one() -> None:
    store = Store()
    store.gate = asyncio.Event()
    batched: Batched[int] = Batched(store.write)
    first = asyncio.create_task(batched.add(1))
    await asyncio.sleep(0.01)  # the first write has begun and waits at the gate
    later = [asyncio.create_task(batched.add(n)) for n in (2, 3)]
    await asyncio.sleep(0.01)
    assert not first.done()  # returns only once its write is done
    store.gate.set()
    await asyncio.gather(first, *later)
    assert store.writes == [[1], [2, 3]]


async def test_a_failed_write_fails_its_callers_and_the_next_one_starts_afresh() -> None:
    store = Store()
    store.failing = True
    batched: Batched[int] = Batched(store.write)
    results = await asyncio.gather(batched.add(1), batched.add(2), return_exceptions=True)
    assert [type(r) for r in results] == [RuntimeError, RuntimeError]
    store.failing = False
    await batched.add(3)
    assert store.writes == [[3]]


async def test_a_caller_that_goes_away_does_not_take_the_others_write_with_it() -> None:
    store = Store()
    store.gate = asyncio.Event()
    batched: Batched[int] = Batched(store.write)
    leaving = asyncio.create_task(batched.add(1))
    staying = asyncio.create_task(batched.add(2))
    await asyncio.sleep(0.01)
    leaving.cancel()
    store.gate.set()
    await staying
    with pytest.raises(asyncio.CancelledError):
        await leaving
    assert store.writes == [[1, 2]]
