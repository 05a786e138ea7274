"""Where a website visitor writes from — the page (title and address), where they came
from, their browser's language and time zone — is on the dialog's pinned card, kept up to
date when they move to another page (the same card, edited in place)."""

from __future__ import annotations

import time
from typing import Any

from tests.e2e.conftest import Desk, bot_says
from tests.e2e.teamwork import card_of
from tests.e2e.test_webchat import SITE, Visitor, desk, http, topic_with, visitor

__all__ = ["desk", "http", "visitor"]  # the fixtures, shared with test_webchat


async def send_from(visitor: Visitor, text: str, page: dict[str, str]) -> None:
    client_id = f"c{time.monotonic_ns()}"
    body = {"token": visitor.token, "client_id": client_id, "text": text, "page": page}
    status, answer = await visitor.call("POST", "/webchat/api/send", json=body)
    assert status == 200, answer


async def the_card(desk: Desk, thread: int, needle: str) -> dict[str, Any]:
    async def shown() -> dict[str, Any] | None:
        await desk.settle()
        card = await card_of(desk, thread)
        return card if card is not None and needle in card["text"] else None

    return dict(await desk.wait(shown))


async def test_the_card_shows_where_the_visitor_writes_from_and_follows_them(
    desk: Desk, visitor: Visitor
) -> None:
    await visitor.session()  # on the pricing page, from a search, en-GB, Europe/Berlin
    await visitor.send("How much is it?")
    thread = await topic_with(desk, "How much is it?")
    card = await the_card(desk, thread, f"{SITE}/pricing")
    text = card["text"]
    assert f"🌐 Page: Pricing — Shop — {SITE}/pricing" in text
    assert "↩️ Came from: https://search.example/?q=shop" in text
    assert "🗣 Language: en-GB" in text
    assert "🕒 Time zone: Europe/Berlin" in text
    # On the card only: no line of it in the topic besides the card.
    told = [m for m in await bot_says(desk, thread, f"{SITE}/pricing") if not m.get("pinned")]
    assert told == []

    # More from the same page: the card stays as it is.
    await visitor.send("And with a discount?")
    await desk.wait(lambda: bot_says(desk, thread, "And with a discount?"))
    await desk.settle()
    same = await card_of(desk, thread)
    assert same is not None and same["message_id"] == card["message_id"]
    assert same["text"] == text
    assert same.get("edit_date") == card.get("edit_date")  # not edited again

    # Another page: the same card now shows it (the topic is not told: a line there for each
    # page would cost the group's budget).
    checkout = {
        "url": f"{SITE}/checkout",
        "title": "Checkout — Shop",
        "referrer": f"{SITE}/pricing",
        "lang": "en-GB",
        "tz": "Europe/Berlin",
    }
    await send_from(visitor, "The button does not work", checkout)
    moved = await the_card(desk, thread, f"{SITE}/checkout")
    assert moved["message_id"] == card["message_id"]
    assert f"{SITE}/pricing" not in moved["text"].split("Came from")[0]
    [post] = await desk.wait(lambda: bot_says(desk, thread, "The button does not work"))
    assert "checkout" not in post["text"]
