"""Store-before-ack for every transport (core.inbox), and the sink a connector is handed."""

from __future__ import annotations

from typing import Any

import pytest

from core.channels import Sink
from core.clock import FrozenClock
from core.content import Content
from core.inbox import MAX_ATTEMPTS
from core.models import Channel, InboxItem, Message
from core.service import Core
from tests.core.helpers import inbound

pytestmark = pytest.mark.usefixtures("db")


async def test_an_event_is_stored_once_however_often_it_arrives(core: Core) -> None:
    assert await core.inbox.store("hook", "e1", {"text": "hi"}) is True
    assert await core.inbox.store("hook", "e1", {"text": "hi"}) is False  # delivered twice
    assert await core.inbox.store("other", "e1", {"text": "hi"}) is True  # keys are per source
    assert await InboxItem.filter(source="hook").count() == 1
    assert await core.inbox.last_key("hook") == "e1"
    assert await core.inbox.last_key("nobody") is None


async def test_stored_events_are_processed_in_order_and_once(core: Core) -> None:
    for key in ("a", "b", "c"):
        await core.inbox.store("hook", key, {"key": key})
    seen: list[str] = []

    async def handle(payload: dict[str, Any]) -> None:
        seen.append(payload["key"])

    assert await core.inbox.process("hook", handle) == 3
    assert await core.inbox.process("hook", handle) == 0
    assert seen == ["a", "b", "c"]


async def test_a_failing_event_holds_the_later_ones_then_is_set_aside(core: Core) -> None:
    for key in ("bad", "next"):
        await core.inbox.store("hook", key, {"key": key})
    seen: list[str] = []

    async def handle(payload: dict[str, Any]) -> None:
        if payload["key"] == "bad":
            raise RuntimeError("cannot parse")
        seen.append(payload["key"])

    for _ in range(MAX_ATTEMPTS - 1):
        assert await core.inbox.process("hook", handle) == 0
        assert seen == []  # the later one waits: order may matter
    await core.inbox.process("hook", handle)
    assert seen == ["next"]
    bad = await InboxItem.get(source="hook", key="bad")
    assert bad.processed_at is not None and "cannot parse" in (bad.error or "")
    assert bad.attempts == MAX_ATTEMPTS


async def test_the_sink_is_the_core_for_one_channel(
    core: Core, telegram: Channel, clock: FrozenClock
) -> None:
    sink: Sink = core.sink(telegram.id)
    assert sink.channel_id == telegram.id and sink.blobs is None

    result = await sink.ingest(inbound(telegram, external_id="1", text="Helo"))
    assert (await Message.get(id=result.message.id)).text == "Helo"
    fixed = inbound(telegram, external_id="1")
    fixed.content = Content("Hello")
    await sink.edited(fixed)
    assert (await Message.get(id=result.message.id)).text == "Hello"

    await sink.unhealthy("Hook (main)", "connection refused")
    assert core.health.links["Hook (main)"].ok is False
    assert core.health.links["Hook (main)"].last_error == "connection refused"
    await sink.healthy("Hook (main)")
    assert core.health.all_ok
