"""Fixtures for the core tests: channels, operators, a recorder of published events."""

from __future__ import annotations

from datetime import datetime

import pytest
import pytest_asyncio

from core.channels import ensure_channel
from core.clock import FrozenClock
from core.events import CoreEvent
from core.models import Channel, ChannelKind, Operator
from core.service import Core
from tests.core.helpers import Recorder


@pytest.fixture
def published(core: Core) -> Recorder:
    recorder = Recorder()
    core.bus.subscribe(CoreEvent, recorder)
    return recorder


async def _channel(key: str, kind: ChannelKind, name: str, now: datetime) -> Channel:
    return await ensure_channel(key, kind, name, now)


@pytest_asyncio.fixture
async def telegram(db: str, clock: FrozenClock) -> Channel:
    return await _channel(
        "telegram:acme_help_bot", ChannelKind.TELEGRAM, "@acme_help_bot", clock.now()
    )


@pytest_asyncio.fixture
async def email(db: str, clock: FrozenClock) -> Channel:
    return await _channel("email:support", ChannelKind.EMAIL, "support@acme.com", clock.now())


@pytest_asyncio.fixture
async def operator(db: str, clock: FrozenClock) -> Operator:
    return await Operator.create(user_id=1001, username="olga", name="Olga", created_at=clock.now())


@pytest_asyncio.fixture
async def other_operator(db: str, clock: FrozenClock) -> Operator:
    return await Operator.create(user_id=1002, username="ivan", name="Ivan", created_at=clock.now())
