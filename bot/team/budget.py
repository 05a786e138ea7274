"""A proactive limiter for one group: stay under Telegram's per-minute budget, never hit 429."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable


class GroupBudget:
    def __init__(
        self,
        per_minute: int,
        per_second: int = 3,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.per_minute = per_minute
        self.per_second = per_second
        self._clock = monotonic
        self._sent: deque[float] = deque()
        self._blocked_until = 0.0

    def _trim(self, now: float) -> None:
        while self._sent and now - self._sent[0] >= 60.0:
            self._sent.popleft()

    def wait_time(self) -> float:
        """Seconds until one more call fits; 0 when it fits now."""
        now = self._clock()
        self._trim(now)
        waits = [self._blocked_until - now]
        if len(self._sent) >= self.per_minute:
            waits.append(self._sent[-self.per_minute] + 60.0 - now)
        recent = [t for t in self._sent if now - t < 1.0]
        if len(recent) >= self.per_second:
            waits.append(recent[-self.per_second] + 1.0 - now)
        return max(0.0, *waits)

    def take(self) -> float:
        """Spend one call if it fits (returns 0), else return how long to wait."""
        wait = self.wait_time()
        if wait <= 0:
            self._sent.append(self._clock())
        return wait

    def restore(self, ages: list[float]) -> None:
        """Calls made before this process started, `ages` seconds ago (from the database):
        a restart continues the minute it came into instead of starting a fresh one."""
        now = self._clock()
        earlier = [now - age for age in ages if 0 <= age < 60.0]
        self._sent = deque(sorted([*earlier, *self._sent]))

    def used_last_minute(self) -> int:
        self._trim(self._clock())
        return len(self._sent)

    def busy(self) -> bool:
        """Half the minute's budget is spent: calls should be saved where they can."""
        # The per-second burst cap passes within a second: it says nothing of the load.
        return self.used_last_minute() * 2 >= self.per_minute or self._blocked_until > self._clock()

    def penalize(self, retry_after: float) -> None:
        """Telegram said 429 anyway: honour it for this chat only."""
        self._blocked_until = max(self._blocked_until, self._clock() + retry_after)
