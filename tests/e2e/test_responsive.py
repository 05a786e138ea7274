"""Nothing a person does waits for the group's budget, and a client's message never waits
behind the topic's looks: what people see, and in what order (the emulator's call log)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.e2e.conftest import (
    TEAM_BOT,
    TEAM_TOKEN,
    Desk,
    bot_says,
    build_desk,
    open_topic,
    running_desk,
)
from tests.e2e.teamwork import (
    buttons,
    card_of,
    desk_fixture,
    last_bot_message,
    new_topic,
    press,
    private_has,
    start_private,
)

desk = desk_fixture()


RELAY_TOKEN = "700778:relay-member-token"


@pytest.fixture
async def with_relay(emulator: Any) -> AsyncIterator[Desk]:
    """A team with a relay bot that is a plain member of the group (it may post into open
    topics, not into closed ones), Telegram's limits on."""
    await emulator.limits(True)
    await emulator.bot(TEAM_TOKEN, username=TEAM_BOT)
    await emulator.bot(RELAY_TOKEN, username="acme_relay_bot")
    operator = await emulator.user("Olga", username="olga", language_code="en")
    colleague = await emulator.user("Pavel", username="pavel", language_code="ru")
    client = await emulator.user("Ann", last_name="Lee", language_code="en")
    rights = {"can_manage_topics": True, "can_delete_messages": True, "can_pin_messages": True}
    group = await emulator.group(
        title="Acme support",
        forum=True,
        members=[{"user_id": operator["id"], "status": "administrator"}],
        bots=[
            {"token": TEAM_TOKEN, "status": "administrator", "rights": rights},
            {"token": RELAY_TOKEN, "status": "member"},
        ],
    )
    async with running_desk(
        emulator, group["chat_id"], operator, colleague, client, RELAY_BOT_TOKENS=RELAY_TOKEN
    ) as value:
        yield value


@pytest.fixture
async def quiet_group(emulator: Any) -> AsyncIterator[Desk]:
    """A quiet group with Telegram's limits on, and eadesk's budget as it ships."""
    await emulator.limits(True)
    async for value in build_desk(emulator):
        yield value


# While Telegram says "retry after" this long, no bot of ours may put anything into the group.
BLOCKED = 3.0


def block_the_group(desk: Desk) -> None:
    """Every bot that posts into the group was told to wait (a 429): its budget is spent."""
    for poster in desk.app.desk.gateway.posters:
        poster.budget.penalize(BLOCKED)


async def last_call(desk: Desk) -> float:
    return float((await desk.emu.calls())[-1]["t"])


async def calls_since(desk: Desk, since: float) -> list[dict[str, Any]]:
    return [c for c in await desk.emu.calls(since=since) if c["t"] > since and c["ok"]]


async def answered(desk: Desk, query_id: str) -> dict[str, Any] | None:
    answer = await desk.emu.callback_answer(query_id)
    return answer if answer.get("answered") else None


def posted_into(thread: int) -> Any:
    def match(call: dict[str, Any]) -> bool:
        params = call["params"]
        return call["method"] == "sendMessage" and str(params.get("message_thread_id")) == str(
            thread
        )

    return match


def edited(message_id: int) -> Any:
    def match(call: dict[str, Any]) -> bool:
        params = call["params"]
        return call["method"] == "editMessageText" and str(params.get("message_id")) == str(
            message_id
        )

    return match


async def answered_first(desk: Desk, query_id: str, since: float, effect: Any) -> str:
    """The press was answered before what it asked for reached the group (which waited for
    the group's budget); the answer's text."""
    answer = await desk.wait(lambda: answered(desk, query_id))

    async def seen() -> list[dict[str, Any]] | None:
        calls = await calls_since(desk, since)
        return calls if any(effect(c) for c in calls) else None

    calls = await desk.wait(seen)
    methods = [c["method"] for c in calls]
    pressed = methods.index("answerCallbackQuery")
    assert pressed < next(i for i, c in enumerate(calls) if effect(c)), methods
    return str(answer.get("text") or "")


async def test_history_is_answered_at_once_and_needs_nothing_of_the_group(desk):
    thread = await new_topic(desk)
    card = await desk.wait(lambda: card_of(desk, thread))
    await start_private(desk, desk.operator)
    block_the_group(desk)
    since = await last_call(desk)
    pressed = await press(desk, desk.operator, card, "History")
    answer = await desk.wait(lambda: answered(desk, pressed))
    assert "private chat" in answer["text"]
    # The history goes to the presser's private chat (#15), while the group is still blocked.
    history = await desk.wait(lambda: private_has(desk, desk.operator, "📜 History"))
    assert "Hello" in history[-1]["text"]
    assert not [c for c in await calls_since(desk, since) if posted_into(thread)(c)]


