"""`eadesk check` with amoCRM configured: one request with the token, and plain words for
what fails (tests/fakes/amocrm.py stands in for amoCRM)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from bot.checks import check_telegram
from tests.e2e.conftest import TEAM_TOKEN, settings_for
from tests.fakes.amocrm import TOKEN, FakeAmoCrm

RIGHTS = {"can_manage_topics": True, "can_delete_messages": True, "can_pin_messages": True}


@pytest.fixture
async def fake() -> AsyncIterator[FakeAmoCrm]:
    server = FakeAmoCrm()
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


async def team_group(emulator: Any) -> int:
    await emulator.bot(TEAM_TOKEN, username="acme_help_bot")
    group = await emulator.group(
        title="Team",
        forum=True,
        bots=[{"token": TEAM_TOKEN, "status": "administrator", "rights": RIGHTS}],
    )
    return int(group["chat_id"])


async def test_check_asks_amocrm_once_and_says_it_works(emulator: Any, fake: FakeAmoCrm) -> None:
    chat_id = await team_group(emulator)
    settings = settings_for(emulator, chat_id, AMOCRM_BASE_URL=fake.url, AMOCRM_TOKEN=TOKEN)
    findings = await check_telegram(settings)
    assert all(f.ok for f in findings), findings
    assert any(f.text == "amoCRM works: it accepts the token" for f in findings)
    assert fake.count() == 1 and fake.count("/api/v4/account") == 1


async def test_check_names_a_token_amocrm_refuses(emulator: Any, fake: FakeAmoCrm) -> None:
    chat_id = await team_group(emulator)
    settings = settings_for(emulator, chat_id, AMOCRM_BASE_URL=fake.url, AMOCRM_TOKEN="expired")
    bad = [f.text for f in await check_telegram(settings) if not f.ok]
    assert len(bad) == 1 and bad[0].startswith("AMOCRM_TOKEN is not accepted by amoCRM"), bad


async def test_check_without_amocrm_asks_nothing_of_it(emulator: Any) -> None:
    chat_id = await team_group(emulator)
    findings = await check_telegram(settings_for(emulator, chat_id))
    assert not any("amoCRM" in f.text for f in findings)
