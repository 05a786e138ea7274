"""The website chat in a real browser: headless Chromium (Debian's) on the demo page.

A visitor opens `/webchat/demo` (a customer's page embedding the widget with one script tag),
opens the chat and writes; the team's topic in the Telegram emulator shows it; an operator's
reply arrives live in the page with the operator's name; a reload shows the same history,
nothing twice; an image goes to the topic as a photo; markup is text on both sides; a site
passing a forged or an old identity gets a visible refusal. Everything is asserted on what
the visitor sees (the widget's `data-eadesk` nodes) and what the topic shows.
"""

from __future__ import annotations

import hashlib
import hmac
import socket
import struct
import time
import zlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
from playwright.async_api import Browser, BrowserContext, FilePayload, Locator, Page, expect

from tests.e2e.browser import chromium
from tests.e2e.conftest import Desk, bot_says, build_desk

SECRET = "s3cret-for-identity"
WAIT = 30.0
MS = int(WAIT * 1000)

LAUNCHER = "[data-eadesk=launcher]"
INPUT = "[data-eadesk=input]"
SEND = "[data-eadesk=send]"
FILE = "[data-eadesk=file]"
MESSAGES = "[data-eadesk=message]"
FROM_VISITOR = "[data-eadesk=message][data-eadesk-from=visitor]"
FROM_OPERATOR = "[data-eadesk=message][data-eadesk-from=operator]"
NOTICE = "[data-eadesk=notice]"
XSS = "<img src=x onerror=alert(1)>"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def png(width: int = 4, height: int = 3) -> bytes:
    """A real (tiny, red) PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def webchat_settings(**extra: Any) -> dict[str, Any]:
    """The web chat on, on a port of its own that the browser reaches."""
    port = free_port()
    return {
        "WEBCHAT_ENABLED": True,
        "HTTP_PORT": port,
        "PUBLIC_URL": f"http://127.0.0.1:{port}",
        "WEBCHAT_TITLE": "Acme help",
        "WEBCHAT_UPLOAD_LIMIT": "100KB",
        **extra,
    }


def base_url(desk: Desk) -> str:
    return str(desk.app.settings.PUBLIC_URL).rstrip("/")


@pytest.fixture
async def desk(emulator: Any) -> AsyncIterator[Desk]:
    async for value in build_desk(emulator, **webchat_settings()):
        yield value


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with chromium() as value:
        yield value


@pytest.fixture
async def context(browser: Browser) -> AsyncIterator[BrowserContext]:
    value = await browser.new_context(locale="en-US", timezone_id="Europe/Berlin")
    try:
        yield value
    finally:
        await value.close()


class Alerts:
    """Every alert/confirm/prompt a page opens (an injected script would open one)."""

    def __init__(self, page: Page) -> None:
        self.seen: list[str] = []
        page.on("dialog", self.on_dialog)

    async def on_dialog(self, dialog: Any) -> None:
        self.seen.append(dialog.message)
        await dialog.dismiss()


async def demo(context: BrowserContext, desk: Desk) -> tuple[Page, Alerts]:
    """The customer's page with the chat opened."""
    page = await context.new_page()
    alerts = Alerts(page)
    await page.goto(f"{base_url(desk)}/webchat/demo")
    await page.locator(LAUNCHER).click()
    await expect(page.locator(INPUT)).to_be_visible(timeout=MS)
    return page, alerts


async def write(page: Page, text: str) -> None:
    """The visitor types and presses Enter; the page shows it as sent (not pending)."""
    await page.locator(INPUT).fill(text)
    await page.locator(INPUT).press("Enter")
    sent = page.locator(f"{FROM_VISITOR}[data-eadesk-id]").filter(has_text=text)
    await expect(sent).to_have_count(1, timeout=MS)


async def shows(desk: Desk, locator: Locator, count: int = 1) -> None:
    """The page shows `count` such nodes; the outbox is driven meanwhile."""

    async def enough() -> bool:
        return await locator.count() >= count

    await desk.wait(enough, timeout=WAIT)
    await expect(locator).to_have_count(count)


async def topic_with(desk: Desk, needle: str) -> int:
    thread = int((await desk.wait(desk.only_topic, timeout=WAIT))["thread_id"])
    await desk.wait(lambda: bot_says(desk, thread, needle), timeout=WAIT)
    return thread


