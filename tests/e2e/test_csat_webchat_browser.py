"""The widget's stars in a real browser (headless Chromium on the demo page): after a close
the chat shows five stars; a click fills them, thanks the visitor and posts the rating's line
in the topic; a reload shows it rated."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from playwright.async_api import Browser, BrowserContext, expect

from tests.e2e.browser import chromium
from tests.e2e.conftest import Desk, bot_says, build_desk
from tests.e2e.test_webchat_browser import (
    FROM_OPERATOR,
    LAUNCHER,
    MS,
    WAIT,
    demo,
    shows,
    topic_with,
    webchat_settings,
    write,
)

SURVEY = "[data-eadesk=survey]"
STAR = "[data-eadesk=star]"


@pytest.fixture
async def desk(emulator: Any) -> AsyncIterator[Desk]:
    async for value in build_desk(emulator, **webchat_settings(CSAT_ENABLED="webchat")):
        yield value


@pytest.fixture
async def context() -> AsyncIterator[BrowserContext]:
    browser: Browser
    async with chromium() as browser:
        value = await browser.new_context(locale="en-US")
        try:
            yield value
        finally:
            await value.close()


async def test_the_stars_show_after_a_close_and_a_click_rates(
    desk: Desk, context: BrowserContext
) -> None:
    page, _ = await demo(context, desk)
    await write(page, "The checkout button does nothing")
    thread = await topic_with(desk, "The checkout button does nothing")
    await desk.in_topic(thread, "Fixed, please try again")
    await shows(desk, page.locator(FROM_OPERATOR).filter(has_text="Fixed, please try again"))
    await desk.in_topic(thread, "/close")

    await shows(desk, page.locator(STAR), 5)
    await expect(page.locator(SURVEY)).to_contain_text("How would you rate our help?")
    await page.locator(f"{STAR}[data-score='4']").click()
    await expect(page.locator(SURVEY)).to_contain_text("You rated our help 4/5", timeout=MS)
    stars = [s.strip() for s in await page.locator(STAR).all_inner_texts()]
    assert stars == ["★", "★", "★", "★", "☆"]
    await desk.wait(lambda: bot_says(desk, thread, "⭐ 4/5 from the client"), timeout=WAIT)

    await page.reload()
    await page.locator(LAUNCHER).click()
    await expect(page.locator(SURVEY)).to_contain_text("You rated our help 4/5", timeout=MS)
