"""The satisfaction survey on Telegram (CSAT_ENABLED): after a close the client gets five
buttons once an episode; a press records the rating (the question becomes a thank-you), the
topic gets one line, the card shows it, /stats counts it. Not asked when the team never
answered, never twice an episode."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from core.lifecycle import DialogStatus
from core.models import CsatSurvey, ReportEvent, ReportKind, SurveyStatus
from tests.e2e.conftest import Desk, bot_says
from tests.e2e.teamwork import buttons, card_of, new_topic, teamwork_desk

ASK = "How would you rate our help?"


@pytest.fixture
async def desk(emulator: Any) -> AsyncIterator[Desk]:
    async for value in teamwork_desk(emulator, CSAT_ENABLED="telegram"):
        yield value


async def asks(desk: Desk) -> list[dict[str, Any]]:
    return [m for m in await desk.client_chat() if m["from"]["is_bot"] and ASK in m["text"]]


async def client_sees(desk: Desk, needle: str) -> list[dict[str, Any]]:
    return [
        m for m in await desk.client_chat() if m["from"]["is_bot"] and needle in (m["text"] or "")
    ]


async def answered_and_closed(desk: Desk, thread: int) -> None:
    await desk.in_topic(thread, "Fixed, your order ships today")
    await desk.wait(lambda: client_sees(desk, "ships today"))
    await desk.in_topic(thread, "/close")


async def press(desk: Desk, message: dict[str, Any], label: str) -> None:
    data = next(v for k, v in buttons(message).items() if label in k)
    await desk.emu.callback(
        desk.client["id"], message["message_id"], data, to_bot=desk.bot_username
    )


async def test_close_asks_with_buttons_and_a_press_shows_in_topic_card_and_stats(desk: Desk):
    thread = await new_topic(desk, "Where is my order?")
    await answered_and_closed(desk, thread)
    [question] = await desk.wait(lambda: asks(desk))
    assert list(buttons(question)) == ["1 ★", "2 ★", "3 ★", "4 ★", "5 ★"]
    await desk.wait(lambda: _topic_closed(desk))

    await press(desk, question, "4")
    thanks = await desk.wait(lambda: client_sees(desk, "You rated our help 4/5"))
    assert not buttons(thanks[0]), "the question became a thank-you without buttons"
    await desk.wait(lambda: bot_says(desk, thread, "⭐ 4/5 from the client"))

    async def card_shows() -> bool:
        card = await card_of(desk, thread)
        return card is not None and "⭐ Rating: 4/5" in card["text"]

    await desk.wait(card_shows)
    # The line went into the closed topic as it is: the dialog stays closed, so does its topic.
    assert [t["closed"] for t in await desk.topics()] == [True]

    await desk.in_topic(thread, "/stats")
    await desk.wait(lambda: bot_says(desk, thread, "⭐ Ratings: average 4.0 of 1, 4–5: 100%"))

    # Re-opened within the window and closed again: the same episode, never asked twice.
    await desk.in_topic(thread, "/reopen")
    await desk.wait(lambda: _status_is(desk, DialogStatus.OPEN))
    await desk.in_topic(thread, "Anything else?")
    await desk.wait(lambda: client_sees(desk, "Anything else?"))
    await desk.in_topic(thread, "/close")
    await desk.wait(lambda: _closed_twice(desk))
    await desk.settle()
    assert len(await asks(desk)) == 0  # the one question is a thank-you now
    assert await CsatSurvey.all().count() == 1
    assert await ReportEvent.filter(kind=ReportKind.CSAT).count() == 1


async def _topic_closed(desk: Desk) -> bool:
    return [t["closed"] for t in await desk.topics()] == [True]


async def _status_is(desk: Desk, status: DialogStatus) -> bool:
    return await desk.status() is status


async def _closed_twice(desk: Desk) -> bool:
    from core.models import Event

    return await Event.filter(name="dialog.close").count() == 2


async def test_not_asked_when_the_team_never_answered(desk: Desk):
    thread = await new_topic(desk, "spam spam spam")
    await desk.in_topic(thread, "/close")

    async def skipped() -> bool:
        return await CsatSurvey.filter(status=SurveyStatus.SKIPPED).exists()

    await desk.wait(skipped)
    await desk.settle()
    assert not await asks(desk)
    survey = await CsatSurvey.get()
    assert survey.reason == "unanswered"