async def test_visitor_and_operator_talk_live_and_a_reload_keeps_the_history(
    desk: Desk, context: BrowserContext
) -> None:
    page, _ = await demo(context, desk)
    # The host page's heavy CSS (red buttons, !important) does not reach the widget.
    background = await page.locator(LAUNCHER).evaluate("b => getComputedStyle(b).backgroundColor")
    assert background != "rgb(192, 57, 43)"
    assert await page.locator(INPUT).get_attribute("placeholder") == "Type a message…"

    await write(page, "My spade broke after a week")
    thread = await topic_with(desk, "My spade broke after a week")
    # The page it came from, as the browser knows it, is told in the topic.
    await desk.wait(lambda: bot_says(desk, thread, "Acme — Garden tools that last"), timeout=WAIT)
    await desk.wait(lambda: bot_says(desk, thread, "Europe/Berlin"), timeout=WAIT)

    await desk.in_topic(thread, "Sorry to hear that! Send us a photo, please")
    reply = page.locator(FROM_OPERATOR).filter(has_text="Send us a photo, please")
    await shows(desk, reply)
    await expect(reply).to_contain_text("Olga")  # who answered

    await write(page, "Here it is")
    await desk.wait(lambda: bot_says(desk, thread, "Here it is"), timeout=WAIT)

    await page.reload()
    await page.locator(LAUNCHER).click()
    history = page.locator(MESSAGES)
    await shows(desk, history, 3)
    texts = [t.strip() for t in await page.locator("[data-eadesk=text]").all_inner_texts()]
    assert texts == [
        "My spade broke after a week",
        "Sorry to hear that! Send us a photo, please",
        "Here it is",
    ]
    # And the dialog goes on live after the reload, still once each.
    await desk.in_topic(thread, "Thanks, a new one is on its way")
    await shows(desk, page.locator(FROM_OPERATOR), 2)
    await expect(history).to_have_count(4)
    posts = await bot_says(desk, thread, "Here it is")
    assert len(posts) == 1


async def test_an_image_goes_to_the_topic_as_a_photo_and_markup_stays_text(
    desk: Desk, context: BrowserContext
) -> None:
    page, alerts = await demo(context, desk)
    await write(page, "Hello")
    thread = await topic_with(desk, "Hello")

    image = png()
    await page.locator(FILE).set_input_files(
        files=FilePayload(name="broken-spade.png", mimeType="image/png", buffer=image)
    )

    async def photo() -> list[dict[str, Any]]:
        return [m for m in await desk.topic_messages(thread) if m["kind"] == "photo"]

    posts = await desk.wait(photo, timeout=WAIT)
    assert posts[0]["file_size"] == len(image)
    # The visitor sees their picture (served back to them only, through their token).
    picture = page.locator(f"{FROM_VISITOR} img")
    await shows(desk, picture)
    await expect(picture).to_have_js_property("naturalWidth", 4, timeout=MS)

    # Over the limit: a clear message, nothing sent.
    await page.locator(FILE).set_input_files(
        files=FilePayload(name="manual.pdf", mimeType="application/pdf", buffer=b"%" * 200_000)
    )
    await expect(page.locator(NOTICE)).to_have_text(
        "The file “manual.pdf” is too large: the limit is 100 KB.", timeout=MS
    )

    await write(page, XSS)
    await desk.wait(lambda: bot_says(desk, thread, XSS), timeout=WAIT)
    await desk.in_topic(thread, f"You wrote {XSS}")
    echoed = page.locator(FROM_OPERATOR).filter(has_text=f"You wrote {XSS}")
    await shows(desk, echoed)

    # Text on both sides: no element came of it, no script ran.
    texts = await page.locator("[data-eadesk=text]").all_inner_texts()
    assert XSS in [t.strip() for t in texts]
    assert await page.locator(f"{MESSAGES} img").count() == 1  # the photo only
    assert await page.locator(f"{MESSAGES} img[src=x]").count() == 0
    assert alerts.seen == []
    assert not [m for m in await desk.topic_messages(thread) if m["kind"] == "document"]


