"""The website chat end to end: a visitor through the HTTP and WebSocket API (aiohttp's
client, as the widget talks), operators in the topic through the Telegram emulator.

The channel is configured as a person configures it: WEBCHAT_ENABLED, WEBCHAT_SECRET,
WEBCHAT_ALLOWED_ORIGINS, WEBCHAT_UPLOAD_LIMIT.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest

from connectors.webchat.identity import user_hash
from core.models import Client, Contact, ContactKind, Dialog, Message
from tests.e2e.conftest import Desk, bot_says, build_desk

SITE = "https://shop.example"
SECRET = "s3cret-for-tests"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 200 + b"the visitor's screenshot"
LIMIT = 4096


@pytest.fixture
async def desk(emulator: Any) -> AsyncIterator[Desk]:
    settings = {
        "WEBCHAT_ENABLED": "true",
        "WEBCHAT_SECRET": SECRET,
        "WEBCHAT_ALLOWED_ORIGINS": f"{SITE},https://www.shop.example",
        "WEBCHAT_UPLOAD_LIMIT": f"{LIMIT}",
    }
    async for value in build_desk(emulator, **settings):
        yield value


def base(desk: Desk) -> str:
    assert desk.app.http is not None
    host, port = desk.app.http.addresses[0][:2]
    return f"http://{host}:{port}"


class Tab:
    """One browser tab's socket: every frame it got, read in the background."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.frames: list[dict[str, Any]] = []
        self.task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for frame in self.ws:
            if frame.type == aiohttp.WSMsgType.TEXT:
                self.frames.append(frame.json())

    @property
    def messages(self) -> list[dict[str, Any]]:
        return [f["message"] for f in self.frames if f.get("type") == "message"]

    def texts(self) -> list[tuple[str, str]]:
        return [(m["from"], m["text"]) for m in self.messages]

    async def close(self) -> None:
        await self.ws.close()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task


