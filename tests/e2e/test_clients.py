"""Editing the client and merging two clients who are one person (#15), as operators do it in
the topics: `/client name|about`, `/contact add|del` with normalised values and a merge offered
for another client's contact, `/merge` by a reply, a contact or a topic link — after which one
client has both channels' dialogs and one history with each message once; bad input changes
nothing; a client typing the same commands is just a client talking."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from core.models import Client, Contact, ContactKind, Dialog, Event
from tests.e2e.conftest import Desk, bot_says
from tests.e2e.teamwork import (
    buttons,
    card_of,
    last_bot_message,
    new_topic,
    pressed,
    said,
    start_private,
    teamwork_desk,
)
from tests.loopback.connector import LoopbackConnector


@pytest.fixture
def loopback() -> LoopbackConnector:
    return LoopbackConnector()


@pytest.fixture
async def desk(emulator: Any, loopback: LoopbackConnector) -> AsyncIterator[Desk]:
    async for value in teamwork_desk(emulator, connectors=[loopback]):
        yield value


async def two_topics(desk: Desk, loopback: LoopbackConnector) -> tuple[int, int]:
    """Ann writes on Telegram, Lena on the loopback channel: two clients, a topic each."""
    ann = await new_topic(desk, "tg hello")
    await loopback.client_writes("loop hello")

    async def lena_topic() -> int | None:
        threads = [t["thread_id"] for t in await desk.topics() if t["thread_id"] != ann]
        return int(threads[0]) if threads else None

    lena = await desk.wait(lena_topic)
    await desk.wait(lambda: bot_says(desk, lena, "loop hello"))
    return ann, lena


async def card_shows(desk: Desk, thread: int, needle: str) -> dict[str, Any] | None:
    card = await card_of(desk, thread)
    return card if card and needle in card["text"] else None


async def history_page(desk: Desk) -> dict[str, Any] | None:
    pages = [
        m
        for m in await desk.operator_private()
        if m["from"]["is_bot"] and "📜" in (m.get("text") or "")
    ]
    return pages[-1] if pages else None


async def title_of(desk: Desk, thread: int) -> str:
    return next(t["name"] for t in await desk.topics() if t["thread_id"] == thread)


async def test_merge_by_a_reply_gives_one_client_with_one_history_each_message_once(
    desk: Desk, loopback: LoopbackConnector
) -> None:
    ann, lena = await two_topics(desk, loopback)
    await desk.client_says("tg again")
    await desk.wait(lambda: bot_says(desk, ann, "tg again"))
    post = (await bot_says(desk, lena, "loop hello"))[-1]

    # In Ann's topic, a reply to the loopback client's message: they are one person.
    await desk.in_topic(ann, "/merge", reply_to_message_id=post["message_id"])
    await desk.wait(lambda: said(desk, ann, "merged Lena Park into Ann Lee"))

    clients = {c.id: c for c in await Client.all()}
    kept = next(c for c in clients.values() if c.merged_into_id is None)  # type: ignore[attr-defined]
    assert kept.name == "Ann Lee"
    assert await Dialog.filter(client_id=kept.id).count() == 2
    assert await Contact.filter(client_id=kept.id).count() == 2
    assert await Event.filter(name="client.merged").count() == 1
    # Both cards are redrawn: every contact with its channel, the other dialog.
    card = await desk.wait(lambda: card_shows(desk, ann, "webchat: visitor-1 — Loopback"))
    assert f"telegram: {desk.client['id']}" in card["text"]
    await desk.wait(lambda: card_shows(desk, lena, "👤 Ann Lee"))
    # The loopback dialog's topic is titled with the remaining client's name now.
    await desk.wait(lambda: _titled(desk, lena, "Ann Lee"))

    # One history over both channels, each message once.
    await loopback.client_writes("loop again")
    await desk.wait(lambda: bot_says(desk, lena, "loop again"))
    await start_private(desk, desk.operator)
    await desk.in_topic(lena, "/history")
    page = await desk.wait(lambda: history_page(desk))
    for text in ("tg hello", "tg again", "loop hello", "loop again"):
        assert page["text"].count(text) == 1, (text, page["text"])
    assert page["text"].index("tg hello") < page["text"].index("loop again")

    # Again: the same client now; nothing changes.
    await desk.in_topic(ann, "/merge", reply_to_message_id=post["message_id"])
    await desk.wait(lambda: said(desk, ann, "this same client"))
    assert await Event.filter(name="client.merged").count() == 1


async def _titled(desk: Desk, thread: int, name: str) -> bool:
    return (await title_of(desk, thread)).startswith(name)


async def test_a_contact_is_normalised_and_another_clients_contact_offers_a_merge(
    desk: Desk, loopback: LoopbackConnector
) -> None:
    ann, lena = await two_topics(desk, loopback)
    await desk.in_topic(lena, "/contact add phone +44 20 7946 0958")
    await desk.wait(lambda: said(desk, lena, "Contact added: phone +442079460958"))
    await desk.wait(lambda: card_shows(desk, lena, "phone: +442079460958"))
    await desk.in_topic(lena, "/contact add email Lena.Park@Example.COM")
    await desk.wait(lambda: card_shows(desk, lena, "email: lena.park@example.com"))

    # Invalid forms: one line with the right form; nothing changes.
    before = await Contact.all().count()
    await desk.in_topic(lena, "/contact add phone 12345")
    await desk.wait(lambda: said(desk, lena, "Form: +CC number with the country code"))
    await desk.in_topic(lena, "/contact add email lena@")
    await desk.wait(lambda: said(desk, lena, "Form: name@example.com"))
    await desk.in_topic(lena, "/contact add fax 123")
    await desk.wait(lambda: said(desk, lena, "Unknown contact kind"))
    await desk.in_topic(lena, "/contact")
    await desk.wait(lambda: said(desk, lena, "Form: /contact add KIND value"))
    assert await Contact.all().count() == before

    # Removing: a number she has goes; the channel's own contact stays.
    await desk.in_topic(lena, "/contact del phone +442079460958")
    await desk.wait(lambda: said(desk, lena, "Contact removed: phone +442079460958"))
    await desk.in_topic(lena, "/contact del webchat visitor-1")
    await desk.wait(lambda: said(desk, lena, "Unknown contact kind"))

    # Ann's Telegram id is someone else's contact: a merge is offered, no duplicate.
    await desk.in_topic(lena, f"/contact add telegram {desk.client['id']}")
    offer = await desk.wait(lambda: last_bot_message(desk, lena, "another client, Ann Lee"))
    assert await Contact.filter(kind=ContactKind.TELEGRAM).count() == 1
    assert "🔗 Merge with Ann Lee" in buttons(offer)
    answer = await pressed(desk, desk.operator, offer, "Merge with Ann Lee")
    assert "merged Ann Lee into Lena Park" in (answer.get("text") or "")
    # Lena's topic is where it was pressed: she remains, with Ann's dialog.
    lena_client = await Client.get(name="Lena Park")
    assert lena_client.merged_into_id is None  # type: ignore[attr-defined]
    assert await Dialog.filter(client_id=lena_client.id).count() == 2
    await desk.wait(lambda: card_shows(desk, ann, "👤 Lena Park"))
    await desk.wait(lambda: card_shows(desk, lena, "telegram:"))


async def test_merge_by_a_contact_or_a_topic_link_and_what_cannot_be_merged(
    desk: Desk, loopback: LoopbackConnector
) -> None:
    ann, lena = await two_topics(desk, loopback)
    await desk.in_topic(ann, "/merge email nobody@example.com")
    await desk.wait(lambda: said(desk, ann, "No client has that contact"))
    await desk.in_topic(ann, "/merge phone not-a-number")
    await desk.wait(lambda: said(desk, ann, "Not a phone number"))
    internal = str(desk.chat_id).removeprefix("-100")
    await desk.in_topic(ann, f"/merge https://t.me/c/{internal}/{ann}")
    await desk.wait(lambda: said(desk, ann, "this same client"))
    await desk.in_topic(ann, "/merge https://t.me/c/123/4")
    await desk.wait(lambda: said(desk, ann, "not a client dialog's topic"))
    await desk.in_topic(ann, "/merge")
    await desk.wait(lambda: said(desk, ann, "Form: /merge as a reply"))
    assert await Event.filter(name="client.merged").count() == 0

    # Ann's topic's link, from Lena's topic: Lena remains.
    await desk.in_topic(lena, f"/merge https://t.me/c/{internal}/{ann}")
    await desk.wait(lambda: said(desk, lena, "merged Ann Lee into Lena Park"))
    # And by a contact, the other way round (from a fresh Telegram client).
    bob = await desk.emu.user("Bob", language_code="en")
    await desk.client_says("from Bob", who=bob)

    async def bob_topic() -> int | None:
        known = {ann, lena}
        threads = [t["thread_id"] for t in await desk.topics() if t["thread_id"] not in known]
        return int(threads[0]) if threads else None

    bob_thread = await desk.wait(bob_topic)
    await desk.in_topic(bob_thread, f"/merge telegram {desk.client['id']}")
    await desk.wait(lambda: said(desk, bob_thread, "merged Lena Park into Bob"))
    bob_client = await Client.get(name="Bob")
    assert await Dialog.filter(client_id=bob_client.id).count() == 3
    assert await Event.filter(name="client.merged").count() == 2


async def test_the_client_is_renamed_and_described_and_the_form_shows_it(
    desk: Desk, loopback: LoopbackConnector
) -> None:
    thread = await new_topic(desk, "hello")
    await desk.in_topic(thread, "/client name Anna Lee-Smith")
    await desk.wait(lambda: card_shows(desk, thread, "👤 Anna Lee-Smith"))
    await desk.wait(lambda: _titled(desk, thread, "Anna Lee-Smith"))
    await desk.in_topic(thread, "/client about Pays late; prefers e-mail")
    await desk.wait(lambda: card_shows(desk, thread, "Pays late; prefers e-mail"))
    await desk.in_topic(thread, "/client")
    form = await desk.wait(lambda: last_bot_message(desk, thread, "About: Pays late"))
    assert "/contact add KIND value" in form["text"]
    await desk.in_topic(thread, "/client about -")
    card = await desk.wait(lambda: _card_without(desk, thread, "Pays late"))
    assert "👤 Anna Lee-Smith" in card["text"]
    await desk.in_topic(thread, "/client name")
    await desk.wait(lambda: said(desk, thread, "Form: /client (the client)"))
    assert (await Client.get()).name == "Anna Lee-Smith"


async def _card_without(desk: Desk, thread: int, needle: str) -> dict[str, Any] | None:
    card = await card_of(desk, thread)
    return card if card and needle not in card["text"] else None


async def test_a_client_typing_the_commands_is_just_a_client_talking(
    desk: Desk, loopback: LoopbackConnector
) -> None:
    thread = await new_topic(desk, "hello")
    await desk.client_says("/contact add phone +44 20 7946 0958")
    await desk.wait(lambda: bot_says(desk, thread, "/contact add phone"))
    await desk.client_says("/client name Hacker")
    await desk.wait(lambda: bot_says(desk, thread, "/client name Hacker"))
    assert await Contact.filter(kind=ContactKind.PHONE).count() == 0
    assert (await Client.get()).name == "Ann Lee"