async def test_a_dropped_socket_resumes_without_losing_or_repeating(
    desk: Desk, context: BrowserContext
) -> None:
    """The connection drops (a proxy, a train tunnel); what the operator wrote meanwhile and
    what the visitor wrote meanwhile each arrive once."""
    page = await context.new_page()
    sockets: list[Any] = []

    async def through(ws: Any) -> None:
        ws.connect_to_server()
        sockets.append(ws)

    await page.route_web_socket("**/webchat/ws**", through)
    await page.goto(f"{base_url(desk)}/webchat/demo")
    await page.locator(LAUNCHER).click()
    await write(page, "Is the warranty ten years?")
    thread = await topic_with(desk, "Is the warranty ten years?")

    drops = len(sockets)
    await sockets[-1].close()
    await desk.in_topic(thread, "Yes, ten years")
    await page.locator(INPUT).fill("Great")
    await page.locator(INPUT).press("Enter")

    await shows(desk, page.locator(FROM_OPERATOR).filter(has_text="Yes, ten years"))
    await desk.wait(lambda: len(sockets) > drops, timeout=WAIT)  # it reconnected
    await desk.wait(lambda: bot_says(desk, thread, "Great"), timeout=WAIT)
    await desk.in_topic(thread, "Anything else?")
    await shows(desk, page.locator(FROM_OPERATOR), 2)
    texts = [t.strip() for t in await page.locator("[data-eadesk=text]").all_inner_texts()]
    assert sorted(texts) == sorted(
        ["Is the warranty ten years?", "Yes, ten years", "Great", "Anything else?"]
    )
    assert len(await bot_says(desk, thread, "Great")) == 1


async def test_a_second_tab_shows_the_same_dialog_live(desk: Desk, context: BrowserContext) -> None:
    first, _ = await demo(context, desk)
    await write(first, "Do you ship to Norway?")
    thread = await topic_with(desk, "Do you ship to Norway?")
    second, _ = await demo(context, desk)  # the same browser: the same visitor
    await shows(desk, second.locator(MESSAGES))

    await write(second, "To Tromsø")
    await shows(desk, first.locator(FROM_VISITOR).filter(has_text="To Tromsø"))
    await desk.in_topic(thread, "Yes, in 5 days")
    for page in (first, second):
        await shows(desk, page.locator(FROM_OPERATOR).filter(has_text="Yes, in 5 days"))
        await expect(page.locator(MESSAGES)).to_have_count(3)
    assert len(await desk.topics()) == 1


async def test_without_websocket_the_chat_falls_back_to_polling(
    desk: Desk, context: BrowserContext
) -> None:
    """A proxy that lets no WebSocket through: the chat still works, over HTTP polling."""
    page = await context.new_page()
    refused: list[str] = []

    async def refuse(ws: Any) -> None:
        refused.append(ws.url)
        await ws.close(code=1011, reason="proxy says no")

    await page.route_web_socket("**/webchat/ws**", refuse)
    await page.goto(f"{base_url(desk)}/webchat/demo")
    await page.locator(LAUNCHER).click()
    await write(page, "Writing from behind a proxy")
    thread = await topic_with(desk, "Writing from behind a proxy")
    await desk.in_topic(thread, "We read you")
    await shows(desk, page.locator(FROM_OPERATOR).filter(has_text="We read you"))
    assert refused  # it did try the socket first

    await page.reload()
    await page.locator(LAUNCHER).click()
    await shows(desk, page.locator(MESSAGES), 2)
    await desk.in_topic(thread, "Still here")
    await shows(desk, page.locator(FROM_OPERATOR), 2)
    await expect(page.locator(MESSAGES)).to_have_count(3)


async def test_operator_formatting_is_rendered_and_javascript_links_are_not_clickable(
    desk: Desk, context: BrowserContext
) -> None:
    page, _ = await demo(context, desk)
    await write(page, "How do I sharpen it?")
    thread = await topic_with(desk, "How do I sharpen it?")

    text = "Use a file, see the guide or this"
    entities = [
        {"type": "bold", "offset": 4, "length": 6},
        {"type": "text_link", "offset": 20, "length": 5, "url": "https://acme.test/guide"},
        {"type": "text_link", "offset": 29, "length": 4, "url": "javascript:alert(1)"},
    ]
    await desk.in_topic(thread, text, entities=entities)
    reply = page.locator(FROM_OPERATOR).filter(has_text="Use a file")
    await shows(desk, reply)
    await expect(reply.locator("strong")).to_have_text("a file")
    links = reply.locator("a")
    await expect(links).to_have_count(1)
    await expect(links).to_have_attribute("href", "https://acme.test/guide")
    await expect(links).to_have_text("guide")
    # The javascript: link (the server passes it on as a link span) is only words.
    await expect(reply.locator("[data-eadesk=text]")).to_have_text(text)


