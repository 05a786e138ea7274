"""`eadesk check` reads AUTOMATIONS_FILE as the desk would, and names the line of a mistake."""

from __future__ import annotations

from pathlib import Path

from bot.checks import check_telegram
from tests.automation_example import EXAMPLE
from tests.e2e.conftest import settings_for
from tests.e2e.test_check import make_group


async def test_a_good_file_passes_with_its_count(emulator, tmp_path: Path):
    chat_id = await make_group(emulator)
    path = tmp_path / "rules.yaml"
    path.write_text(EXAMPLE + "- sla: {first_response: 1h}\n  if: {channel_kind: email}\n")
    findings = await check_telegram(settings_for(emulator, chat_id, AUTOMATIONS_FILE=str(path)))
    assert all(f.ok for f in findings), findings
    assert any(f"{path}: 4 rules, 1 service level" in f.text for f in findings), findings


async def test_a_mistake_is_named_with_its_line(emulator, tmp_path: Path):
    chat_id = await make_group(emulator)
    path = tmp_path / "rules.yaml"
    path.write_text(EXAMPLE.replace("when: {waiting_for_operator: 30m}", "when: {waiting: 30m}"))
    findings = await check_telegram(settings_for(emulator, chat_id, AUTOMATIONS_FILE=str(path)))
    bad = [f.text for f in findings if not f.ok]
    assert bad == [
        f"AUTOMATIONS_FILE {path}: line 13: unknown trigger 'waiting': use one of new_dialog,"
        " new_episode, client_message, closed, snooze_woke, waiting_for_operator,"
        " waiting_for_client"
    ], bad


async def test_a_missing_file_is_named(emulator, tmp_path: Path):
    chat_id = await make_group(emulator)
    path = tmp_path / "nowhere.yaml"
    findings = await check_telegram(settings_for(emulator, chat_id, AUTOMATIONS_FILE=str(path)))
    bad = [f.text for f in findings if not f.ok]
    assert bad == [f"AUTOMATIONS_FILE {path}: cannot read {path}: no such file"], bad
