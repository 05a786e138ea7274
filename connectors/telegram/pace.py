"""Telegram's pace for one private chat, kept proactively: about one message a second with a
short burst. A send that would exceed it waits (the outbox retries it when the chat frees)
instead of earning a 429."""

from __future__ import annotations

import time
from collections import defaultdict, deque
from collections.abc import Callable

# A burst of three, then about one a second: no more than this many in any window.
BURST = 3
WINDOW_SECONDS = 3.0


class ChatPace:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._sent: dict[int, deque[float]] = defaultdict(deque)

    def take(self, chat_id: int, n: int = 1) -> float:
        """Count `n` messages to `chat_id` if they fit now (returns 0), else the seconds to
        wait. An album larger than the burst goes alone into an empty window."""
        now = self._clock()
        sent = self._sent[chat_id]
        while sent and sent[0] <= now - WINDOW_SECONDS:
            sent.popleft()
        excess = len(sent) + min(n, BURST) - BURST
        if excess > 0:
            return sent[excess - 1] + WINDOW_SECONDS - now
        sent.extend([now] * n)
        return 0.0
