"""The membership cache: news of a person (a chat_member update) outranks an older answer."""

from __future__ import annotations

import asyncio
from typing import Any

from aiogram.types import ChatMemberMember, User

from bot.team.membership import OUTSIDER, Membership
from core.service import Core

PAVEL = User(id=42, is_bot=False, first_name="Pavel")


class SlowTelegram:
    """getChatMember that answers "member" only when the test lets it."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.asked = asyncio.Event()

    async def get_chat_member(self, chat_id: int, user_id: int, **_: Any) -> Any:
        self.asked.set()
        await self.release.wait()
        return ChatMemberMember(user=PAVEL)


async def test_a_kick_during_a_check_is_not_undone_by_its_older_answer(db, core: Core):
    telegram = SlowTelegram()
    membership = Membership(core, telegram, -100123)  # type: ignore[arg-type]
    check = asyncio.create_task(membership.is_member(PAVEL.id))
    await telegram.asked.wait()
    # Olga removes Pavel while Telegram is still answering the question asked before.
    await membership.record(PAVEL.id, OUTSIDER)
    telegram.release.set()
    assert await check is False
    assert await membership.is_member(PAVEL.id) is False


async def test_without_news_the_answer_is_kept(db, core: Core):
    telegram = SlowTelegram()
    telegram.release.set()
    membership = Membership(core, telegram, -100123)  # type: ignore[arg-type]
    assert await membership.is_member(PAVEL.id) is True
    assert membership.was_member(PAVEL.id)
    await membership.record(PAVEL.id, OUTSIDER)
    assert not membership.was_member(PAVEL.id)
