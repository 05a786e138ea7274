"""`eadesk check` against the emulator: what a new user is told to fix."""

from __future__ import annotations

from bot.checks import check_telegram
from tests.e2e.conftest import TEAM_TOKEN, settings_for


async def make_group(emulator, forum=True, rights=None, status="administrator"):
    await emulator.bot(TEAM_TOKEN, username="acme_help_bot")
    rights = rights or {"can_manage_topics": True, "can_delete_messages": True,
                        "can_pin_messages": True}  # fmt: skip
    group = await emulator.group(
        title="Team",
        forum=forum,
        bots=[{"token": TEAM_TOKEN, "status": status, "rights": rights}],
    )
    return group["chat_id"]


async def test_a_well_prepared_group_passes(emulator):
    chat_id = await make_group(emulator)
    findings = await check_telegram(settings_for(emulator, chat_id))
    assert findings and all(f.ok for f in findings), findings


async def test_a_missing_right_is_named(emulator):
    chat_id = await make_group(
        emulator,
        rights={"can_manage_topics": True, "can_delete_messages": True, "can_pin_messages": False},
    )
    findings = await check_telegram(settings_for(emulator, chat_id))
    bad = [f.text for f in findings if not f.ok]
    assert len(bad) == 1 and "Pin Messages" in bad[0], bad


async def test_topics_off_is_explained(emulator):
    chat_id = await make_group(emulator, forum=False)
    findings = await check_telegram(settings_for(emulator, chat_id))
    assert any(not f.ok and "Topics" in f.text for f in findings), findings


async def test_a_wrong_group_id_is_explained(emulator):
    await make_group(emulator)
    findings = await check_telegram(settings_for(emulator, -1009999999999))
    assert any(not f.ok for f in findings), findings
