"""The website chat under races and restarts: a reply sent after a newer visitor message
still reaches a tab that resumes at that moment; an e-mail left before the first message
outlives a restart; one address cannot hold more sockets open than WEBCHAT_SOCKETS_PER_IP."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from core.channels import Outgoing, Sent
from core.models import ChannelKind, Message, MessageKind
from tests.e2e.conftest import TEAM_BOT, TEAM_TOKEN, Desk, build_desk, running_desk, team_forum
from tests.e2e.teamwork import card_of
from tests.e2e.test_webchat import SITE, Visitor, base, desk, http, tab_has, topic_with, visitor

__all__ = ["desk", "http", "visitor"]  # the fixtures, shared with test_webchat


async def until(predicate: Callable[[], Awaitable[Any]], what: str, timeout: float = 15) -> Any:  # noqa: ASYNC109
    """Without draining the outbox (a delivery is held on purpose meanwhile)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        found = await predicate()
        if found:
            return found
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


async def test_a_reply_sent_after_a_newer_visitor_message_reaches_a_tab_that_resumes(
    desk: Desk, visitor: Visitor, monkeypatch: pytest.MonkeyPatch
) -> None:
    chat = next(c for c in desk.app.core.connectors if c.kind == ChannelKind.WEBCHAT)
    held, entered = asyncio.Event(), asyncio.Event()
    send = chat.send

    async def slow_send(out: Outgoing) -> Sent:
        entered.set()
        await held.wait()
        return await send(out)

    monkeypatch.setattr(chat, "send", slow_send)
    await visitor.session()
    await visitor.send("Is it in stock?")
    thread = await topic_with(desk, "Is it in stock?")
    tab = await visitor.open_tab()
    await tab_has(desk, tab, "visitor", "Is it in stock?")

    # The operator answers; the reply is written (its id given) but its delivery is slow.
    await desk.in_topic(thread, "Let me check")
    draining = asyncio.create_task(desk.app.core.outbox.drain())

    async def written() -> bool:
        return await Message.exists(kind=MessageKind.OUT, text="Let me check")

    await until(written, "the reply to be written")
    await asyncio.wait_for(entered.wait(), 15)
    # Meanwhile the visitor writes again; the tab sees it, then drops.
    newer = await visitor.send("Hello?")

    async def on_tab() -> dict[str, Any] | None:
        return next((m for m in tab.messages if m["text"] == "Hello?"), None)

    seen = await until(on_tab, "the tab to show the newer message")
    reply = await Message.get(kind=MessageKind.OUT, text="Let me check")
    assert reply.id < newer["id"]  # written before, delivered after
    await tab.close()
    held.set()
    await draining

    async def delivered() -> bool:
        answer = await visitor.session()
        return any(m["text"] == "Let me check" for m in answer["messages"])

    await desk.wait(delivered)
    # The tab comes back, resuming after the last message it saw: the reply is there.
    again = await visitor.open_tab(after=seen["cursor"])
    await tab_has(desk, again, "operator", "Let me check")
    assert again.texts() == [("operator", "Let me check")]
    # And the whole history has each message once, in the order the visitor saw them.
    history = await visitor.session()
    assert [m["text"] for m in history["messages"]] == ["Is it in stock?", "Hello?", "Let me check"]


async def test_an_e_mail_left_before_the_first_message_outlives_a_restart(
    emulator: Any, tmp_path: Path, http: aiohttp.ClientSession
) -> None:
    await emulator.bot(TEAM_TOKEN, username=TEAM_BOT)
    operator = await emulator.user("Olga", username="olga", language_code="en")
    colleague = await emulator.user("Pavel", username="pavel", language_code="ru")
    client = await emulator.user("Ann", last_name="Lee", language_code="en")
    chat_id = await team_forum(emulator, operator, colleague)
    people = (operator, colleague, client)
    settings = {
        "WEBCHAT_ENABLED": "true",
        "DATABASE_URL": f"sqlite://{tmp_path}/eadesk.sqlite3",
    }
    async with running_desk(emulator, chat_id, *people, **settings) as desk:
        visitor = Visitor(desk, http)
        await visitor.session()
        # The widget asks for the e-mail first; the answer's token is lost (another tab
        # kept the old one): the address must be kept by eadesk itself.
        status, _ = await visitor.call(
            "POST", "/webchat/api/email", json={"token": visitor.token, "email": "ann@example.com"}
        )
        assert status == 200
    async with running_desk(emulator, chat_id, *people, **settings) as desk:
        visitor.desk = desk
        again = await visitor.session()
        assert again["visitor"]["email"] == "ann@example.com"
        await visitor.send("Hello after the restart")
        thread = await topic_with(desk, "Hello after the restart")

        async def card() -> dict[str, Any] | None:
            found = await card_of(desk, thread)
            return found if found and "ann@example.com" in found["text"] else None

        await desk.wait(card)


async def test_one_address_cannot_hold_more_sockets_than_allowed(
    emulator: Any, http: aiohttp.ClientSession
) -> None:
    settings = {"WEBCHAT_ENABLED": "true", "WEBCHAT_SOCKETS_PER_IP": "3"}
    async for running in build_desk(emulator, **settings):
        await sockets_per_ip(running, Visitor(running, http), http)


async def sockets_per_ip(desk: Desk, visitor: Visitor, http: aiohttp.ClientSession) -> None:
    await visitor.session()
    tabs = [await visitor.open_tab() for _ in range(3)]
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await http.ws_connect(
            f"{base(desk)}/webchat/ws?token={visitor.token}", headers={"Origin": SITE}
        )
    assert refused.value.status == 429
    # The API says why, in the same words.
    async with http.get(
        f"{base(desk)}/webchat/ws?token={visitor.token}", headers={"Origin": SITE}
    ) as response:
        assert response.status == 429
        assert await response.json() == {"error": "sockets", "limit": 3}
    # One closes: another may open.
    await tabs[0].close()

    async def reopened() -> bool:
        try:
            await visitor.open_tab()
        except aiohttp.WSServerHandshakeError:
            return False
        return True

    await desk.wait(reopened)
    await visitor.close()
