"""Is each link to the outside up? Feeds /status, /healthz and the alerts in General."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from core.clock import Clock

# A link that fails this long is worth an alert; a blip is not.
ALERT_AFTER = timedelta(minutes=2)

Alert = Callable[[str, bool, datetime], Awaitable[None]]


@dataclass
class LinkState:
    ok: bool = True
    since: datetime | None = None
    failures: int = 0
    last_error: str = ""
    alerted: bool = False


class Health:
    def __init__(self, clock: Clock, alert: Alert | None = None) -> None:
        self.clock = clock
        self.alert = alert
        self.links: dict[str, LinkState] = {}

    async def ok(self, name: str) -> None:
        state = self.links.setdefault(name, LinkState(since=self.clock.now()))
        if not state.ok:
            was_alerted = state.alerted
            state.ok, state.since, state.failures, state.alerted = True, self.clock.now(), 0, False
            if was_alerted and self.alert:
                await self.alert(name, True, state.since)

    async def failed(self, name: str, error: str) -> None:
        now = self.clock.now()
        state = self.links.setdefault(name, LinkState(since=now))
        if state.ok:
            state.ok, state.since = False, now
        state.failures += 1
        state.last_error = error[:200]
        if not state.alerted and state.since and now - state.since >= ALERT_AFTER:
            state.alerted = True
            if self.alert:
                await self.alert(name, False, state.since)

    @property
    def all_ok(self) -> bool:
        return all(s.ok for s in self.links.values())
