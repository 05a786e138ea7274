"""Service levels with a moved clock: a wait close to its target tells the assignee once; a
breach posts one line in the topic and tells the assignee once — also after a restart; the
board marks both; /stats shows the share of responses within each target."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from core.clock import FrozenClock
from core.models import Dialog
from tests.e2e.conftest import TEAM_BOT, TEAM_TOKEN, Desk, running_desk, team_and_client, team_forum
from tests.e2e.teamwork import (
    board_of,
    has,
    last_bot_message,
    new_topic,
    private_has,
    start_private,
)

WARNED = "Close to the first response target of 15m"
MISSED = "First response target of 15m missed"


async def board_shows(desk: Desk, needle: str) -> bool:
    await desk.app.teamwork.board.check()  # the ticker's look at the board, now
    board = await board_of(desk)
    return board is not None and needle in (board.get("text") or "")


async def topic_lines(desk: Desk, thread: int, needle: str) -> list[dict[str, Any]]:
    return [
        m
        for m in await desk.topic_messages(thread)
        if m["from"]["is_bot"] and needle in (m.get("text") or "")
    ]


async def test_sla_warning_and_breach_come_once_each_also_after_a_restart(
    emulator: Any, tmp_path: Path
) -> None:
    chat_id, people = await team_and_client(emulator)
    olga = people[0]
    clock = FrozenClock()
    settings = {
        "DATABASE_URL": f"sqlite://{tmp_path / 'db.sqlite3'}",
        "SLA_FIRST_RESPONSE": "15m",
        "SLA_NEXT_RESPONSE": "1h",
        "GROUP_MESSAGES_PER_MINUTE": 600,
    }

    async with running_desk(emulator, chat_id, *people, clock=clock, **settings) as desk:
        desk.app.teamwork.timings.board = 0.3
        thread = await new_topic(desk)
        await start_private(desk, olga)
        await desk.in_topic(thread, "/take")
        await desk.wait(lambda: Dialog.filter(assignee_id__isnull=False).exists())
        clock.advance(timedelta(minutes=11))
        assert await desk.app.core.sla.sweep() == 0
        clock.advance(timedelta(minutes=1))  # 12 of 15 minutes: close to the breach
        assert await desk.app.core.sla.sweep() == 1
        [warning] = await desk.wait(lambda: private_has(desk, olga, WARNED))
        links = [e["url"] for e in warning.get("entities") or [] if e.get("type") == "text_link"]
        assert any(link.endswith(f"/{thread}") for link in links), links
        await desk.wait(lambda: board_shows(desk, "⏳ SLA"))
        assert not await topic_lines(desk, thread, "⏱")  # a warning is private
        clock.advance(timedelta(minutes=4))
        assert await desk.app.core.sla.sweep() == 1
        await desk.wait(lambda: topic_lines(desk, thread, MISSED))
        await desk.wait(lambda: private_has(desk, olga, MISSED))
        await desk.wait(lambda: board_shows(desk, "⏱ SLA missed"))
        # Time goes on: told already.
        clock.advance(timedelta(hours=1))
        assert await desk.app.core.sla.sweep() == 0

    async with running_desk(emulator, chat_id, *people, clock=clock, **settings) as desk:
        # The start swept already (the ticker catches up at once): nothing told twice.
        clock.advance(timedelta(minutes=1))
        assert await desk.app.core.sla.sweep() == 0
        await desk.settle()
        assert len(await topic_lines(desk, thread, MISSED)) == 1
        assert len(await private_has(desk, olga, MISSED)) == 1
        assert len(await private_has(desk, olga, WARNED)) == 1
        # Olga answers late; the next wait is answered within its hour.
        await desk.in_topic(thread, "Sorry for the wait")
        await desk.wait(lambda: Dialog.filter(waiting_since__isnull=True).exists())
        await desk.client_says("One more thing")
        await desk.wait(lambda: topic_lines(desk, thread, "One more thing"))
        clock.advance(timedelta(minutes=10))
        await desk.in_topic(thread, "Sure")
        await desk.wait(lambda: Dialog.filter(waiting_since__isnull=True).exists())
        await desk.emu.send(olga["id"], chat_id=chat_id, text="/stats")

        async def stats() -> dict[str, Any] | None:
            return await last_bot_message(desk, "general", "📊")

        shown = (await desk.wait(stats))["text"]
        assert "First response within target: 0% (0 of 1)" in shown, shown
        assert "Next response within target: 100% (1 of 1)" in shown, shown
        assert not has(await desk.topic_messages(thread), "Next response target")


async def test_the_automations_file_overrides_a_target_by_tag(
    emulator: Any, tmp_path: Path
) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text("- sla: {first_response: 5m}\n  if: {tags: [vip]}\n", encoding="utf-8")
    await emulator.bot(TEAM_TOKEN, username=TEAM_BOT)
    olga = await emulator.user("Olga", username="olga", language_code="en")
    pavel = await emulator.user("Pavel", username="pavel", language_code="ru")
    ann = await emulator.user("Ann", last_name="Lee", language_code="en")
    chat_id = await team_forum(emulator, olga, pavel)
    async with running_desk(
        emulator,
        chat_id,
        olga,
        pavel,
        ann,
        SLA_FIRST_RESPONSE="15m",
        AUTOMATIONS_FILE=str(rules),
        GROUP_MESSAGES_PER_MINUTE=600,
    ) as desk:
        thread = await new_topic(desk)
        await desk.in_topic(thread, "/tag vip")
        await desk.wait(lambda: Dialog.filter(tags__name="vip").exists())
        desk.clock.advance(timedelta(minutes=6))
        assert await desk.app.core.sla.sweep() == 1
        # Nobody is assigned: the line in the topic is all.
        await desk.wait(lambda: topic_lines(desk, thread, "First response target of 5m missed"))
        assert not await private_has(desk, olga, "missed")
