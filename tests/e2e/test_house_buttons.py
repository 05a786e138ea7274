"""Buttons of an old keyboard (an earlier version's, or data that is no row): a member who
presses one is told in a short answer that it is out of date, and nothing changes."""

from __future__ import annotations

import json
from typing import Any

from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

from core.lifecycle import DialogStatus
from tests.e2e.teamwork import desk_fixture, new_topic

desk = desk_fixture()

STALE = "This button is out of date: nothing was changed."


async def old_keyboard(desk: Any, thread: int, data: list[str]) -> dict[str, Any]:
    """A message of the team bot's in the topic whose buttons carry `data` (as a keyboard of
    an earlier version would)."""
    rows = [[InlineKeyboardButton(text=f"b{i}", callback_data=d)] for i, d in enumerate(data)]
    sent = await desk.app.bot.send_message(
        desk.chat_id,
        "an old keyboard",
        message_thread_id=thread,
        reply_markup=InlineKeyboardMarkup(inline_keyboard=rows),
    )
    return {"message_id": sent.message_id}


async def press(desk: Any, message: dict[str, Any], data: str) -> dict[str, Any]:
    query = await desk.emu.callback(
        desk.operator["id"], message["message_id"], data, chat_id=desk.chat_id
    )

    async def answered() -> dict[str, Any] | None:
        got = await desk.emu.callback_answer(query)
        return got if got["answered"] else None

    return await desk.wait(answered)


async def group_view(desk: Any) -> list[tuple[Any, ...]]:
    return [
        (m["message_id"], m.get("text"), m.get("edit_date"), json.dumps(m.get("reply_markup")))
        for m in await desk.emu.messages(desk.chat_id)
    ]


async def test_data_that_does_not_unpack_is_answered_as_out_of_date(desk):
    thread = await new_topic(desk)
    dialog = await desk.dialog()
    d = dialog.id
    data = [
        f"dlg:close:{d}:extra",  # a field too many
        "dlg:close:0",  # no row id
        "dlg:close:99999999999",  # larger than any id column
        f"dlg:burn:{d}",  # an action that never was
        f"dlg:close:{d}x",  # not a number
        f"snz:{d}:2h",  # no such preset
        f"asg:{d}:-3",  # a negative operator
        f"card:history:{d}:1",
        "lst:-1:o::::w",  # a negative page
        "lst:0:o:-:-:-:w",  # the list's earlier format
        "lst:0:z::::w",  # no such status
        "old:1",  # a prefix of no button
    ]
    keyboard = await old_keyboard(desk, thread, data)
    await desk.settle()
    before = await group_view(desk)
    for pressed in data:
        answer = await press(desk, keyboard, pressed)
        assert answer.get("text") == STALE, (pressed, answer)
    await desk.settle()
    assert await group_view(desk) == before
    assert (await desk.dialog()).status is DialogStatus.OPEN


async def test_a_button_naming_no_dialog_says_so_and_changes_nothing(desk):
    thread = await new_topic(desk)
    keyboard = await old_keyboard(desk, thread, ["dlg:close:4242", "card:history:4242"])
    await desk.settle()
    before = await group_view(desk)
    for pressed in ("dlg:close:4242", "card:history:4242"):
        answer = await press(desk, keyboard, pressed)
        assert answer.get("text") == "This topic is not a client dialog.", (pressed, answer)
    await desk.settle()
    assert await group_view(desk) == before
    assert (await desk.dialog()).status is DialogStatus.OPEN


async def test_the_button_acts_on_the_dialog_its_data_names(desk):
    """A well-formed button of an old keyboard still works: Close closes its dialog."""
    thread = await new_topic(desk)
    d = (await desk.dialog()).id
    keyboard = await old_keyboard(desk, thread, [f"dlg:close:{d}"])
    answer = await press(desk, keyboard, f"dlg:close:{d}")
    assert answer.get("text") == "✅ Closed by Olga.", answer
    assert (await desk.dialog()).status is DialogStatus.CLOSED