async def test_snooze_is_answered_at_once_and_its_keyboard_follows(desk):
    thread = await new_topic(desk)
    card = await desk.wait(lambda: card_of(desk, thread))
    block_the_group(desk)
    since = await last_call(desk)
    pressed = await press(desk, desk.operator, card, "Snooze")
    await answered_first(desk, pressed, since, posted_into(thread))
    keyboard = await desk.wait(lambda: last_bot_message(desk, thread, "Snooze until when?"))

    # The chosen time: answered at once, with what was done; the keyboard becomes that line.
    block_the_group(desk)
    since = await last_call(desk)
    pressed = await press(desk, desk.operator, keyboard, "1 hour")
    said = await answered_first(desk, pressed, since, edited(keyboard["message_id"]))
    assert "snoozed the dialog" in said
    confirmed = await desk.wait(lambda: last_bot_message(desk, thread, "snoozed the dialog"))
    assert confirmed["message_id"] == keyboard["message_id"]
    assert not buttons(confirmed)


async def topic_state(desk: Desk, thread: int) -> dict[str, Any]:
    return next(t for t in await desk.topics() if t["thread_id"] == thread)


def opened_title(call: dict[str, Any]) -> bool:
    """A title change to an open dialog's title (no ✅ or 💤 in front)."""
    name = call["params"].get("name") or ""
    return call["method"] == "editForumTopic" and bool(name) and not name.startswith(("✅", "💤"))


async def posted_before_the_topic_changed(desk: Desk, thread: int, text: str, since: float):
    """The client's `text` went into the topic before the topic was reopened or retitled
    for the open dialog it is now."""
    calls = await calls_since(desk, since)
    post = next(
        i
        for i, c in enumerate(calls)
        if c["method"] == "sendMessage" and text in (c["params"].get("text") or "")
    )
    looks = [
        i
        for i, c in enumerate(calls)
        if str(c["params"].get("message_thread_id")) == str(thread)
        and (c["method"] == "reopenForumTopic" or opened_title(c))
    ]
    assert looks, "the topic's looks follow the status"
    assert post < min(looks), [
        (c["method"], c["params"].get("text"), c["params"].get("name")) for c in calls
    ]


async def test_a_client_writing_into_a_closed_dialog_is_posted_before_the_topic_reopens(
    quiet_group,
):
    desk = quiet_group
    thread = await open_topic(desk)
    await desk.in_topic(thread, "/close")
    await desk.wait(lambda: bot_says(desk, thread, "Closed by Olga"))

    async def closed() -> bool:
        return bool((await topic_state(desk, thread))["closed"])

    await desk.wait(closed)
    since = await last_call(desk)
    await desk.client_says("I am back")

    async def reopened() -> bool:
        topic = await topic_state(desk, thread)
        return not topic["closed"] and not topic["name"].startswith("✅")

    await desk.wait(reopened)
    assert await bot_says(desk, thread, "I am back")
    await posted_before_the_topic_changed(desk, thread, "I am back", since)


async def test_a_client_writing_into_a_snoozed_dialog_is_posted_before_the_title_changes(
    quiet_group,
):
    desk = quiet_group
    thread = await open_topic(desk)
    await desk.in_topic(thread, "/snooze 2h")

    async def snoozed() -> bool:
        return (await topic_state(desk, thread))["name"].startswith("💤")

    await desk.wait(snoozed)
    since = await last_call(desk)
    await desk.client_says("Still there?")

    async def woke() -> bool:
        return not await snoozed()

    await desk.wait(woke)
    assert await bot_says(desk, thread, "Still there?")
    await posted_before_the_topic_changed(desk, thread, "Still there?", since)


async def test_a_closed_topic_takes_the_clients_message_from_the_team_bot_before_it_reopens(
    with_relay,
):
    # The team bot's minute is spent, the relay's is not: client messages go out by the relay,
    # which may not post into a closed topic. The team bot (an administrator) posts it there
    # once its budget allows, and only then is the topic reopened.
    desk = with_relay
    thread = await open_topic(desk)
    await desk.in_topic(thread, "/close")

    async def closed() -> bool:
        return bool((await topic_state(desk, thread))["closed"])

    await desk.wait(closed)
    since = await last_call(desk)
    desk.app.desk.gateway.posters[0].budget.penalize(BLOCKED)
    await desk.client_says("I am back")

    async def reopened() -> bool:
        return not (await topic_state(desk, thread))["closed"]

    await desk.wait(reopened)
    assert await bot_says(desk, thread, "I am back")
    await posted_before_the_topic_changed(desk, thread, "I am back", since)
