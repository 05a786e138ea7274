"""pytest fixtures for the emulator: register with ``pytest_plugins = ["tests.emulator.fixtures"]``.

``emulator`` starts a fresh emulator on a free 127.0.0.1 port and yields an
:class:`EmulatorClient` whose helpers are thin wrappers over the control API.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest_asyncio

from .client import ControlError, EmulatorClient
from .server import Emulator

__all__ = ["ControlError", "EmulatorClient", "emulator"]


@pytest_asyncio.fixture
async def emulator() -> AsyncIterator[EmulatorClient]:
    """A fresh emulator (limits off) on a free 127.0.0.1 port."""
    server = Emulator("127.0.0.1", 0)
    await server.start()
    async with aiohttp.ClientSession() as session:
        client = EmulatorClient(server, session)
        try:
            yield client
        finally:
            await client.aclose()
            await server.stop()
