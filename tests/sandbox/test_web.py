"""The sandbox's page in a real browser: headless Chromium (Debian's) driven by Playwright.

A support lead opens the page: on the client's phone they write to the bot; the team group's
list shows the new topic; its pinned card is at the top; they answer as an operator and the
answer arrives on the phone; they press *Close* on the card, the bot's answer pops up and the
topic shows ✅ and its lock. Everything is asserted on what the page shows (`data-sb` nodes).

`EADESK_SCREENSHOTS=1` also saves docs/sandbox-group.png and docs/sandbox-client.png (the
README's pictures); otherwise nothing is written.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, BrowserContext, FilePayload, Locator, Page, expect

from tests.e2e.browser import chromium
from tests.e2e.test_webchat_browser import png

WAIT = 30.0
MS = int(WAIT * 1000)
DOCS = Path(__file__).resolve().parents[2] / "docs"


def screenshots() -> bool:
    return os.environ.get("EADESK_SCREENSHOTS") == "1"


TOPICS = "[data-sb=chat-list] [data-sb=topic]"
TEAM = "[data-sb=team-pane]"
PHONE = "[data-sb=phone-pane]"


@contextlib.asynccontextmanager
async def running_sandbox(seed: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    """The sandbox as `make run` starts it (eadesk, the emulator and the page on one port),
    on a free port, its data under `tmp_path`."""
    from sandbox.runner import Sandbox

    monkeypatch.chdir(tmp_path)
    for name in ("BOT_TOKEN", "TEAM_CHAT_ID", "DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_HOST", "127.0.0.1")
    monkeypatch.setenv("HTTP_PORT", "0")
    monkeypatch.setenv("LANGUAGE", "en")
    running = Sandbox(seed, env_file=None)
    try:
        await running.listen()
        await running.begin()
        yield running
    finally:
        await running.close()


@pytest.fixture
async def sandbox(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> AsyncIterator[Any]:
    async with running_sandbox("empty", monkeypatch, tmp_path) as value:
        yield value


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with chromium() as value:
        yield value


@pytest.fixture
async def context(browser: Browser) -> AsyncIterator[BrowserContext]:
    value = await browser.new_context(
        locale="en-US", timezone_id="Europe/Berlin", viewport={"width": 1440, "height": 860}
    )
    try:
        yield value
    finally:
        await value.close()


async def shows(locator: Locator, count: int = 1) -> None:
    await expect(locator).to_have_count(count, timeout=MS)


async def open_page(context: BrowserContext, sandbox: Any, alerts: list[str] | None = None) -> Page:
    page = await context.new_page()

    async def on_dialog(dialog: Any) -> None:
        if alerts is None:
            await dialog.accept()  # Reset asks first
        else:
            alerts.append(dialog.message)
            await dialog.dismiss()

    page.on("dialog", on_dialog)
    await page.goto(sandbox.url.rstrip("/") + "/")
    await expect(page.locator("[data-sb=badge]")).to_be_visible(timeout=MS)
    return page


async def write(pane: Locator, text: str) -> None:
    await pane.locator("[data-sb=input]").fill(text)
    await pane.locator("[data-sb=input]").press("Enter")
    await expect(pane.locator("[data-sb=input]")).to_have_value("", timeout=MS)


async def test_client_writes_operator_answers_and_closes_from_the_card(
    sandbox: Any, context: BrowserContext
) -> None:
    world = sandbox.world
    client, lead = world.clients[0], world.operator("lead")
    page = await open_page(context, sandbox)
    phone, team = page.locator(PHONE), page.locator(TEAM)
    # The badge says where this is and leads to README's "Preparing Telegram".
    badge = page.locator("[data-sb=badge]")
    await expect(badge).to_have_text("sandbox")
    assert await badge.get_attribute("href") == "/sandbox/readme#preparing-telegram"
    # The website chat is on in the sandbox: its demo page is a click away.
    await expect(page.locator("[data-sb=webchat-link]")).to_be_visible()

    # The client's phone: the first client writes to the bot.
    await expect(phone.locator("[data-sb=client-select]")).to_have_value(
        str(client["id"]), timeout=MS
    )
    await write(phone, "Hello! My parcel has not arrived")
    topic = page.locator(TOPICS).filter(has_text=client["name"])
    await shows(topic)
    await expect(topic.locator("[data-sb=unread]")).to_be_visible(timeout=MS)

    # The team opens the topic: the card pinned at the top, the client's words below.
    await topic.click()
    await expect(team.locator("[data-sb=title]")).to_have_text(re.compile(client["name"]))
    await expect(topic.locator("[data-sb=unread]")).to_have_count(0, timeout=MS)
    card = team.locator("[data-sb=pinned-message]")
    close = card.locator("[data-sb=keyboard] button").filter(has_text=re.compile("Close"))
    await shows(close)
    said = team.locator("[data-sb=message]").filter(has_text="My parcel has not arrived")
    await shows(said)
    await expect(said.locator("[data-sb=sender]")).to_be_visible()

    # The lead (the composer writes as her) answers in reply; the phone shows the answer.
    await expect(team.locator("[data-sb=as]")).to_have_value(str(lead["id"]))
    await said.locator("[data-sb=reply]").click()
    await expect(team.locator("[data-sb=replying]")).to_contain_text("My parcel has not arrived")
    await write(team, "Sorry! Let me check the tracking number")
    mine = team.locator("[data-sb=message]").filter(has_text="Let me check the tracking number")
    await expect(mine.locator("[data-sb=reply-quote]")).to_contain_text("My parcel", timeout=MS)
    answer = phone.locator("[data-sb=message][data-from=bot]").filter(
        has_text="Let me check the tracking number"
    )
    await shows(answer)
    # A photo from the client shows in the topic as a photo.
    await phone.locator("[data-sb=file]").set_input_files(
        files=[FilePayload(name="label.png", mimeType="image/png", buffer=png(40, 30))]
    )
    await write(phone, "The label")
    await shows(team.locator("[data-sb=message] img[data-sb=photo]"))

    # Close on the card: the bot's answer pops up, the topic gets ✅ and its lock.
    await close.click()
    first_name = lead["first_name"]
    await shows(page.locator("[data-sb=toast]").filter(has_text=f"Closed by {first_name}"))
    closed = page.locator(TOPICS).filter(has_text=f"✅ {client['name']}")
    await shows(closed)
    await expect(closed.locator("[data-sb=closed]")).to_be_visible()
    await expect(closed.locator("[data-sb=name]")).to_have_text(re.compile(f"^✅ {client['name']}"))


async def test_an_operator_talks_to_the_bot_in_private(
    sandbox: Any, context: BrowserContext
) -> None:
    page = await open_page(context, sandbox)
    operator = sandbox.world.operator("operator")
    chat = page.locator("[data-sb=chat-list] [data-sb=operator-chat]").filter(
        has_text=operator["name"]
    )
    await chat.click()
    team = page.locator(TEAM)
    await expect(team.locator("[data-sb=title]")).to_contain_text(operator["name"], timeout=MS)
    await expect(team.locator("[data-sb=as]")).to_be_hidden()  # the chat is theirs
    await write(team, "/notes")
    said = team.locator("[data-sb=message][data-from=bot]").filter(has_text="no notes yet")
    await shows(said)


async def test_reset_starts_the_sandbox_over(sandbox: Any, context: BrowserContext) -> None:
    page = await open_page(context, sandbox)  # accepts Reset's question
    client = sandbox.world.clients[0]
    await write(page.locator(PHONE), "Hello before the reset")
    await shows(page.locator(TOPICS).filter(has_text=client["name"]))
    await page.locator("[data-sb=reset]").click()
    await shows(page.locator("[data-sb=toast]").filter(has_text="starts over"))
    await shows(page.locator(TOPICS).filter(has_text=client["name"]), 0)
    await expect(page.locator(PHONE).locator("[data-sb=message]")).to_have_count(0)
    await shows(page.locator(TOPICS).filter(has_text="General"))


async def test_markup_from_chats_is_text_and_script_links_are_dead(
    sandbox: Any, context: BrowserContext
) -> None:
    alerts: list[str] = []
    page = await open_page(context, sandbox, alerts)
    client = sandbox.world.clients[0]
    text = "<img src=x onerror=alert(1)> bold click"
    entities: list[dict[str, Any]] = [
        {"type": "bold", "offset": 29, "length": 4},
        {"type": "text_link", "offset": 34, "length": 5, "url": "javascript:alert(2)"},
    ]
    await sandbox.client.send(
        client["id"], to_bot=sandbox.world.bot_username, text=text, entities=entities
    )
    mine = page.locator(PHONE).locator("[data-sb=message]").filter(has_text="onerror=alert(1)")
    await shows(mine)
    await expect(mine.locator("[data-sb=text]")).to_have_text(text)
    await expect(mine.locator("b")).to_have_text("bold")
    assert await mine.locator("img").count() == 0
    assert await page.locator("a[href^='javascript']").count() == 0
    await expect(mine.locator(".link-off")).to_have_text("click")
    assert alerts == []


async def test_russian_browser_gets_russian_words(sandbox: Any, browser: Browser) -> None:
    context = await browser.new_context(locale="ru-RU")
    try:
        page = await context.new_page()
        await page.goto(sandbox.url.rstrip("/") + "/")
        await expect(page.locator("[data-sb=reset]")).to_have_text("Сброс", timeout=MS)
        await expect(page.locator("[data-sb=badge]")).to_have_text("песочница")
    finally:
        await context.close()


async def demo_played(sandbox: Any) -> str:
    """The demo morning's end state, once it has played (each of its steps has a deadline)."""
    if sandbox.demo is not None:
        await asyncio.wait_for(asyncio.shield(sandbox.demo), timeout=300)
    return str(sandbox.demo_state)


