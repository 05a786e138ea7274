"""The service-level overrides of the automations file, as helper code asks for them, and the
client's message that costs nothing when no rule waits for it."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from core.models import Channel, OutboxItem
from core.service import Core
from core.sla import KEEP
from tests.core.helpers import write

SLAS = """\
- sla: {first_response: 10m, next_response: 1h}
  if: {tags: [vip]}
- sla: {first_response: 1h, next_response: 4h}
  if: {channel_kind: email}
- sla: {first_response: 30m}
  if: {channel: "@acme_help_bot"}
"""


async def test_the_first_matching_item_wins(
    core: Core, telegram: Channel, email: Channel, tmp_path: Path
):
    path = tmp_path / "rules.yaml"
    path.write_text(SLAS, encoding="utf-8")
    core.automations.load(str(path))
    mail = (await write(core, email, "thread-1")).dialog
    chat = (await write(core, telegram, "chat-1")).dialog
    assert await core.automations.sla_override(mail.id) == (
        timedelta(hours=1),
        timedelta(hours=4),
    )
    assert await core.automations.sla_override(chat.id) == (timedelta(minutes=30), KEEP)
    # A target the item leaves out stays the setting's.
    core.sla.configure(timedelta(minutes=15), timedelta(hours=2))
    assert await core.sla.targets(chat.id) == (timedelta(minutes=30), timedelta(hours=2))
    await core.dialogs.tag(mail.id, ["vip"], None)
    assert await core.automations.sla_override(mail.id) == (
        timedelta(minutes=10),
        timedelta(hours=1),
    )


async def test_no_file_no_override_and_no_outbox_rows(core: Core, telegram: Channel):
    core.automations.load("")
    dialog = (await write(core, telegram, "chat-1")).dialog
    assert await core.automations.sla_override(dialog.id) is None
    assert not await OutboxItem.filter(kind="automation.run").exists()


async def test_rules_without_a_trigger_for_the_event_write_nothing(
    core: Core, telegram: Channel, tmp_path: Path
):
    path = tmp_path / "rules.yaml"
    path.write_text("- name: bye\n  when: closed\n  then: [{tag: done}]\n", encoding="utf-8")
    core.automations.load(str(path))
    dialog = (await write(core, telegram, "chat-1")).dialog
    assert not await OutboxItem.filter(kind="automation.run").exists()
    await core.dialogs.close(dialog.id, None)
    assert await OutboxItem.filter(kind="automation.run").count() == 1