class Visitor:
    """A browser on the customer's site: its token, its tabs."""

    def __init__(self, desk: Desk, http: aiohttp.ClientSession, origin: str = SITE) -> None:
        self.desk = desk
        self.http = http
        self.origin = origin
        self.token: str | None = None
        self.tabs: list[Tab] = []

    @property
    def url(self) -> str:
        return base(self.desk)

    async def call(self, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
        headers = {"Origin": self.origin, **kwargs.pop("headers", {})}
        async with self.http.request(
            method, self.url + path, headers=headers, **kwargs
        ) as response:
            return response.status, await response.json()

    async def session(self, **body: Any) -> dict[str, Any]:
        body.setdefault(
            "page",
            {
                "url": f"{SITE}/pricing",
                "title": "Pricing — Shop",
                "referrer": "https://search.example/?q=shop",
                "lang": "en-GB",
                "tz": "Europe/Berlin",
            },
        )
        status, answer = await self.call(
            "POST", "/webchat/api/session", json={"token": self.token, **body}
        )
        assert status == 200, answer
        self.token = answer["token"]
        return dict(answer)

    async def send(self, text: str, client_id: str | None = None) -> dict[str, Any]:
        status, answer = await self.call(
            "POST",
            "/webchat/api/send",
            json={"token": self.token, "client_id": client_id or f"c{time.monotonic_ns()}",
                  "text": text},
        )  # fmt: skip
        assert status == 200, answer
        return dict(answer["message"])

    async def open_tab(self, after: int = 0) -> Tab:
        ws = await self.http.ws_connect(
            f"{self.url}/webchat/ws?token={self.token}&after={after}",
            headers={"Origin": self.origin},
        )
        tab = Tab(ws)
        self.tabs.append(tab)
        return tab

    async def close(self) -> None:
        for tab in self.tabs:
            await tab.close()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
async def visitor(desk: Desk, http: aiohttp.ClientSession) -> AsyncIterator[Visitor]:
    person = Visitor(desk, http)
    yield person
    await person.close()


async def topic_with(desk: Desk, needle: str) -> int:
    async def found() -> int | None:
        for topic in await desk.topics():
            if await bot_says(desk, topic["thread_id"], needle):
                return int(topic["thread_id"])
        return None

    return int(await desk.wait(found))


async def tab_has(desk: Desk, tab: Tab, sender: str, text: str) -> dict[str, Any]:
    async def arrived() -> dict[str, Any] | None:
        return next((m for m in tab.messages if m["from"] == sender and m["text"] == text), None)

    return dict(await desk.wait(arrived))


async def test_a_visitors_text_is_text_in_the_topic_and_the_reply_arrives_live(
    desk: Desk, visitor: Visitor
) -> None:
    await visitor.session()
    tab = await visitor.open_tab()
    attack = "<img src=x onerror=alert(1)>"
    await visitor.send(attack)
    thread = await topic_with(desk, attack)
    [post] = await bot_says(desk, thread, attack)
    assert post["text"].endswith(attack)
    await visitor.send("*bold*")
    [post] = await desk.wait(lambda: bot_says(desk, thread, "*bold*"))
    # Plain text: the asterisks stay, no formatting is made of them (the bold is the name).
    start = post["text"].index("*bold*")
    assert not [e for e in post.get("entities") or [] if e["offset"] + e["length"] > start]
    # The page the visitor writes from is on the topic's card (see test_webchat_context).
    [context] = await desk.wait(lambda: bot_says(desk, thread, f"{SITE}/pricing"))
    assert "Pricing — Shop" in context["text"]
    assert "Europe/Berlin" in context["text"]
    assert "https://search.example/?q=shop" in context["text"]

    await desk.in_topic(thread, "Hello! How can I help?")
    reply = await tab_has(desk, tab, "operator", "Hello! How can I help?")
    assert reply["author"] == "Olga"
    assert reply["at"]
    # The visitor's own messages came over the socket too, once each.
    assert tab.texts().count(("visitor", attack)) == 1


async def test_a_reconnect_resumes_after_its_cursor_and_a_second_tab_sees_both_sides(
    desk: Desk, visitor: Visitor
) -> None:
    await visitor.session()
    first = await visitor.send("First question")
    thread = await topic_with(desk, "First question")
    tab = await visitor.open_tab()
    other = await visitor.open_tab()
    await tab_has(desk, tab, "visitor", "First question")
    # Sent over the socket: both tabs see it, and the answer carries its client_id.
    await tab.ws.send_json({"type": "send", "client_id": "tab-1", "text": "Second question"})
    mine = await tab_has(desk, tab, "visitor", "Second question")
    assert mine["client_id"] == "tab-1"
    await tab_has(desk, other, "visitor", "Second question")
    await desk.wait(lambda: bot_says(desk, thread, "Second question"))
    await desk.in_topic(thread, "An answer")
    await tab_has(desk, other, "operator", "An answer")
    await tab_has(desk, tab, "operator", "An answer")
    assert other.texts() == [
        ("visitor", "First question"),
        ("visitor", "Second question"),
        ("operator", "An answer"),
    ]

    # The tab drops after the first message; meanwhile the operator writes again.
    await tab.close()
    await desk.in_topic(thread, "Are you there?")
    await tab_has(desk, other, "operator", "Are you there?")
    again = await visitor.open_tab(after=first["cursor"])
    await tab_has(desk, again, "operator", "Are you there?")
    assert again.texts() == [
        ("visitor", "Second question"),
        ("operator", "An answer"),
        ("operator", "Are you there?"),
    ]
    # A reload: the session gives the whole history, in order.
    answer = await visitor.session()
    assert [(m["from"], m["text"]) for m in answer["messages"]] == [
        ("visitor", "First question"),
        ("visitor", "Second question"),
        ("operator", "An answer"),
        ("operator", "Are you there?"),
    ]
    assert answer["cursor"] == answer["messages"][-1]["cursor"]


async def test_a_resend_with_the_same_client_id_is_one_message(
    desk: Desk, visitor: Visitor
) -> None:
    await visitor.session()
    one = await visitor.send("Only once", client_id="same-id")
    two = await visitor.send("Only once", client_id="same-id")
    assert one["id"] == two["id"]
    thread = await topic_with(desk, "Only once")
    await desk.settle()
    assert len(await bot_says(desk, thread, "Only once")) == 1


async def test_polling_gets_the_operators_reply_when_the_socket_cannot_connect(
    desk: Desk, visitor: Visitor
) -> None:
    await visitor.session()
    sent = await visitor.send("Polling here")
    thread = await topic_with(desk, "Polling here")
    waiting = asyncio.create_task(
        visitor.call(
            "GET", f"/webchat/api/poll?token={visitor.token}&after={sent['cursor']}&wait=20"
        )
    )
    await desk.in_topic(thread, "Polled answer")
    status, answer = await desk.wait(lambda: waiting if waiting.done() else None, timeout=25)
    assert status == 200
    assert [(m["from"], m["text"]) for m in answer["messages"]] == [("operator", "Polled answer")]
    assert answer["cursor"] == answer["messages"][0]["cursor"]


async def test_an_upload_is_a_photo_in_the_topic_and_over_the_limit_is_refused(
    desk: Desk, visitor: Visitor
) -> None:
    await visitor.session()
    await visitor.send("Look at this")
    thread = await topic_with(desk, "Look at this")
    form = aiohttp.FormData()
    form.add_field("file", PNG, filename="screen.png", content_type="image/png")
    status, answer = await visitor.call(
        "POST", f"/webchat/api/upload?token={visitor.token}&client_id=up-1", data=form
    )
    assert status == 200, answer
    [attachment] = answer["message"]["attachments"]
    assert attachment["kind"] == "photo"

    async def photo() -> dict[str, Any] | None:
        posts = await desk.topic_messages(thread)
        return next((m for m in posts if m["kind"] == "photo"), None)

    await desk.wait(photo)
    # The visitor's own link gives the file back; a made-up one gives nothing.
    async with visitor.http.get(attachment["url"]) as response:
        assert response.status == 200
        assert await response.read() == PNG
    async with visitor.http.get(attachment["url"].replace("sig=", "sig=0")) as response:
        assert response.status == 404

    big = aiohttp.FormData()
    big.add_field("file", b"x" * (LIMIT * 40), filename="big.bin")
    status, answer = await visitor.call(
        "POST", f"/webchat/api/upload?token={visitor.token}&client_id=up-2", data=big
    )
    assert (status, answer) == (413, {"error": "too_large", "limit": LIMIT})
    status, answer = await visitor.call(
        "POST",
        "/webchat/api/send",
        json={"token": visitor.token, "client_id": "long", "text": "x" * 5000},
    )
    assert (status, answer["error"]) == (413, "too_long")


async def test_a_forged_token_starts_a_fresh_visitor(
    desk: Desk, visitor: Visitor, http: aiohttp.ClientSession
) -> None:
    await visitor.session()
    await visitor.send("My private order")
    assert visitor.token is not None
    body, _, signature = visitor.token.partition(".")
    forged = f"{body}.{'0' * len(signature)}"
    stranger = Visitor(desk, http)
    stranger.token = forged
    answer = await stranger.session()
    assert answer["messages"] == []
    assert answer["token"] != visitor.token
    stranger.token = forged
    ws = await http.ws_connect(f"{base(desk)}/webchat/ws?token={forged}", headers={"Origin": SITE})
    await ws.receive()
    assert ws.close_code == 4401
    await ws.close()
    status, _ = await stranger.call("GET", f"/webchat/api/poll?token={forged}&after=0&wait=0")
    assert status == 401


async def test_a_signed_user_joins_their_client_and_a_bad_or_old_hash_is_refused(
    desk: Desk, visitor: Visitor
) -> None:
    now = desk.clock.now()
    client = await Client.create(name="Maria Gomez", created_at=now)
    await Contact.create(
        client=client, kind=ContactKind.EMAIL, value="maria@example.com", created_at=now
    )
    ts = str(int(time.time()))
    user = {"id": "42", "name": "Maria", "email": "maria@example.com", "ts": ts}
    status, answer = await visitor.call(
        "POST", "/webchat/api/session", json={"user": {**user, "hash": "0" * 64}}
    )
    assert (status, answer) == (403, {"error": "identity"})
    status, answer = await visitor.call("POST", "/webchat/api/session", json={"user": user})
    assert (status, answer) == (403, {"error": "identity"})
    old = str(int(time.time()) - 11 * 60)
    stale = {**user, "ts": old, "hash": user_hash(SECRET, "42", old)}
    status, answer = await visitor.call("POST", "/webchat/api/session", json={"user": stale})
    assert (status, answer) == (403, {"error": "identity"})

    answer = await visitor.session(user={**user, "hash": user_hash(SECRET, "42", ts)})
    assert answer["visitor"] == {"name": "Maria", "email": "maria@example.com"}
    await visitor.send("Where is my order?")
    await topic_with(desk, "Where is my order?")
    message = await Message.get(text="Where is my order?")
    dialog = await Dialog.get(id=message.dialog_id)  # type: ignore[attr-defined]
    assert dialog.client_id == client.id  # type: ignore[attr-defined]


async def test_a_disallowed_origin_is_refused_on_the_api_and_the_socket(
    desk: Desk, visitor: Visitor, http: aiohttp.ClientSession
) -> None:
    await visitor.session()
    status, answer = await visitor.call("GET", "/webchat/api/config")
    assert status == 200
    assert answer["identity"] is True and answer["upload_limit"] == LIMIT
    evil = Visitor(desk, http, origin="https://evil.example")
    status, answer = await evil.call("GET", "/webchat/api/config")
    assert (status, answer) == (403, {"error": "origin"})
    status, answer = await evil.call("POST", "/webchat/api/session", json={"token": visitor.token})
    assert (status, answer) == (403, {"error": "origin"})
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await http.ws_connect(
            f"{base(desk)}/webchat/ws?token={visitor.token}",
            headers={"Origin": "https://evil.example"},
        )
    assert refused.value.status == 403
    # A browser's preflight: refused for the stranger, allowed for the site.
    preflight = {"Access-Control-Request-Method": "POST"}
    async with http.options(
        f"{base(desk)}/webchat/api/send", headers={"Origin": "https://evil.example", **preflight}
    ) as response:
        assert response.status == 403
    async with http.options(
        f"{base(desk)}/webchat/api/send", headers={"Origin": SITE, **preflight}
    ) as response:
        assert response.status == 204
        assert response.headers["Access-Control-Allow-Origin"] == SITE
        assert "Content-Type" in response.headers["Access-Control-Allow-Headers"]
    # The site's other allowed origin works, and CORS echoes it.
    async with http.get(
        f"{base(desk)}/webchat/api/config", headers={"Origin": "https://www.shop.example"}
    ) as response:
        assert response.status == 200
        assert response.headers["Access-Control-Allow-Origin"] == "https://www.shop.example"


async def test_the_e_mail_a_visitor_leaves_is_checked_and_kept(
    desk: Desk, visitor: Visitor
) -> None:
    await visitor.session()
    status, answer = await visitor.call(
        "POST", "/webchat/api/email", json={"token": visitor.token, "email": "not an address"}
    )
    assert (status, answer) == (400, {"error": "email"})
    status, answer = await visitor.call(
        "POST", "/webchat/api/email", json={"token": visitor.token, "email": "ann@example.com"}
    )
    assert status == 200
    assert answer["visitor"]["email"] == "ann@example.com"
    again = await visitor.session()
    assert again["visitor"]["email"] == "ann@example.com"
    assert datetime.now(UTC)  # the session still works with the new token


async def test_a_visitor_who_floods_is_told_to_wait(desk: Desk, visitor: Visitor) -> None:
    await visitor.session()
    for number in range(20):
        await visitor.send(f"Flood {number}", client_id=f"flood-{number}")
    status, answer = await visitor.call(
        "POST",
        "/webchat/api/send",
        json={"token": visitor.token, "client_id": "flood-20", "text": "One too many"},
    )
    assert status == 429
    assert answer["error"] == "rate" and answer["retry_after"] >= 1


async def test_the_widget_and_the_demo_page_are_served(
    desk: Desk, http: aiohttp.ClientSession
) -> None:
    async with http.get(f"{base(desk)}/webchat/widget.js") as response:
        assert response.status == 200
        assert response.content_type == "application/javascript"
    async with http.get(f"{base(desk)}/webchat/demo") as response:
        assert response.status == 200
        assert '/webchat/widget.js"' in await response.text()


async def test_check_says_the_website_chat_works(emulator: Any) -> None:
    from bot.checks import check_telegram
    from tests.e2e.conftest import TEAM_BOT, TEAM_TOKEN, settings_for, team_forum

    await emulator.bot(TEAM_TOKEN, username=TEAM_BOT)
    admin = await emulator.user("Olga", username="olga", language_code="en")
    chat_id = await team_forum(emulator, admin)
    findings = await check_telegram(settings_for(emulator, chat_id, WEBCHAT_ENABLED="true"))
    assert "Website chat works" in [f.text for f in findings if f.ok]


async def test_with_the_e_mail_required_a_visitor_leaves_it_before_writing(
    emulator: Any, http: aiohttp.ClientSession
) -> None:
    settings = {"WEBCHAT_ENABLED": "true", "WEBCHAT_ASK_EMAIL": "required"}
    async for desk in build_desk(emulator, **settings):
        visitor = Visitor(desk, http)
        status, config = await visitor.call("GET", "/webchat/api/config")
        assert (status, config["ask_email"], config["identity"]) == (200, "required", False)
        await visitor.session()
        status, answer = await visitor.call(
            "POST",
            "/webchat/api/send",
            json={"token": visitor.token, "client_id": "before", "text": "Hi"},
        )
        assert (status, answer) == (400, {"error": "email_required"})
        status, answer = await visitor.call(
            "POST", "/webchat/api/email", json={"token": visitor.token, "email": "ann@example.com"}
        )
        assert status == 200
        visitor.token = answer["token"]
        await visitor.send("Hi, it is Ann")
        await topic_with(desk, "Hi, it is Ann")


async def test_an_operators_formatting_and_photo_reach_the_visitor(
    desk: Desk, visitor: Visitor
) -> None:
    await visitor.session()
    await visitor.send("Where are the docs?")
    thread = await topic_with(desk, "Where are the docs?")
    tab = await visitor.open_tab()
    text = "Read the docs first, it is important"
    entities = [
        {"type": "text_link", "offset": 9, "length": 4, "url": "https://acme.io/docs"},
        {"type": "bold", "offset": 27, "length": 9},
    ]
    await desk.in_topic(thread, text, entities=entities)
    reply = await tab_has(desk, tab, "operator", text)
    assert {"kind": "link", "start": 9, "end": 13, "url": "https://acme.io/docs"} in reply["spans"]
    assert {"kind": "bold", "start": 27, "end": 36} in reply["spans"]

    await desk.emu.send(
        desk.operator["id"],
        chat_id=desk.chat_id,
        thread_id=thread,
        photo={"content_base64": base64.b64encode(PNG).decode()},
        caption="See the photo",
    )
    photo = await tab_has(desk, tab, "operator", "See the photo")
    [attachment] = photo["attachments"]
    assert attachment["kind"] == "photo"
    async with visitor.http.get(attachment["url"]) as response:
        assert response.status == 200
        assert await response.read() == PNG
    # The history a reload shows has the same reply.
    answer = await visitor.session()
    assert answer["messages"][-1] == photo
