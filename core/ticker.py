"""APScheduler as a ticker only: it calls idempotent sweeps; state lives in the database."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from apscheduler.schedulers.asyncio import AsyncIOScheduler

log = logging.getLogger(__name__)

Sweep = Callable[[], Awaitable[object]]


class Ticker:
    def __init__(self, interval_seconds: float = 5.0) -> None:
        self.interval = interval_seconds
        self.scheduler = AsyncIOScheduler(timezone="UTC")
        self._sweeps: list[tuple[str, Sweep]] = []

    def every_tick(self, name: str, sweep: Sweep) -> None:
        self._sweeps.append((name, sweep))

    async def tick(self) -> None:
        for name, sweep in self._sweeps:
            try:
                await sweep()
            except Exception:
                log.exception("sweep %s failed", name)

    async def start(self) -> None:
        # Catch up at once: a snooze that ran out while we were down wakes right after start.
        await self.tick()
        # The first interval run comes one interval later: an immediate one would repeat the
        # catch-up, and could still run after a quick stop() (shutdown is deferred).
        self.scheduler.add_job(
            self.tick,
            "interval",
            seconds=self.interval,
            max_instances=1,
            coalesce=True,
            id="tick",
        )
        self.scheduler.start()

    def stop(self) -> None:
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
