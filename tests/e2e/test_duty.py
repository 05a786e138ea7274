"""/duty on|off (anywhere a member writes to the bot) and who is on duty in /status."""

from __future__ import annotations

from typing import Any

from core.models import Operator
from tests.e2e.conftest import Desk
from tests.e2e.teamwork import desk_fixture, last_bot_message, pressed, private_has

desk = desk_fixture()


async def general_says(desk: Desk, needle: str, after: int = 0) -> dict[str, Any] | None:
    found = await last_bot_message(desk, "general", needle)
    return found if found and found["message_id"] > after else None


async def status_text(desk: Desk, who: dict[str, Any]) -> str:
    before = await last_bot_message(desk, "general", "eadesk status")
    after = before["message_id"] if before else 0
    await desk.emu.send(who["id"], chat_id=desk.chat_id, text="/status")
    shown = await desk.wait(lambda: general_says(desk, "eadesk status", after))
    return str(shown["text"])


async def test_duty_on_and_off_and_who_is_on_duty_in_status(desk: Desk) -> None:
    olga, pavel = desk.operator, desk.colleague
    # Olga asks her state in General: on duty by default, with a button to step out.
    await desk.emu.send(olga["id"], chat_id=desk.chat_id, text="/duty")
    state = await desk.wait(lambda: general_says(desk, "You are on duty"))
    # Pavel steps out in private (his language: Russian).
    await desk.emu.send(pavel["id"], to_bot=desk.bot_username, text="/duty off")
    await desk.wait(lambda: private_has(desk, pavel, "не на смене"))
    shown = await status_text(desk, olga)
    assert "On duty: Olga" in shown and "Stepped out: Pavel" in shown, shown
    # Olga presses "Step out" under her answer: the answer now tells it.
    answer = await pressed(desk, olga, state, "Step out")
    assert "stepped out" in str(answer), answer
    await desk.wait(lambda: general_says(desk, "Olga stepped out"))
    assert not (await Operator.get(user_id=olga["id"])).on_duty
    shown = await status_text(desk, olga)
    assert "On duty: —" in shown and "Stepped out: Olga, Pavel" in shown, shown
    # Back on duty from a topic: the answer comes in the topic.
    await desk.client_says("Hello")
    thread = int((await desk.only_topic())["thread_id"])
    await desk.in_topic(thread, "/duty on")
    await desk.wait(lambda: last_bot_message(desk, thread, "Olga is on duty"))
    assert (await Operator.get(user_id=olga["id"])).on_duty
    # A word it does not know: the usage, nothing changed.
    await desk.emu.send(pavel["id"], to_bot=desk.bot_username, text="/duty maybe")
    await desk.wait(lambda: private_has(desk, pavel, "/duty on|off"))
    assert not (await Operator.get(user_id=pavel["id"])).on_duty
