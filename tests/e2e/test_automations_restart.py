"""A time rule fires once per wait — not again on the next sweep, not again after a restart —
and again for the client's next wait."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from bot.storage import topic_link
from core.models import Dialog
from tests.e2e.conftest import Desk, running_desk, team_and_client
from tests.e2e.teamwork import private_has, start_private

RULES = """\
- name: nudge
  when: {waiting_for_operator: 30m}
  then: [{comment: "⏰ 30 minutes without an answer"}, {notify: managers}]
"""


async def nudges(desk: Desk, thread: int) -> list[dict[str, Any]]:
    return [
        m
        for m in await desk.topic_messages(thread)
        if m["from"]["is_bot"] and "⏰ 30 minutes" in (m.get("text") or "")
    ]


async def test_the_nudge_comes_once_per_wait_across_a_restart(
    emulator: Any, tmp_path: Path
) -> None:
    chat_id, people = await team_and_client(emulator)
    olga, _, ann = people
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES, encoding="utf-8")
    settings = {
        "DATABASE_URL": f"sqlite://{tmp_path / 'db.sqlite3'}",
        "AUTOMATIONS_FILE": str(rules),
        "GROUP_MESSAGES_PER_MINUTE": 600,
    }

    async with running_desk(emulator, chat_id, *people, **settings) as desk:
        await start_private(desk, olga)
        await desk.client_says("Hello, anyone?")
        dialog = await desk.wait(lambda: Dialog.get_or_none(chat_key=str(ann["id"])))
        link = await desk.wait(lambda: topic_link(dialog.id))
        thread = int(link.thread_id)
        desk.clock.advance(timedelta(minutes=31))
        assert await desk.app.core.automations.sweep() == 1
        await desk.wait(lambda: nudges(desk, thread))
        await desk.wait(lambda: private_has(desk, olga, "🤖 nudge"))
        assert await desk.app.core.automations.sweep() == 0

    async with running_desk(emulator, chat_id, *people, **settings) as desk:
        # The new process: the same wait, longer still.
        desk.clock.advance(timedelta(minutes=45))
        assert await desk.app.core.automations.sweep() == 0
        await desk.settle()
        assert len(await nudges(desk, thread)) == 1
        assert len(await private_has(desk, olga, "🤖 nudge")) == 1

        # Answered, then the client writes again: a new wait, a new nudge.
        await desk.in_topic(thread, "Here! How can I help?")
        await desk.wait(lambda: _answered(dialog.id))
        desk.clock.advance(timedelta(minutes=5))
        await desk.client_says("My order is late")
        await desk.wait(lambda: _waiting(dialog.id))
        desk.clock.advance(timedelta(minutes=31))
        assert await desk.app.core.automations.sweep() == 1
        await desk.wait(lambda: _count_is(desk, thread, 2))


async def _answered(dialog_id: int) -> bool:
    return (await Dialog.get(id=dialog_id)).waiting_since is None


async def _waiting(dialog_id: int) -> bool:
    return (await Dialog.get(id=dialog_id)).waiting_since is not None


async def _count_is(desk: Desk, thread: int, count: int) -> bool:
    return len(await nudges(desk, thread)) == count
