"""The durable poller against the emulator: chats in parallel, each chat in order, and a
failing update holding only its own chat."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiogram import Dispatcher, Router
from aiogram.types import Message

from core.clock import FrozenClock
from core.models import InboxItem
from tgapi.polling import DurablePoller, chat_of

TOKEN = "880001:poller-test"
BOT = "poller_test_bot"


class Chats:
    """Two people writing to the bot, and what its handlers saw, in the order they saw it."""

    def __init__(self, emulator: Any, ann: dict[str, Any], bob: dict[str, Any]) -> None:
        self.emu = emulator
        self.ann = ann
        self.bob = bob
        self.seen: list[tuple[str, str]] = []
        self.router = Router()

    async def says(self, who: dict[str, Any], text: str) -> None:
        await self.emu.send(who["id"], to_bot=BOT, text=text)

    def name(self, message: Message) -> str:
        return "ann" if message.chat.id == self.ann["id"] else "bob"

    def saw(self, who: str) -> list[str]:
        return [text for name, text in self.seen if name == who]


@pytest.fixture
async def chats(emulator: Any, db: str, clock: FrozenClock) -> AsyncIterator[Chats]:
    await emulator.bot(TOKEN, username=BOT)
    ann = await emulator.user("Ann")
    bob = await emulator.user("Bob")
    chats = Chats(emulator, ann, bob)
    dispatcher = Dispatcher()
    dispatcher.include_router(chats.router)
    poller = DurablePoller(emulator.make_bot(TOKEN), dispatcher, clock, timeout=1)
    poller.start()
    try:
        yield chats
    finally:
        await poller.stop()


async def test_a_slow_handler_in_one_chat_does_not_hold_another_chat(chats: Chats) -> None:
    entered, release = asyncio.Event(), asyncio.Event()

    @chats.router.message()
    async def handle(message: Message) -> None:
        if message.text == "slow":
            entered.set()
            await release.wait()
        chats.seen.append((chats.name(message), message.text or ""))

    await chats.says(chats.ann, "slow")
    await asyncio.wait_for(entered.wait(), 10)
    await chats.says(chats.bob, "quick")
    # Bob is answered while Ann's update is still being handled.
    await chats.emu.wait_for(lambda: chats.saw("bob"), timeout=10)
    assert chats.saw("ann") == []
    release.set()
    await chats.emu.wait_for(lambda: chats.saw("ann"), timeout=10)
    assert chats.seen == [("bob", "quick"), ("ann", "slow")]


async def test_one_chats_updates_stay_in_order(chats: Chats) -> None:
    release = asyncio.Event()

    @chats.router.message()
    async def handle(message: Message) -> None:
        if message.text == "1":
            await release.wait()  # the later ones are stored (and Bob's handled) meanwhile
        chats.seen.append((chats.name(message), message.text or ""))

    for text in ("1", "2", "3", "4", "5"):
        await chats.says(chats.ann, text)
    await chats.says(chats.bob, "hi")
    await chats.emu.wait_for(lambda: chats.saw("bob"), timeout=10)

    async def all_of_ann_stored() -> bool:
        return await InboxItem.filter(processed_at=None).count() == 5

    await chats.emu.wait_for(all_of_ann_stored, timeout=10)
    release.set()
    await chats.emu.wait_for(lambda: len(chats.saw("ann")) == 5, timeout=10)
    assert chats.saw("ann") == ["1", "2", "3", "4", "5"]


async def test_a_failing_update_holds_only_its_own_chat(chats: Chats) -> None:
    attempts: dict[str, int] = {}
    booms_when_bob_was_seen: list[int] = []

    @chats.router.message()
    async def handle(message: Message) -> None:
        text = message.text or ""
        attempts[text] = attempts.get(text, 0) + 1
        if text == "boom" and attempts[text] < 3:
            raise RuntimeError("the first two attempts fail")
        if text == "other":
            booms_when_bob_was_seen.append(attempts["boom"])
        chats.seen.append((chats.name(message), text))

    await chats.says(chats.ann, "boom")
    await chats.emu.wait_for(lambda: attempts.get("boom"), timeout=10)
    await chats.says(chats.bob, "other")
    await chats.emu.wait_for(lambda: chats.saw("bob"), timeout=15)
    # Bob went on while Ann's failing update still waited for its last attempt.
    assert booms_when_bob_was_seen[0] < 3
    await chats.says(chats.ann, "after")
    await chats.emu.wait_for(lambda: len(chats.saw("ann")) == 2, timeout=15)
    assert chats.saw("ann") == ["boom", "after"]
    assert attempts == {"boom": 3, "other": 1, "after": 1}


def test_the_chat_of_each_kind_of_update() -> None:
    user = {"id": 5, "is_bot": False, "first_name": "A"}
    group = {"id": -100, "type": "supergroup"}
    in_group = {"message_id": 1, "date": 1, "chat": group}
    assert chat_of({"update_id": 1, "message": {**in_group, "from": user}}) == -100
    assert chat_of({"update_id": 1, "edited_message": {**in_group, "from": user}}) == -100
    press = {"id": "q", "from": user, "chat_instance": "c", "data": "x"}
    assert chat_of({"update_id": 1, "callback_query": {**press, "message": in_group}}) == -100
    assert chat_of({"update_id": 1, "callback_query": {**press, "inline_message_id": "i"}}) == 5
    assert chat_of({"update_id": 1, "inline_query": {"id": "i", "from": user, "query": ""}}) == 5
    # A membership change goes in the member's own line, before what they write next.
    admin = {"id": 9, "is_bot": False, "first_name": "Boss"}
    kicked = {"status": "kicked", "user": user, "until_date": 0}
    member = {"chat": group, "from": admin, "date": 1, "new_chat_member": kicked}
    assert chat_of({"update_id": 1, "chat_member": member}) == 5
    bot_itself = {"chat": group, "from": admin, "date": 1}
    assert chat_of({"update_id": 1, "my_chat_member": bot_itself}) == -100
    assert chat_of({"update_id": 1}) is None
