"""How much one visitor and one address may do: messages and sessions a minute, open
sockets at once. Kept in memory: right for one eadesk process (a restart forgets them)."""

from __future__ import annotations

import time
from collections import defaultdict, deque

from aiohttp import web

from connectors.webchat.wire import Problem

# Per visitor and per address: so many messages (and uploads) in a minute.
VISITOR_RATE = (20, 60.0)
IP_RATE = (120, 60.0)
SESSION_RATE = (60, 60.0)


class RateLimit:
    """At most `count` events in `window` seconds per key (a sliding window)."""

    def __init__(self, count: int, window: float) -> None:
        self.count, self.window = count, window
        self._seen: dict[str, deque[float]] = defaultdict(deque)

    def hit(self, key: str) -> float:
        """0 when allowed (and counted), else the seconds to wait."""
        now = time.monotonic()
        seen = self._seen[key]
        while seen and now - seen[0] > self.window:
            seen.popleft()
        if len(seen) >= self.count:
            return max(1.0, self.window - (now - seen[0]))
        seen.append(now)
        if len(self._seen) > 100_000:  # forget idle keys now and then
            for other in [k for k, v in self._seen.items() if not v]:
                del self._seen[other]
        return 0.0


class Limits:
    def __init__(self, sockets_per_ip: int) -> None:
        self.visitor = RateLimit(*VISITOR_RATE)
        self.ip = RateLimit(*IP_RATE)
        self.sessions = RateLimit(*SESSION_RATE)
        self.sockets_per_ip = sockets_per_ip
        self.sockets: dict[str, int] = defaultdict(int)

    def message(self, request: web.Request, visitor: str) -> None:
        """A visitor's message (or upload): refused with 429 over their or their address's
        rate."""
        wait = self.visitor.hit(visitor) or self.ip.hit(request.remote or "")
        if wait:
            raise Problem(429, "rate", retry_after=int(wait + 0.999))

    def session(self, request: web.Request) -> None:
        wait = self.sessions.hit(request.remote or "")
        if wait:
            raise Problem(429, "rate", retry_after=int(wait + 0.999))

    def open_socket(self, request: web.Request) -> str | None:
        """The address a new socket counts against (give it back with `close_socket`), or
        None when that address has its SOCKETS_PER_IP open already."""
        address = request.remote or ""
        if self.sockets[address] >= self.sockets_per_ip:
            return None
        self.sockets[address] += 1
        return address

    def close_socket(self, address: str) -> None:
        self.sockets[address] -= 1
        if self.sockets[address] <= 0:
            del self.sockets[address]
