"""Telegram's rate limits as sliding windows (per chat, per group per minute, per bot)."""

from __future__ import annotations

import math
import time
from collections import defaultdict, deque
from collections.abc import Callable
from typing import Any

# Private chats: ~1 message per second with a small burst.
PRIVATE_BURST = 3
PRIVATE_BURST_WINDOW = 3.0


class Limiter:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._base_clock = clock
        self.offset = 0.0
        self.enabled = False
        self.per_chat_per_second = 1.0
        self.per_group_per_minute = 20
        self.global_per_second = 30
        self._chat: dict[tuple[int, int], deque[float]] = defaultdict(deque)
        self._group: dict[tuple[int, int], deque[float]] = defaultdict(deque)
        self._global: dict[int, deque[float]] = defaultdict(deque)

    def now(self) -> float:
        return self._base_clock() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds

    def configure(self, body: dict[str, Any]) -> dict[str, Any]:
        if "enabled" in body:
            self.enabled = bool(body["enabled"])
        if body.get("per_chat_per_second") is not None:
            self.per_chat_per_second = float(body["per_chat_per_second"])
        if body.get("per_group_per_minute") is not None:
            self.per_group_per_minute = int(body["per_group_per_minute"])
        if body.get("global_per_second") is not None:
            self.global_per_second = int(body["global_per_second"])
        return self.describe()

    def describe(self) -> dict[str, Any]:
        return {
            "enabled": self.enabled,
            "per_chat_per_second": self.per_chat_per_second,
            "per_group_per_minute": self.per_group_per_minute,
            "global_per_second": self.global_per_second,
        }

    def reset(self) -> None:
        self._chat.clear()
        self._group.clear()
        self._global.clear()

    @staticmethod
    def _wait(window: deque[float], limit: int, span: float, now: float, n: int) -> float:
        """Seconds until ``n`` more events fit into ``window`` (0 when they fit now)."""
        while window and window[0] <= now - span:
            window.popleft()
        if limit <= 0:
            return span
        if len(window) + n <= limit:
            return 0.0
        # the oldest events must expire until len + n <= limit
        need = len(window) + n - limit
        if need > len(window):
            return span
        return window[need - 1] + span - now

    def check(self, bot_id: int, chat_id: int, is_group: bool, n: int = 1) -> int | None:
        """Return retry_after (int seconds >= 1) if ``n`` messages would exceed a limit."""
        if not self.enabled:
            return None
        now = self.now()
        waits = [self._wait(self._global[bot_id], self.global_per_second, 1.0, now, n)]
        if is_group:
            waits.append(
                self._wait(self._group[(bot_id, chat_id)], self.per_group_per_minute, 60.0, now, n)
            )
        else:
            limit = max(1, round(self.per_chat_per_second * PRIVATE_BURST_WINDOW))
            limit = max(limit, PRIVATE_BURST)
            waits.append(
                self._wait(self._chat[(bot_id, chat_id)], limit, PRIVATE_BURST_WINDOW, now, n)
            )
            per_sec = max(1, math.ceil(self.per_chat_per_second))
            # never more than a burst within one second either
            waits.append(
                self._wait(self._chat[(bot_id, chat_id)], max(per_sec, PRIVATE_BURST), 1.0, now, n)
            )
        wait = max(waits)
        if wait <= 0:
            return None
        return max(1, math.ceil(wait))

    def record(self, bot_id: int, chat_id: int, is_group: bool, n: int = 1) -> None:
        if not self.enabled:
            return
        now = self.now()
        for _ in range(n):
            self._global[bot_id].append(now)
            if is_group:
                self._group[(bot_id, chat_id)].append(now)
            else:
                self._chat[(bot_id, chat_id)].append(now)
