"""A dialog's command or button where there is no dialog: one short answer, nothing done."""

from __future__ import annotations

from bot.i18n import t
from core.models import Dialog
from tests.e2e.teamwork import desk_fixture, new_topic, said

desk = desk_fixture()


async def in_general(desk, text: str) -> None:
    await desk.emu.send(desk.operator["id"], chat_id=desk.chat_id, text=text)


async def test_a_dialogs_command_in_general_says_where_it_works(desk) -> None:
    for command in ("/take", "/tag vip", "/history", "/client name Ann", "/ban", "/t hello"):
        await in_general(desk, command)
    topic_only = t("error.topic_only", "en")
    await desk.wait(lambda: _count(desk, "general", topic_only, 6))
    await in_general(desk, "/tasks")
    await desk.wait(lambda: said(desk, "general", t("tasks.topic_only", "en")))
    assert await Dialog.all().count() == 0


async def test_a_topic_of_no_dialog_is_told_so(desk) -> None:
    thread = await new_topic(desk)
    other = await desk.app.bot.create_forum_topic(desk.chat_id, "Team chat")
    await desk.in_topic(other.message_thread_id, "/take")
    await desk.in_topic(other.message_thread_id, "/close")
    not_dialog = t("error.not_dialog", "en")
    await desk.wait(lambda: _count(desk, other.message_thread_id, not_dialog, 2))
    dialog = await Dialog.get()
    assert dialog.assignee_id is None  # type: ignore[attr-defined]
    assert dialog.status == "open"
    assert thread != other.message_thread_id


async def _count(desk, thread, needle: str, count: int) -> bool:
    messages = await desk.emu.messages(desk.chat_id, thread_id=thread)
    return sum(needle in (m.get("text") or "") for m in messages if m["from"]["is_bot"]) >= count
