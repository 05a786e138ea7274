"""Close, reopen and snooze from the topic: commands, buttons, free-form times, wake-ups."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from core.lifecycle import DialogStatus
from tests.e2e.conftest import bot_says, open_topic

MOSCOW = ZoneInfo("Europe/Moscow")  # the desk's TIMEZONE; the clock starts Mon 5 Jan 12:00 there


async def with_button(desk, thread: int, data_prefix: str) -> tuple[dict[str, Any], str]:
    """The bot's message in the topic that carries a button, and that button's data."""

    async def find():
        for m in await desk.topic_messages(thread):
            for row in (m.get("reply_markup") or {}).get("inline_keyboard", []):
                for button in row:
                    if button.get("callback_data", "").startswith(data_prefix):
                        return m, button["callback_data"]
        return None

    return await desk.wait(find)


async def topic(desk) -> dict[str, Any]:
    return (await desk.topics())[0]


async def press(desk, message_id: int, data: str, who: dict | None = None) -> dict[str, Any]:
    query = await desk.emu.callback(
        (who or desk.operator)["id"], message_id, data, chat_id=desk.chat_id
    )

    async def answered():
        answer = await desk.emu.callback_answer(query)
        return answer if answer.get("answered") or answer.get("text") else None

    return await desk.wait(answered)


async def test_close_button_then_reopen_command(desk):
    thread = await open_topic(desk)
    message, data = await with_button(desk, thread, "dlg:close:")
    answer = await press(desk, message["message_id"], data)
    assert "Closed by Olga" in (answer.get("text") or "")

    async def closed():
        shown = await topic(desk)
        return shown if shown["closed"] and shown["name"].startswith("✅ ") else None

    await desk.wait(closed)
    assert await desk.status() is DialogStatus.CLOSED
    # The card follows at once (Reopen instead of Close); closing again says so.
    await with_button(desk, thread, "card:reopen:")
    await desk.in_topic(thread, "/close")
    await desk.wait(lambda: bot_says(desk, thread, "already closed"))

    await desk.in_topic(thread, "/reopen")
    await desk.wait(lambda: bot_says(desk, thread, "Reopened by Olga"))

    async def reopened():
        shown = await topic(desk)
        return (
            shown if not shown["closed"] and shown["name"] == "Ann Lee · @acme_help_bot" else None
        )

    await desk.wait(reopened)
    assert await desk.status() is DialogStatus.OPEN
    # An operator may write into the reopened topic and the client gets it.
    await desk.in_topic(thread, "We are back on it")

    async def client_got():
        return [m for m in await desk.client_chat() if m["from"]["is_bot"]]

    assert (await desk.wait(client_got))[-1]["text"] == "We are back on it"


async def test_close_command_and_closing_twice(desk):
    thread = await open_topic(desk)
    await desk.in_topic(thread, "/close")
    await desk.wait(lambda: bot_says(desk, thread, "Closed by Olga"))
    await desk.wait(lambda: _closed(desk))
    # The topic is closed now; an administrator may still post there.
    await desk.in_topic(thread, "/close")
    await desk.wait(lambda: bot_says(desk, thread, "already closed"))
    await desk.in_topic(thread, "/reopen")
    await desk.wait(lambda: bot_says(desk, thread, "Reopened"))
    await desk.in_topic(thread, "/reopen")
    await desk.wait(lambda: bot_says(desk, thread, "already open"))


async def _closed(desk):
    return (await topic(desk))["closed"]


async def test_snooze_keyboard_preset_then_wakes_at_the_moment(desk):
    thread = await open_topic(desk)
    await desk.in_topic(thread, "/snooze")
    keyboard, _ = await with_button(desk, thread, "snz:")
    labels = [b["text"] for row in keyboard["reply_markup"]["inline_keyboard"] for b in row]
    assert labels == [
        "1 hour", "3 hours", "Tomorrow 10:00", "Monday 10:00", "Until the client writes",
        "Custom…",
    ]  # fmt: skip
    dialog = await desk.dialog()
    await press(desk, keyboard["message_id"], f"snz:{dialog.id}:3h")

    async def snoozed():
        shown = await topic(desk)
        return shown if shown["name"].startswith("💤 ") else None

    await desk.wait(snoozed)
    dialog = await desk.dialog()
    assert dialog.status is DialogStatus.SNOOZED
    assert dialog.snoozed_until == desk.clock.now() + timedelta(hours=3)
    # The keyboard became the confirmation.
    edited = await desk.wait(lambda: bot_says(desk, thread, "Olga snoozed the dialog"))
    assert edited and edited[0]["message_id"] == keyboard["message_id"]
    assert not edited[0].get("reply_markup")
    assert not (await topic(desk))["closed"]

    desk.clock.advance(timedelta(hours=2, minutes=59))
    assert await desk.app.core.wake_due_snoozes() == 0
    desk.clock.advance(timedelta(minutes=1))
    assert await desk.app.core.wake_due_snoozes() == 1
    await desk.wait(lambda: bot_says(desk, thread, "The snooze is over"))

    async def woke():
        shown = await topic(desk)
        return shown if shown["name"] == "Ann Lee · @acme_help_bot" else None

    await desk.wait(woke)
    assert await desk.status() is DialogStatus.OPEN


async def test_snooze_custom_button_explains_the_free_form(desk):
    thread = await open_topic(desk)
    await desk.in_topic(thread, "/snooze")
    keyboard, _ = await with_button(desk, thread, "snz:")
    dialog = await desk.dialog()
    answer = await press(desk, keyboard["message_id"], f"snz:{dialog.id}:custom")
    assert "/snooze 2h" in (answer.get("text") or "")
    assert await desk.status() is DialogStatus.OPEN


def moscow(*args: int) -> datetime:
    return datetime(*args, tzinfo=MOSCOW).astimezone(UTC)


@pytest.mark.parametrize(
    ("words", "until"),
    [
        ("30m", moscow(2026, 1, 5, 12, 30)),
        ("2h", moscow(2026, 1, 5, 14, 0)),
        ("3d", moscow(2026, 1, 8, 12, 0)),
        ("tomorrow", moscow(2026, 1, 6, 10, 0)),
        ("fri 15:00", moscow(2026, 1, 9, 15, 0)),
        ("mon", moscow(2026, 1, 12, 10, 0)),
        ("25.12 10:00", moscow(2026, 12, 25, 10, 0)),
        ("2026-12-25 10:00", moscow(2026, 12, 25, 10, 0)),
        ("forever", None),
        ("2ч", moscow(2026, 1, 5, 14, 0)),
        ("завтра", moscow(2026, 1, 6, 10, 0)),
        ("пн 9:00", moscow(2026, 1, 12, 9, 0)),
        ("через 3 дня", moscow(2026, 1, 8, 12, 0)),
        ("навсегда", None),
    ],
)
async def test_snooze_free_form_in_english_and_russian(desk, words, until):
    thread = await open_topic(desk)
    await desk.in_topic(thread, f"/snooze {words}")
    await desk.wait(lambda: bot_says(desk, thread, "snoozed the dialog"))
    dialog = await desk.dialog()
    assert dialog.status is DialogStatus.SNOOZED
    assert dialog.snoozed_until == until


async def test_snooze_in_russian_words_is_answered_in_the_groups_language(desk):
    thread = await open_topic(desk)
    await desk.in_topic(thread, "/snooze завтра", who=desk.colleague)
    # The whole group reads the answer: in LANGUAGE, not in Pavel's own Russian.
    said = await desk.wait(lambda: bot_says(desk, thread, "snoozed the dialog"))
    assert "Pavel" in said[0]["text"] and "10:00" in said[0]["text"]


async def test_snooze_nonsense_gets_examples_and_changes_nothing(desk):
    thread = await open_topic(desk)
    before = await topic(desk)
    await desk.in_topic(thread, "/snooze when pigs fly")
    said = await desk.wait(lambda: bot_says(desk, thread, "Examples"))
    assert len(said) == 1 and "\n" not in said[0]["text"]
    assert "/snooze 2h" in said[0]["text"]
    await desk.in_topic(thread, "/snooze 31.02 10:00", who=desk.colleague)
    await desk.wait(lambda: _count(bot_says(desk, thread, "Examples"), 2))
    assert not await bot_says(desk, thread, "Примеры")
    await desk.settle()
    assert await desk.status() is DialogStatus.OPEN
    assert await topic(desk) == before


async def test_snooze_a_closed_dialog_is_refused(desk):
    thread = await open_topic(desk)
    await desk.in_topic(thread, "/close")
    await desk.wait(lambda: _closed(desk))
    await desk.in_topic(thread, "/snooze 2h")
    await desk.wait(lambda: bot_says(desk, thread, "cannot be snoozed"))
    assert await desk.status() is DialogStatus.CLOSED
    assert not await bot_says(desk, thread, "snoozed the dialog")


async def _count(found, count: int):
    got = await found
    return got if len(got) == count else None
