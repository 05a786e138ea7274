"""Responsible operator: /assign in its three forms, /take, /unassign, and private notices."""

from __future__ import annotations

from datetime import timedelta

from core.models import Dialog
from tests.e2e.teamwork import (
    card_of,
    desk_fixture,
    last_bot_message,
    new_topic,
    press,
    private_has,
    said,
    start_private,
)

desk = desk_fixture()


async def assignee_name(desk) -> str | None:
    dialog = await Dialog.all().order_by("-id").first().prefetch_related("assignee")
    return dialog.assignee.name if dialog and dialog.assignee else None


async def test_assign_by_username_tells_the_assignee_privately_with_a_link(desk):
    thread = await new_topic(desk)
    await start_private(desk, desk.colleague)
    await desk.in_topic(thread, "I can help too", who=desk.colleague)  # Pavel is now known
    await desk.in_topic(thread, "/assign @pavel")

    await desk.wait(lambda: said(desk, thread, "Pavel is responsible now"))
    assert await assignee_name(desk) == "Pavel"
    notices = await desk.wait(lambda: private_has(desk, desk.colleague, "Olga"))
    assert f"https://t.me/c/{str(desk.chat_id)[4:]}/{thread}" in notices[-1]["text"]
    assert "Ann Lee" in notices[-1]["text"]
    card = await desk.wait(lambda: _card_says(desk, thread, "Pavel"))
    assert card["pinned"]


async def _card_says(desk, thread, needle):
    card = await card_of(desk, thread)
    return card if card and needle in card["text"] else None


async def test_assign_as_a_reply_to_an_operators_message(desk):
    thread = await new_topic(desk)
    sent = await desk.in_topic(thread, "I'll look at it", who=desk.colleague)
    await desk.in_topic(thread, "/assign", reply_to_message_id=sent["message_id"])
    await desk.wait(lambda: said(desk, thread, "Pavel is responsible now"))
    assert await assignee_name(desk) == "Pavel"


async def test_assign_alone_offers_buttons_and_a_press_assigns(desk):
    thread = await new_topic(desk)
    await desk.in_topic(thread, "hello team", who=desk.colleague)
    await desk.in_topic(thread, "/assign")
    menu = await desk.wait(lambda: last_bot_message(desk, thread, "Who is responsible"))
    await press(desk, desk.operator, menu, "Pavel")
    await desk.wait(lambda: said(desk, thread, "Pavel is responsible now"))
    assert await assignee_name(desk) == "Pavel"

    # The card's Assign button offers the same menu; "Nobody" unassigns.
    card = await desk.wait(lambda: _card_says(desk, thread, "Pavel"))
    await press(desk, desk.operator, card, "Assign")

    # The first menu became its confirmation; this is a new one.
    menu = await desk.wait(lambda: last_bot_message(desk, thread, "Who is responsible"))
    await press(desk, desk.operator, menu, "Nobody")
    await desk.wait(lambda: said(desk, thread, "Nobody is responsible now"))
    assert await assignee_name(desk) is None


async def test_take_and_unassign(desk):
    thread = await new_topic(desk)
    await desk.in_topic(thread, "/take")
    await desk.wait(lambda: said(desk, thread, "Olga took the dialog."))
    assert not await said(desk, thread, "assigned by Olga")
    assert await assignee_name(desk) == "Olga"
    await desk.in_topic(thread, "/take")
    await desk.wait(lambda: said(desk, thread, "Olga is already responsible"))
    await desk.in_topic(thread, "/unassign")
    await desk.wait(lambda: said(desk, thread, "Nobody is responsible now"))
    assert await assignee_name(desk) is None
    # Taking it yourself sends no private notice.
    assert not await private_has(desk, desk.operator, "made you responsible")


async def test_bad_arguments_get_one_clear_line(desk):
    thread = await new_topic(desk)
    await desk.in_topic(thread, "/assign @nobody_here")
    await desk.wait(lambda: said(desk, thread, "I do not know the operator @nobody_here"))
    client_copy = next(
        m
        for m in await desk.topic_messages(thread)
        if m["from"]["is_bot"] and "Hello" in (m.get("text") or "")
    )
    await desk.in_topic(thread, "/assign", reply_to_message_id=client_copy["message_id"])
    await desk.wait(lambda: said(desk, thread, "Reply to an operator's message"))
    await desk.emu.send(desk.operator["id"], chat_id=desk.chat_id, text="/take")
    await desk.wait(lambda: said(desk, "general", "works inside a dialog's topic"))
    assert await assignee_name(desk) is None


async def test_a_burst_of_client_messages_is_one_private_notice(desk):
    thread = await new_topic(desk)
    await start_private(desk, desk.colleague)
    await desk.in_topic(thread, "on it", who=desk.colleague)
    await desk.in_topic(thread, "/assign @pavel")
    await desk.wait(lambda: private_has(desk, desk.colleague, "назначил"))
    desk.app.teamwork.timings.activity = 1.0
    for text in ("one", "two", "three"):
        await desk.client_says(text)
    await desk.wait(lambda: said(desk, thread, "three"))
    notices = await desk.wait(lambda: private_has(desk, desk.colleague, "🔔"), timeout=10)
    await desk.settle()
    notices = await private_has(desk, desk.colleague, "🔔")
    assert len(notices) == 1, notices
    assert "3" in notices[0]["text"]


async def test_a_snooze_wake_up_tells_the_assignee(desk):
    thread = await new_topic(desk)
    await start_private(desk, desk.operator)
    await desk.in_topic(thread, "/assign @olga", who=desk.colleague)
    await desk.wait(lambda: private_has(desk, desk.operator, "made you responsible"))
    await desk.in_topic(thread, "/snooze 1h")
    await desk.wait(lambda: said(desk, thread, "snoozed the dialog"))
    desk.clock.advance(timedelta(hours=1))
    assert await desk.app.core.wake_due_snoozes() == 1
    woke = await desk.wait(lambda: private_has(desk, desk.operator, "woke up"), timeout=10)
    assert "Ann Lee" in woke[0]["text"]
