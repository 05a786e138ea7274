"""What every core service needs: time, the event bus, the reopen windows, a wake-up for work."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from datetime import timedelta

from core.business_hours import BusinessHours
from core.clock import Clock, SystemClock
from core.events import EventBus
from core.models import WindowKind

DEFAULT_WINDOWS: dict[WindowKind, timedelta] = {
    WindowKind.MESSENGER: timedelta(hours=48),
    WindowKind.SOCIAL: timedelta(hours=48),
    WindowKind.WEBCHAT: timedelta(hours=48),
    WindowKind.TELEPHONY: timedelta(hours=48),
    WindowKind.EMAIL: timedelta(hours=120),
}


class Signal:
    """Wakes a waiting worker early; losing a wake-up costs only one poll interval."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def set(self) -> None:
        self._event.set()

    async def wait_at_most(self, seconds: float) -> None:
        # asyncio.timeout, not wait_for: Python 3.11's wait_for swallows a cancellation that
        # comes as the event is set, and the worker's loop then outlived its stop (a test's
        # teardown waited forever).
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._event.wait()
        self._event.clear()


@dataclass
class CoreContext:
    clock: Clock = field(default_factory=SystemClock)
    # Network retries and budgets wait in real time, even when tests move `clock`.
    wall: Clock = field(default_factory=SystemClock)
    bus: EventBus = field(default_factory=EventBus)
    windows: dict[WindowKind, timedelta] = field(default_factory=lambda: dict(DEFAULT_WINDOWS))
    outbox_signal: Signal = field(default_factory=Signal)
    # BUSINESS_HOURS in TIMEZONE: the reporting rows count business time by it.
    business_hours: BusinessHours = field(default_factory=BusinessHours)

    def window_for(self, kind: WindowKind) -> timedelta:
        return self.windows.get(kind, DEFAULT_WINDOWS[kind])
