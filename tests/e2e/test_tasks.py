"""Tasks (#15): `/task title [@user] [due]` in a topic, `/tasks` (the client's in a topic, my own
in private), *Done* and *Reopen*, overdue marks, and the private reminder at the due moment —
also when eadesk was restarted in between. Bad input answers in one line and changes nothing."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from core.models import Task
from tests.e2e.conftest import Desk, running_desk, team_and_client
from tests.e2e.teamwork import (
    card_of,
    desk_fixture,
    last_bot_message,
    new_topic,
    pressed,
    private_has,
    said,
    start_private,
)

desk = desk_fixture()


async def newest(desk: Desk, thread: int, needle: str, after: int = 0) -> dict[str, Any] | None:
    found = await last_bot_message(desk, thread, needle)
    return found if found and found["message_id"] > after else None


async def test_a_task_is_made_listed_done_and_reopened(desk: Desk) -> None:
    thread = await new_topic(desk)
    await desk.in_topic(thread, "/task send the invoice tomorrow 12:00")
    made = await desk.wait(lambda: newest(desk, thread, "📌 New task"))
    assert "send the invoice" in made["text"] and "👤 Olga" in made["text"]
    assert "due 06.01 12:00" in made["text"]
    task = await Task.get(title="send the invoice")
    assert task.assignee_id == task.author_id  # type: ignore[attr-defined]

    # Pavel speaks in the group (so the desk knows him) and gets a task of his own.
    await desk.in_topic(thread, "// I can call", who=desk.colleague)
    await desk.wait(lambda: _count_comments(1))
    await desk.in_topic(thread, "/task call the client back @pavel")
    await desk.wait(lambda: newest(desk, thread, "call the client back"))
    pavels = await Task.get(title="call the client back")
    assert (await pavels.assignee).username == "pavel"  # type: ignore[union-attr]
    assert pavels.due_at is None

    await desk.in_topic(thread, "/tasks")
    listed = await desk.wait(lambda: newest(desk, thread, "The client's tasks"))
    assert "open: 2" in listed["text"]
    # Soonest due first, then the undated one.
    assert listed["text"].index("send the invoice") < listed["text"].index("call the client")
    answer = await pressed(desk, desk.colleague, listed, "Done 2")
    assert "Done: call the client back" in answer["text"]
    redrawn = await desk.wait(lambda: _edited(desk, thread, listed, "done by Pavel"))
    assert "open: 1" in redrawn["text"]
    # Open ones first, the done one after them with who did it.
    assert redrawn["text"].index("send the invoice") < redrawn["text"].index("✅ call the")
    assert (await Task.get(id=pavels.id)).done_by_id is not None  # type: ignore[attr-defined]
    # Twice Done is one change.
    again = await pressed(desk, desk.operator, redrawn, "Reopen 2")
    assert "Open again" in again["text"]
    redrawn = await desk.wait(lambda: _edited(desk, thread, listed, "open: 2"))
    assert (await Task.get(id=pavels.id)).done_at is None

    # An overdue task is marked.
    desk.clock.advance(timedelta(days=1, hours=4))
    await desk.in_topic(thread, "/tasks")
    later = await desk.wait(
        lambda: newest(desk, thread, "The client's tasks", listed["message_id"])
    )
    assert "⏰ send the invoice" in later["text"] and "overdue since 06.01 12:00" in later["text"]


async def _count_comments(count: int) -> bool:
    from core.models import Message, MessageKind

    return await Message.filter(kind=MessageKind.COMMENT).count() >= count


async def _edited(
    desk: Desk, thread: int, message: dict[str, Any], needle: str
) -> dict[str, Any] | None:
    for shown in await desk.topic_messages(thread):
        if shown["message_id"] == message["message_id"] and needle in (shown.get("text") or ""):
            return shown
    return None


async def test_my_tasks_in_private_link_to_their_topics(desk: Desk) -> None:
    thread = await new_topic(desk)
    await start_private(desk, desk.operator)
    await desk.in_topic(thread, "/task check the refund in 2h")
    await desk.wait(lambda: newest(desk, thread, "📌 New task"))
    await desk.emu.send(desk.operator["id"], to_bot=desk.bot_username, text="/tasks")
    [mine] = await desk.wait(lambda: private_has(desk, desk.operator, "Your tasks"))
    assert "check the refund" in mine["text"] and "due 05.01 14:00" in mine["text"]
    links = [e["url"] for e in mine.get("entities") or [] if e.get("type") == "text_link"]
    assert any(link.endswith(f"/{thread}") for link in links), links
    answer = await pressed(desk, desk.operator, mine, "Done")
    assert "Done: check the refund" in answer["text"]

    async def redrawn() -> Any:
        for shown in await desk.operator_private():
            if shown["message_id"] == mine["message_id"] and "done by Olga" in shown["text"]:
                return shown
        return None

    await desk.wait(redrawn)


async def test_bad_task_input_answers_the_form_and_changes_nothing(desk: Desk) -> None:
    thread = await new_topic(desk)
    for command, needle in (
        ("/task", "needs a title"),
        ("/task tomorrow 10:00", "needs a title"),
        ("/task call back 01.01.2026 10:00", "already in the past"),
        ("/task call back @nobody", "I do not know the operator @nobody"),
        ("/task call back @olga @pavel", "Only one @user"),
    ):
        before = await last_bot_message(desk, thread, "Form: /task")
        await desk.in_topic(thread, command)

        async def answered(
            needle: str = needle, after: int = before["message_id"] if before else 0
        ) -> Any:
            found = await newest(desk, thread, "Form: /task", after)
            return found if found and needle in found["text"] else None

        await desk.wait(answered)
    await desk.emu.send(desk.operator["id"], chat_id=desk.chat_id, text="/task call back")
    await desk.wait(lambda: said(desk, "general", "works inside a dialog"))
    await desk.settle()
    assert await Task.all().count() == 0


async def test_a_task_given_to_a_colleague_reaches_them_or_waits_for_their_start(
    desk: Desk,
) -> None:
    thread = await new_topic(desk)
    await desk.in_topic(thread, "// on it", who=desk.colleague)
    await desk.wait(lambda: _count_comments(1))
    # Pavel never started the bot: the topic says so once, and the task waits for him.
    await desk.in_topic(thread, "/task ask the warehouse @pavel in 1h")
    await desk.wait(lambda: newest(desk, thread, "📌 New task"))
    await desk.wait(
        lambda: said(
            desk, thread, "Pavel, start a private chat with me (press Start) to get your task"
        )
    )
    desk.clock.advance(timedelta(hours=1))
    assert await desk.app.core.remind_due_tasks() == 1
    await desk.settle()
    assert len(await _lines(desk, thread, "to get your task reminders")) == 1
    # Once he starts it: the task he was given, and its reminder, in Russian.
    await desk.emu.send(desk.colleague["id"], to_bot=desk.bot_username, text="/start")
    given = await desk.wait(lambda: private_has(desk, desk.colleague, "поручил(а) вам задачу"))
    assert "ask the warehouse" in given[0]["text"] and "Olga" in given[0]["text"]
    due = await desk.wait(lambda: private_has(desk, desk.colleague, "Пора выполнить задачу"))
    assert "ask the warehouse" in due[0]["text"]
    # Olga gave it herself: she gets no notice of her own doing.
    assert not await private_has(desk, desk.operator, "gave you a task")


async def _lines(desk: Desk, thread: int, needle: str) -> list[dict[str, Any]]:
    return [
        m
        for m in await desk.topic_messages(thread)
        if m["from"]["is_bot"] and needle in (m.get("text") or "")
    ]


# ---- the reminder, across a restart ------------------------------------------------------------


async def test_a_task_reminder_arrives_at_its_due_time_after_a_restart(
    emulator: Any, tmp_path: Path
) -> None:
    chat_id, people = await team_and_client(emulator)
    olga = people[0]
    url = f"sqlite://{tmp_path / 'db.sqlite3'}"

    async with running_desk(emulator, chat_id, *people, DATABASE_URL=url) as desk:
        thread = await new_topic(desk)
        await start_private(desk, olga)
        await desk.in_topic(thread, "/task call Ann back in 3h")
        await desk.wait(lambda: newest(desk, thread, "📌 New task"))
        # Not yet.
        desk.clock.advance(timedelta(hours=2, minutes=59))
        assert await desk.app.core.remind_due_tasks() == 0

    async with running_desk(emulator, chat_id, *people, DATABASE_URL=url) as desk:
        # The new process's clock: three hours after the task was made.
        desk.clock.advance(timedelta(hours=3))
        assert await desk.app.core.remind_due_tasks() == 1
        [reminder] = await desk.wait(lambda: private_has(desk, olga, "A task is due"))
        assert "call Ann back" in reminder["text"]
        links = [e["url"] for e in reminder.get("entities") or [] if e.get("type") == "text_link"]
        assert any(link.endswith(f"/{thread}") for link in links), links
        # Once only, also when the sweep runs again.
        assert await desk.app.core.remind_due_tasks() == 0
        answer = await pressed(desk, olga, reminder, "Done")
        assert "Done: call Ann back" in answer["text"]

    async with running_desk(emulator, chat_id, *people, DATABASE_URL=url) as desk:
        desk.clock.advance(timedelta(hours=4))
        assert await desk.app.core.remind_due_tasks() == 0
        await desk.settle()
        # One reminder (its message now shows the task done), and nothing more.
        assert len(await private_has(desk, olga, "call Ann back")) == 1


# ---- the form, read as a person writes it ----------------------------------------------------


def test_the_task_form_reads_title_user_and_due() -> None:
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    import pytest

    from bot.team.tasks import TaskFormError, parse_task

    now, tz = datetime(2026, 1, 5, 9, 0, tzinfo=UTC), ZoneInfo("Europe/Moscow")
    got = parse_task("call back @pavel tomorrow 10:00", now, tz)
    assert (got.title, got.mention) == ("call back", "@pavel")
    assert got.due == datetime(2026, 1, 6, 7, 0, tzinfo=UTC)
    got = parse_task("перезвонить клиенту через 2 часа", now, tz)
    assert (got.title, got.due) == ("перезвонить клиенту", now + timedelta(hours=2))
    got = parse_task("buy 2 chairs", now, tz)
    assert (got.title, got.mention, got.due) == ("buy 2 chairs", None, None)
    # "forever" is no moment: it stays in the title.
    assert parse_task("remember forever", now, tz).due is None
    for text, reason in (("", "empty"), ("@pavel 2h", "empty"), ("x 01.01.2026 10:00", "past")):
        with pytest.raises(TaskFormError) as error:
            parse_task(text, now, tz)
        assert error.value.reason == reason, text


async def test_the_card_shows_the_clients_open_tasks(desk: Desk) -> None:
    thread = await new_topic(desk)
    await desk.in_topic(thread, "/task send the invoice tomorrow 12:00")
    await desk.wait(lambda: newest(desk, thread, "📌 New task"))

    async def card_saying(needle: str, absent: str = "") -> dict[str, Any] | None:
        card = await card_of(desk, thread)
        text = (card or {}).get("text") or ""
        return card if needle in text and (not absent or absent not in text) else None

    card = await desk.wait(lambda: card_saying("Open tasks: 1"), timeout=30)
    assert "• send the invoice — " in card["text"]

    await desk.in_topic(thread, "/tasks")
    listed = await desk.wait(lambda: newest(desk, thread, "The client's tasks"))
    await pressed(desk, desk.operator, listed, "Done")
    # Done: it leaves the card (the card is edited in place, not posted again).
    redrawn = await desk.wait(lambda: card_saying("👤", absent="Open tasks"), timeout=30)
    assert redrawn["message_id"] == card["message_id"]
    assert "send the invoice" not in redrawn["text"]
