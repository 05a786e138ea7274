"""The satisfaction survey in the website chat (CSAT_ENABLED=webchat), through the widget's
HTTP and WebSocket API: after a close the visitor's open tab gets the stars (in the
language of the page), a click rates (the topic's line), a reload shows the survey rated,
and nobody else's token can rate it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from core.models import ReportEvent, ReportKind
from tests.e2e.conftest import Desk, bot_says, build_desk
from tests.e2e.test_webchat import SITE, Tab, Visitor, tab_has, topic_with


@pytest.fixture
async def desk(emulator: Any) -> AsyncIterator[Desk]:
    settings = {
        "WEBCHAT_ENABLED": "true",
        "WEBCHAT_ALLOWED_ORIGINS": SITE,
        "CSAT_ENABLED": "webchat",
    }
    async for value in build_desk(emulator, **settings):
        yield value


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def survey_in(desk: Desk, tab: Tab) -> dict[str, Any]:
    async def shown() -> dict[str, Any] | None:
        found = [f["message"]["survey"] for f in tab.frames if "survey" in f.get("message", {})]
        return found[-1] if found else None

    return dict(await desk.wait(shown))


async def test_stars_after_a_close_a_click_rates_and_a_reload_shows_it(
    desk: Desk, http: aiohttp.ClientSession
) -> None:
    visitor = Visitor(desk, http)
    page = {"url": f"{SITE}/cart", "title": "Корзина", "lang": "ru-RU", "tz": "Europe/Moscow"}
    await visitor.session(page=page)
    tab = await visitor.open_tab()
    await visitor.send("Не проходит оплата")
    thread = await topic_with(desk, "Не проходит оплата")
    await desk.in_topic(thread, "Исправили, попробуйте ещё раз")
    await tab_has(desk, tab, "operator", "Исправили, попробуйте ещё раз")
    await desk.in_topic(thread, "/close")

    survey = await survey_in(desk, tab)
    assert survey["text"].startswith("Как вы оцените нашу помощь?")
    assert survey["score"] is None

    # Another visitor cannot rate it, even knowing its token.
    stranger = Visitor(desk, http)
    await stranger.session()
    status, answer = await stranger.call(
        "POST",
        "/webchat/api/rate",
        json={"token": stranger.token, "survey": survey["token"], "score": 1},
    )
    assert status == 400 and answer == {"error": "survey"}

    status, answer = await visitor.call(
        "POST",
        "/webchat/api/rate",
        json={"token": visitor.token, "survey": survey["token"], "score": 5},
    )
    assert status == 200, answer
    assert answer["survey"]["score"] == 5
    assert answer["survey"]["thanks"] == "Спасибо! Вы оценили нашу помощь на 5/5."
    await desk.wait(lambda: bot_says(desk, thread, "⭐ 5/5 from the client"))
    assert [r.value for r in await ReportEvent.filter(kind=ReportKind.CSAT)] == [5]

    # A reload: the session shows the survey, rated.
    again = await visitor.session(page=page)
    assert again["survey"]["token"] == survey["token"]
    assert again["survey"]["score"] == 5
    await visitor.close()
    await stranger.close()