async def test_a_russian_browser_gets_russian_strings(desk: Desk, browser: Browser) -> None:
    context = await browser.new_context(locale="ru-RU")
    try:
        page, _ = await demo(context, desk)
        assert await page.locator(INPUT).get_attribute("placeholder") == "Напишите сообщение…"
        await expect(page.locator(SEND)).to_have_text("Отправить")
    finally:
        await context.close()


def signed(user_id: str, ts: int, secret: str = SECRET) -> str:
    return hmac.new(secret.encode(), f"{user_id}:{ts}".encode(), hashlib.sha256).hexdigest()


@pytest.fixture
async def identity_desk(emulator: Any) -> AsyncIterator[Desk]:
    # Only the customer's site may embed it; the demo page (eadesk's own origin) still works.
    settings = webchat_settings(
        WEBCHAT_SECRET=SECRET, WEBCHAT_ALLOWED_ORIGINS="https://shop.example"
    )
    async for value in build_desk(emulator, **settings):
        yield value


async def set_user(page: Page, user: dict[str, Any]) -> str:
    """The site calls window.eadesk.setUser(user): "ok" or "refused"."""
    return str(
        await page.evaluate("u => window.eadesk.setUser(u).then(() => 'ok', () => 'refused')", user)
    )


async def test_a_forged_or_old_identity_is_refused_with_a_visible_message(
    identity_desk: Desk, context: BrowserContext
) -> None:
    desk = identity_desk
    page, _ = await demo(context, desk)
    now = int(time.time())
    user = {"id": "c-42", "name": "Ann Lee", "email": "ann@client.test"}

    forged = {**user, "ts": now, "hash": signed("c-42", now, secret="guessed")}
    assert await set_user(page, forged) == "refused"
    notice = page.locator(NOTICE)
    await expect(notice).to_be_visible(timeout=MS)
    await expect(notice).to_contain_text("could not verify")
    await expect(page.locator(INPUT)).to_be_hidden()  # kept out

    old = now - 3600
    assert await set_user(page, {**user, "ts": old, "hash": signed("c-42", old)}) == "refused"
    await expect(notice).to_contain_text("could not verify")
    await expect(page.locator(INPUT)).to_be_hidden()

    # The genuine one gets in and can write.
    assert await set_user(page, {**user, "ts": now, "hash": signed("c-42", now)}) == "ok"
    await expect(notice).to_be_hidden()
    await write(page, "Signed in and writing")
    await topic_with(desk, "Signed in and writing")


@pytest.fixture
async def email_desk(emulator: Any) -> AsyncIterator[Desk]:
    async for value in build_desk(emulator, **webchat_settings(WEBCHAT_ASK_EMAIL="required")):
        yield value


async def test_a_required_email_comes_before_the_first_message(
    email_desk: Desk, context: BrowserContext
) -> None:
    desk = email_desk
    page = await context.new_page()
    await page.goto(f"{base_url(desk)}/webchat/demo")
    await page.locator(LAUNCHER).click()
    email = page.locator("[data-eadesk=email]")
    await expect(email).to_be_visible(timeout=MS)
    await expect(page.locator(INPUT)).to_be_hidden()

    await email.fill("not an address")
    await email.press("Enter")
    await expect(page.locator(NOTICE)).to_have_text("Check the e-mail address.", timeout=MS)
    await expect(page.locator(INPUT)).to_be_hidden()

    await email.fill("ann.lee@example.com")
    await email.press("Enter")
    await expect(page.locator(INPUT)).to_be_visible(timeout=MS)
    await expect(email).to_be_hidden()
    await write(page, "Where is my order?")
    await topic_with(desk, "Where is my order?")

    # A reload does not ask again.
    await page.reload()
    await page.locator(LAUNCHER).click()
    await shows(desk, page.locator(MESSAGES))
    await expect(page.locator(INPUT)).to_be_visible()
    await expect(email).to_be_hidden()
