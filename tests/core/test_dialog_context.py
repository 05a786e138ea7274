"""A dialog's context (where the client writes from, as their channel tells it): kept on the
dialog in the channel's order, changed only when the channel tells something else, and at no
cost in SQL statements to a message that tells the same."""

from __future__ import annotations

from dataclasses import replace

import pytest

from core.events import ContextChanged
from core.models import Channel, Dialog
from core.service import Core
from tests.core.helpers import Recorder, inbound
from tests.core.test_statements import counted

pytestmark = pytest.mark.usefixtures("db")

PRICING = {"page": "Pricing — https://shop.example/pricing", "language": "en-GB"}


async def test_the_context_is_kept_and_changed_only_when_it_differs(
    core: Core, telegram: Channel
) -> None:
    changes = Recorder()
    core.bus.subscribe(ContextChanged, changes)
    first = await core.ingest(replace(inbound(telegram), context=PRICING))
    dialog = await Dialog.get(id=first.dialog.id)
    assert dialog.context == [[k, v] for k, v in PRICING.items()]

    async with counted() as same:
        await core.ingest(replace(inbound(telegram), context=dict(PRICING)))
    async with counted() as untold:
        await core.ingest(inbound(telegram))
    assert same == untold  # the same context costs nothing more than none
    assert changes.of(ContextChanged) == []

    checkout = {"page": "Checkout — https://shop.example/checkout", "language": "en-GB"}
    await core.ingest(replace(inbound(telegram), context=checkout))
    assert [e.dialog_id for e in changes.of(ContextChanged)] == [dialog.id]
    dialog = await Dialog.get(id=dialog.id)
    assert dialog.context == [[k, v] for k, v in checkout.items()]
