"""Who may act, in which language, and what never counts as a client's words."""

from __future__ import annotations

from typing import Any

from core.lifecycle import DialogStatus
from core.models import Dialog, InboxItem, Message, MessageKind, Operator
from tests.e2e.conftest import bot_says, build_desk, open_topic


async def private_answers(desk, who: dict[str, Any], count: int = 1) -> list[dict[str, Any]]:
    async def enough():
        got = [m for m in await desk.operator_private(who) if m["from"]["is_bot"]]
        return got if len(got) >= count else None

    return await desk.wait(enough)


async def test_close_from_a_client_in_private_is_just_what_they_said(desk):
    thread = await open_topic(desk)
    await desk.client_says("/close")
    await desk.wait(lambda: _client_post(desk, thread, "/close"))
    await desk.settle()
    assert await desk.status() is DialogStatus.OPEN
    assert not (await desk.topics())[0]["closed"]
    assert await Operator.filter(user_id=desk.client["id"]).count() == 0
    # The client got no command answer either.
    assert not [m for m in await desk.client_chat() if m["from"]["is_bot"]]


async def _client_post(desk, thread: int, text: str) -> bool:
    return any(m.get("text") == f"Ann Lee\n{text}" for m in await desk.topic_messages(thread))


async def test_a_stranger_asking_for_notes_is_a_client(desk):
    await desk.client_says("/notes")
    thread = (await desk.only_topic())["thread_id"]
    await desk.wait(lambda: _client_post(desk, thread, "/notes"))
    await desk.settle()
    said = [m for m in await desk.client_chat() if m["from"]["is_bot"]]
    assert said == []
    assert await Operator.filter(user_id=desk.client["id"]).count() == 0
    await desk.client_says("/help")
    await desk.wait(lambda: _client_post(desk, thread, "/help"))
    assert [m for m in await desk.client_chat() if m["from"]["is_bot"]] == []


async def test_notes_lists_ones_own_notes_by_dialog(desk):
    await desk.emu.send(desk.operator["id"], to_bot=desk.bot_username, text="/start")
    await private_answers(desk, desk.operator)
    first = await open_topic(desk)
    other_client = await desk.emu.user("Boris", language_code="ru")
    await desk.client_says("Hi there", who=other_client)

    async def two_topics():
        topics = await desk.topics()
        return topics if len(topics) == 2 else None

    topics = await desk.wait(two_topics)
    second = next(t["thread_id"] for t in topics if t["thread_id"] != first)
    await desk.in_topic(first, "/note Ann wants a refund")
    await desk.in_topic(first, "/note check her address")
    await desk.in_topic(second, "/note Boris is a wholesaler")
    await desk.in_topic(second, "/note Pavel's own remark", who=desk.colleague)
    await desk.wait(lambda: _private_has(desk, desk.operator, "Boris is a wholesaler"))

    await desk.emu.send(desk.operator["id"], to_bot=desk.bot_username, text="/notes")

    async def listed():
        got = await desk.operator_private(desk.operator)
        return [m for m in got if m["from"]["is_bot"] and "Your notes" in (m["text"] or "")]

    listing = (await desk.wait(listed))[-1]["text"]
    lines = listing.splitlines()
    ann = next(i for i, line in enumerate(lines) if line.startswith("Ann Lee ·"))
    boris = next(i for i, line in enumerate(lines) if line.startswith("Boris ·"))
    assert lines[ann + 1 : ann + 3] == ["• Ann wants a refund", "• check her address"]
    assert lines[boris + 1] == "• Boris is a wholesaler"
    assert "Pavel's own remark" not in listing
    assert f"/{first}" in lines[ann]  # a link back to the topic

    # Another operator's /notes shows theirs only, in their language.
    await desk.emu.send(desk.colleague["id"], to_bot=desk.bot_username, text="/notes")

    async def colleague_listing():
        got = await desk.operator_private(desk.colleague)
        return [m for m in got if m["from"]["is_bot"] and "Ваши заметки" in (m["text"] or "")]

    theirs = (await desk.wait(colleague_listing))[-1]["text"]
    assert "Pavel's own remark" in theirs
    assert "refund" not in theirs and "wholesaler" not in theirs and "address" not in theirs


