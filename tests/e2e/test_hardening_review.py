"""Issue #10, found in review: an edit of a long text that waits for the group's budget does
not edit its done parts again; a first post's buttons that could not be taken off are taken
off with the next new card."""

from __future__ import annotations

from typing import Any

from core.outbox import RetryLater
from tests.e2e.conftest import open_topic
from tests.e2e.teamwork import buttons, card_of, desk_fixture
from tests.e2e.test_hardening_client import bot_posts, client_edits, client_sends, paragraphs
from tests.e2e.test_hardening_client import posts_in as client_posts
from tests.e2e.test_hardening_operator import dialog_buttons_of, topic_without_card

desk = desk_fixture()


async def test_an_edit_in_parts_that_waits_for_the_budget_edits_each_part_once(desk):
    thread = await open_topic(desk)
    text = paragraphs(12, 400)[:4096]
    sent = await client_sends(desk, text=text)
    first, second = (await client_posts(desk, thread, 3))[1:]

    # The group's budget runs out right before the second part: the edit is tried again.
    edit_post = desk.app.desk.edits.edit_post
    out_of_budget = [True]

    async def budgeted(poster: Any, message_id: int, *args: Any, **kwargs: Any) -> None:
        if message_id == second["message_id"] and out_of_budget:
            out_of_budget.clear()
            raise RetryLater(0, "group budget", waiting=True)
        await edit_post(poster, message_id, *args, **kwargs)

    desk.app.desk.edits.edit_post = budgeted
    edited = text.replace("p10 ", "NEW:").replace("p0 ", "X0 ")
    await client_edits(desk, sent["message_id"], text=edited)

    async def mirrored():
        now = bot_posts(await desk.topic_messages(thread))[1:]
        return now if "NEW:" in "".join(p["text"] for p in now) else None

    now = await desk.wait(mirrored)
    assert not out_of_budget  # the budget did run out
    assert [p["message_id"] for p in now] == [first["message_id"], second["message_id"]]
    assert now[0]["text"].startswith("Ann Lee\nX0 ")
    edits = [
        c
        for c in await desk.emu.calls("editMessageText")
        if str(c["params"].get("message_id")) == str(first["message_id"])
    ]
    assert len(edits) == 1, edits


async def test_first_post_buttons_kept_by_a_failure_go_with_the_next_new_card(desk):
    thread, first = await topic_without_card(desk)
    # Taking the first post's buttons off fails (and is not retried at once).
    await desk.emu.fault(method="editMessageReplyMarkup", times=1)
    await desk.in_topic(thread, "/close")

    async def card_offers(label: str):
        shown = await card_of(desk, thread)
        return shown if shown and any(label in k for k in buttons(shown)) else None

    card = await desk.wait(lambda: card_offers("Reopen"))
    await desk.settle()

    async def first_post() -> dict[str, Any]:
        posts = await desk.topic_messages(thread)
        return next(m for m in posts if m["message_id"] == first["message_id"])

    assert dialog_buttons_of(await first_post()) == {"close", "snooze"}

    # The card is gone (deleted by hand): the next redraw posts a new one.
    await desk.app.bot.delete_message(desk.chat_id, card["message_id"])
    await desk.in_topic(thread, "/reopen")
    new = await desk.wait(lambda: card_offers("Close"))
    assert new["message_id"] != card["message_id"]

    async def first_post_plain() -> bool:
        return not dialog_buttons_of(await first_post())

    # Cosmetic work that backs off after the fault: it goes when the outbox comes back to it,
    # after the clients' and the cards' calls; this test spends about the group's whole budget
    # of a minute (20 calls), so it may wait for the next minute.
    await desk.wait(first_post_plain, timeout=90)
