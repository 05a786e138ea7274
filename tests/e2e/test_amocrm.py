"""amoCRM (#15): the card shows the client's deals found in amoCRM by their phones, e-mails
and name — against a local amoCRM (tests/fakes/amocrm.py) — from a cache, so a redraw asks
amoCRM nothing, and a slow or failing amoCRM never holds a card back."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from core.models import Contact, ContactKind, Dialog
from tests.e2e.conftest import Desk, running_desk, team_and_client
from tests.e2e.teamwork import card_of, new_topic, teamwork_desk
from tests.fakes.amocrm import TOKEN, FakeAmoCrm


@pytest.fixture
async def fake() -> AsyncIterator[FakeAmoCrm]:
    server = FakeAmoCrm()
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
async def desk(emulator: Any, fake: FakeAmoCrm) -> AsyncIterator[Desk]:
    async for value in teamwork_desk(emulator, AMOCRM_BASE_URL=fake.url, AMOCRM_TOKEN=TOKEN):
        yield value


async def card_saying(desk: Desk, thread: int, *needles: str) -> dict[str, Any] | None:
    card = await card_of(desk, thread)
    text = (card or {}).get("text") or ""
    return card if all(n in text for n in needles) else None


def links(message: dict[str, Any]) -> dict[str, str]:
    """Each text link's words and address."""
    text = message.get("text") or ""
    shown = text.encode("utf-16-le")
    found = {}
    for entity in message.get("entities") or []:
        if entity["type"] == "text_link":
            part = shown[2 * entity["offset"] : 2 * (entity["offset"] + entity["length"])]
            found[part.decode("utf-16-le")] = entity["url"]
    return found


async def test_the_card_shows_the_deals_found_by_name_phone_and_email(
    desk: Desk, fake: FakeAmoCrm
) -> None:
    fake.add_lead(7, "Annual licence", 250000, status_id=11)
    fake.add_contact("Ann Lee", leads=[7])
    thread = await new_topic(desk)

    # The client is known by name alone (a Telegram user): amoCRM's contact of that name.
    card = await desk.wait(lambda: card_saying(desk, thread, "💼 Deals: 1"), timeout=30)
    assert "• Annual licence — Negotiation — 250 000 ₽" in card["text"]
    assert links(card)["Annual licence"] == f"{fake.url}/leads/detail/7"

    # Her phone and e-mail become known (as /contact add records them): once the deals are
    # older than AMOCRM_REFRESH, the next drawing of the card looks again and finds the
    # contacts of that phone and that e-mail (the name is the fallback for nobody found).
    dialog = await Dialog.get(id=(await desk.dialog()).id)
    for kind, value in ((ContactKind.PHONE, "+79123456789"), (ContactKind.EMAIL, "ann@lee.org")):
        await Contact.create(
            client_id=dialog.client_id,  # type: ignore[attr-defined]
            kind=kind,
            value=value,
            created_at=desk.clock.now(),
        )
    fake.add_lead(8, "Support plan", 30000, status_id=10, updated_at=1_700_000_500)
    fake.add_lead(9, "Training", 0, status_id=142)
    fake.add_contact("A. Lee", phones=["+7 (912) 345-67-89"], leads=[8])
    fake.add_contact("Lee family", emails=["Ann@Lee.org"], leads=[9])
    desk.clock.advance(timedelta(minutes=6))
    await desk.in_topic(thread, "/task call back")
    card = await desk.wait(lambda: card_saying(desk, thread, "💼 Deals: 2"), timeout=30)
    assert "• Support plan — New — 30 000 ₽" in card["text"]
    assert "• Training — Closed - won" in card["text"]
    assert "Annual licence" not in card["text"]
    assert links(card)["Support plan"] == f"{fake.url}/leads/detail/8"
    assert fake.over_limit == 0


async def test_a_redraw_within_the_refresh_period_asks_amocrm_nothing(
    desk: Desk, fake: FakeAmoCrm
) -> None:
    fake.add_lead(7, "Annual licence", 250000, status_id=11)
    fake.add_contact("Ann Lee", leads=[7])
    thread = await new_topic(desk)
    await desk.wait(lambda: card_saying(desk, thread, "Annual licence"), timeout=30)
    asked = fake.count()

    await desk.in_topic(thread, "/task send the invoice")
    card = await desk.wait(lambda: card_saying(desk, thread, "Open tasks: 1"), timeout=30)
    assert "Annual licence" in card["text"]
    await desk.settle()
    assert fake.count() == asked


