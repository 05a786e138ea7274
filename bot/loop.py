"""The event loop eadesk runs on: uvloop's (libuv underneath) — the same asyncio, with its
loop's bookkeeping and sockets in C. In the bench (`python -m bench delivery --no-limits`)
eadesk's own CPU time per client message is about a sixth lower on it. Windows, which uvloop
is not made for, keeps asyncio's own loop."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def run(main: Coroutine[Any, Any, T]) -> T:
    try:
        import uvloop
    except ImportError:  # not installed on Windows (see pyproject.toml)
        return asyncio.run(main)
    return uvloop.run(main)