@pytest.mark.skipif(not screenshots(), reason="EADESK_SCREENSHOTS=1 takes README's pictures")
async def test_screenshots_of_the_demo_morning(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, browser: Browser
) -> None:
    async with running_sandbox("demo", monkeypatch, tmp_path) as sandbox:
        assert await demo_played(sandbox) == "done"
        context = await browser.new_context(
            locale="en-US", timezone_id="Europe/London", viewport={"width": 1440, "height": 860}
        )
        try:
            page = await open_page(context, sandbox)
            maria = sandbox.world.clients[0]
            await (
                page.locator(PHONE)
                .locator("[data-sb=client-select]")
                .select_option(str(maria["id"]))
            )
            await page.locator(TOPICS).filter(has_text=maria["name"]).click()
            team, phone = page.locator(TEAM), page.locator(PHONE)
            # The card follows the morning (assigned and tagged); James's topic is closed.
            card = team.locator("[data-sb=pinned-message]")
            await shows(card.filter(has_text="#delivery").filter(has_text="Boris"))
            james = page.locator(TOPICS).filter(has_text=sandbox.world.clients[3]["name"])
            await shows(james.locator("[data-sb=closed]"))
            # The board is pinned in General (eadesk posts it a few seconds after a change).
            general = page.locator(TOPICS).filter(has_text="General")
            await expect(general.locator("[data-sb=preview]")).not_to_have_text("", timeout=MS)
            await shows(team.locator("[data-sb=message][data-from=bot]").filter(has_text="1042"))
            await shows(phone.locator("[data-sb=message][data-from=bot]").filter(has_text="Maria"))
            DOCS.mkdir(exist_ok=True)
            await page.screenshot(path=str(DOCS / "sandbox-group.png"))
            await phone.screenshot(path=str(DOCS / "sandbox-client.png"))
        finally:
            await context.close()