async def test_a_slow_or_failing_amocrm_never_holds_a_card_back(
    desk: Desk, fake: FakeAmoCrm, emulator: Any
) -> None:
    fake.add_lead(7, "Annual licence", 250000, status_id=11)
    fake.add_contact("Ann Lee", leads=[7])
    thread = await new_topic(desk)
    await desk.wait(lambda: card_saying(desk, thread, "Annual licence"), timeout=30)

    # amoCRM takes 30 s to answer: a new client's card is posted at once (without deals),
    # while the request for them still waits.
    fake.delay = 30.0
    bob = await emulator.user("Bob")
    asked = fake.count()
    await desk.client_says("Hi there", who=bob)

    async def bobs_card() -> dict[str, Any] | None:
        for topic in await desk.topics():
            if topic["thread_id"] != thread:
                return await card_saying(desk, topic["thread_id"], "👤 Bob")
        return None

    bobs = await desk.wait(bobs_card, timeout=8)
    assert "Deals" not in bobs["text"]
    await desk.wait(lambda: fake.count() > asked)

    # amoCRM is down: Ann's card, drawn again after the refresh period, still shows the last
    # known deals; the link is reported down.
    await fake.stop()
    fake.delay = 0
    desk.clock.advance(timedelta(minutes=6))
    await desk.in_topic(thread, "/task call back")
    card = await desk.wait(lambda: card_saying(desk, thread, "Open tasks: 1"), timeout=30)
    assert "• Annual licence — Negotiation — 250 000 ₽" in card["text"]
    health = desk.app.health
    await desk.wait(lambda: "amoCRM" in health.links and not health.links["amoCRM"].ok, timeout=30)


async def test_a_restart_keeps_the_last_known_deals(
    emulator: Any, fake: FakeAmoCrm, tmp_path: Path
) -> None:
    chat_id, people = await team_and_client(emulator)
    settings = {
        "DATABASE_URL": f"sqlite://{tmp_path / 'db.sqlite3'}",
        "AMOCRM_BASE_URL": fake.url,
        "AMOCRM_TOKEN": TOKEN,
    }
    fake.add_lead(7, "Annual licence", 250000, status_id=11)
    fake.add_contact("Ann Lee", leads=[7])

    async with running_desk(emulator, chat_id, *people, **settings) as desk:
        thread = await new_topic(desk)
        await desk.wait(lambda: card_saying(desk, thread, "Annual licence"), timeout=30)

    # amoCRM is gone while eadesk restarts: the card, drawn again, shows what it knew.
    await fake.stop()
    async with running_desk(emulator, chat_id, *people, **settings) as desk:
        desk.clock.advance(timedelta(minutes=6))
        await desk.in_topic(thread, "/task call back")
        card = await desk.wait(lambda: card_saying(desk, thread, "Open tasks: 1"), timeout=30)
        assert "• Annual licence — Negotiation — 250 000 ₽" in card["text"]
        health = desk.app.health
        await desk.wait(lambda: "amoCRM" in health.links and not health.links["amoCRM"].ok)


async def test_open_dialogs_follow_amocrm_without_a_redraw(desk: Desk, fake: FakeAmoCrm) -> None:
    fake.add_lead(7, "Annual licence", 250000, status_id=11)
    fake.add_contact("Ann Lee", leads=[7])
    thread = await new_topic(desk)
    card = await desk.wait(lambda: card_saying(desk, thread, "Negotiation"), timeout=30)

    # The deal is won in amoCRM. Within the refresh period the sweep asks nothing; after it,
    # the card of the open dialog shows the new stage, edited in place.
    fake.leads[7].status_id = 142
    source = desk.app.core.crm.source
    asked = fake.count()
    await source.sweep()
    await desk.settle()
    assert fake.count() == asked
    desk.clock.advance(timedelta(minutes=6))
    await source.sweep()
    won = await desk.wait(lambda: card_saying(desk, thread, "Closed - won"), timeout=30)
    assert won["message_id"] == card["message_id"]