async def _private_has(desk, who, needle) -> bool:
    return any(needle in (m.get("text") or "") for m in await desk.operator_private(who))


async def test_notes_without_any(desk):
    await desk.emu.send(desk.colleague["id"], to_bot=desk.bot_username, text="/notes")
    got = await private_answers(desk, desk.colleague)
    assert got[0]["text"].startswith("Заметок пока нет")


async def test_the_group_in_its_language_each_operator_in_theirs_in_private(desk):
    thread = await open_topic(desk)
    await desk.in_topic(thread, "/help")
    await desk.in_topic(thread, "/help", who=desk.colleague)  # Pavel speaks Russian

    async def both():
        got = await bot_says(desk, thread, "In a dialog topic")
        return got if len(got) == 2 else None

    # The whole group reads the answers: both in the group's language (LANGUAGE=en).
    await desk.wait(both)
    assert not await bot_says(desk, thread, "В теме диалога")
    await desk.emu.send(desk.colleague["id"], to_bot=desk.bot_username, text="/start")
    welcome = await private_answers(desk, desk.colleague)
    assert welcome[0]["text"].startswith("Привет, Pavel")


async def test_other_languages_get_the_configured_language(emulator):
    async for desk in build_desk(emulator, LANGUAGE="ru"):
        await german_speakers_get_russian(desk)


async def german_speakers_get_russian(desk) -> None:
    thread = await open_topic(desk)
    german = await desk.emu.user("Greta", language_code="de")
    await desk.in_topic(thread, "/frobnicate", who=german)
    said = await desk.wait(lambda: bot_says(desk, thread, "Неизвестная команда"))
    assert len(said) == 1
    # The client's greeting follows the client's language, Russian here as well.
    stranger = await desk.emu.user("Hans", language_code="de")
    await desk.client_says("/start", who=stranger)

    async def greeted():
        return [m for m in await desk.client_chat(stranger) if m["from"]["is_bot"]]

    greeting = await desk.wait(greeted)
    assert greeting[0]["text"].startswith("Здравствуйте")


async def test_unknown_command_in_a_topic_gets_one_clear_line(desk):
    thread = await open_topic(desk)
    await desk.in_topic(thread, "/frobnicate now")
    said = await desk.wait(lambda: bot_says(desk, thread, "Unknown command"))
    await desk.settle()
    assert len(said) == 1 and "\n" not in said[0]["text"] and "/help" in said[0]["text"]
    assert not [m for m in await desk.client_chat() if m["from"]["is_bot"]]


async def test_service_messages_never_count_as_traffic(desk):
    thread = await open_topic(desk)
    # An operator opens a topic by hand and pins something: no dialog, no relay, no answer.
    hand_made = await desk.app.bot.create_forum_topic(desk.chat_id, "Team lunch")
    shown = await desk.in_topic(hand_made.message_thread_id, "Who is in?")
    await desk.app.bot.pin_chat_message(desk.chat_id, shown["message_id"])
    await desk.in_topic(thread, "Thanks, noted")

    async def client_replies():
        return [m for m in await desk.client_chat() if m["from"]["is_bot"]]

    replies = await desk.wait(client_replies)
    await desk.settle()
    assert [m["text"] for m in replies] == ["Thanks, noted"]
    assert await Dialog.all().count() == 1
    assert await Message.filter(kind=MessageKind.IN).count() == 1
    lunch = await desk.topic_messages(hand_made.message_thread_id)
    assert [m["text"] for m in lunch if m["kind"] != "service"] == ["Who is in?"]
    # Every update, service ones included, was taken and none failed.
    assert await InboxItem.filter(processed_at=None).count() == 0
    assert await InboxItem.exclude(error="").count() == 0
