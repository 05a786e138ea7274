"""A member who leaves the team group or is removed from it loses everything at once;
membership is asked of Telegram when in doubt and remembered a minute."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from bot.i18n import t
from core.models import Client, Dialog, Operator
from tests.e2e.teamwork import (
    buttons,
    card_of,
    desk_fixture,
    last_bot_message,
    new_topic,
    press,
    private_has,
    said,
    start_private,
)

TEAM_ONLY_RU = t("access.team_only", "ru")


desk = desk_fixture()


async def in_private(desk, who: dict[str, Any], text: str) -> None:
    await desk.emu.send(who["id"], to_bot=desk.bot_username, text=text)


async def bot_lines(desk, who: dict[str, Any]) -> list[str]:
    return [m.get("text") or "" for m in await desk.operator_private(who) if m["from"]["is_bot"]]


async def answers_after(desk, who: dict[str, Any], before: int, count: int) -> list[str]:
    async def enough():
        got = (await bot_lines(desk, who))[before:]
        return got if len(got) >= count else None

    return await desk.wait(enough)


async def assignee_id(desk) -> int | None:
    return (await desk.dialog()).assignee_id  # type: ignore[attr-defined]


async def pavel_assigned(desk) -> int:
    """A topic whose dialog Pavel is responsible for, with a template in stock."""
    thread = await new_topic(desk)
    await start_private(desk, desk.colleague)
    await desk.emu.send(desk.operator["id"], chat_id=desk.chat_id, text="/template add hi Hi!")
    await desk.wait(lambda: said(desk, "general", "Template «hi» saved"))
    await desk.in_topic(thread, "/assign @pavel")
    await desk.wait(lambda: said(desk, thread, "Pavel is responsible now"))
    await desk.wait(lambda: private_has(desk, desk.colleague, "назначил"))
    return thread


@pytest.mark.parametrize("status", ["kicked", "left"])
async def test_a_removed_member_loses_everything_at_once(desk, status):
    thread = await pavel_assigned(desk)
    # An assign menu posted while Pavel was still on the team.
    await desk.in_topic(thread, "/assign")
    old_menu = await desk.wait(lambda: last_bot_message(desk, thread, "Who is responsible"))
    assert any("Pavel" in label for label in buttons(old_menu))
    # While on the team, /list in private shows the team's dialogs.
    before = len(await bot_lines(desk, desk.colleague))
    await in_private(desk, desk.colleague, "/list")
    assert "Ann Lee" in (await answers_after(desk, desk.colleague, before, 1))[0]

    await desk.emu.member(desk.chat_id, desk.colleague["id"], status)

    # The dialog is nobody's at once: it is back on the board, and the card says so.
    await desk.wait(lambda: _is_none(assignee_id(desk)))
    await desk.wait(lambda: _card_says(desk, thread, "Responsible: nobody"))
    assert not (await Operator.get(user_id=desk.colleague["id"])).active

    # Nothing of the team's in private: every team command is refused.
    commands = ["/list all", "/templates", "/my", "/notes", "/template add x y"]
    before = len(await bot_lines(desk, desk.colleague))
    for command in commands:
        await in_private(desk, desk.colleague, command)
    assert await answers_after(desk, desk.colleague, before, len(commands)) == (
        [TEAM_ONLY_RU] * len(commands)
    )
    # ... and no template through inline mode.
    query = await desk.emu.inline(desk.colleague["id"], "hi", chat_type="sender")
    answer = await desk.wait(lambda: _answered(desk, query))
    assert answer["results"] == []
    # Their team commands are no client's words either.
    assert await Dialog.all().count() == 1
    assert not await Client.filter(name__contains="Pavel").exists()

    # Nobody can make them responsible again: not by name, not with an old button.
    await desk.in_topic(thread, "/assign @pavel")
    await desk.wait(lambda: said(desk, thread, "Pavel is not in the team group"))
    callback = await press(desk, desk.operator, old_menu, "Pavel")
    pressed = await desk.wait(lambda: _callback_answered(desk, callback))
    assert "not in the team group" in pressed["text"] and pressed["show_alert"]
    await desk.in_topic(thread, "/assign")
    menu = await desk.wait(lambda: _newer_menu(desk, thread, old_menu))
    assert not any("Pavel" in label for label in buttons(menu))
    assert await assignee_id(desk) is None

    # No notices any more: the client writes, Pavel hears nothing.
    lines = await bot_lines(desk, desk.colleague)
    await desk.client_says("Anyone there?")
    await desk.wait(lambda: said(desk, thread, "Anyone there?"))
    desk.clock.advance(timedelta(seconds=1))
    await desk.settle()
    assert await bot_lines(desk, desk.colleague) == lines


async def test_a_member_back_in_the_group_is_on_the_team_again(desk):
    thread = await pavel_assigned(desk)
    await desk.emu.member(desk.chat_id, desk.colleague["id"], "left")
    await desk.wait(lambda: _is_none(assignee_id(desk)))
    await desk.emu.member(desk.chat_id, desk.colleague["id"], "member")
    before = len(await bot_lines(desk, desk.colleague))
    await in_private(desk, desk.colleague, "/templates")
    assert "hi — Hi!" in (await answers_after(desk, desk.colleague, before, 1))[0]
    await desk.in_topic(thread, "/assign @pavel")
    await desk.wait(lambda: _count(said_all(desk, thread, "Pavel is responsible now"), 2))


async def test_membership_is_asked_once_a_minute_and_a_change_is_known_at_once(desk):
    await start_private(desk, desk.colleague)

    async def checks() -> int:
        calls = await desk.emu.calls("getChatMember")
        return sum(str(c["params"].get("user_id")) == str(desk.colleague["id"]) for c in calls)

    asked = await checks()
    before = len(await bot_lines(desk, desk.colleague))
    for _ in range(3):
        await in_private(desk, desk.colleague, "/my")
    await answers_after(desk, desk.colleague, before, 3)
    assert await checks() == asked  # remembered

    desk.clock.advance(timedelta(seconds=61))
    before = len(await bot_lines(desk, desk.colleague))
    await in_private(desk, desk.colleague, "/my")
    await answers_after(desk, desk.colleague, before, 1)
    assert await checks() == asked + 1  # a minute later, asked again

    # A chat_member update needs no asking: the next message is refused at once.
    await desk.emu.member(desk.chat_id, desk.colleague["id"], "kicked")
    before = len(await bot_lines(desk, desk.colleague))
    await in_private(desk, desk.colleague, "/my")
    assert await answers_after(desk, desk.colleague, before, 1) == [TEAM_ONLY_RU]
    assert await checks() == asked + 1


async def test_an_operator_is_never_taken_for_a_client_when_telegram_cannot_say(desk):
    await start_private(desk, desk.colleague)
    desk.clock.advance(timedelta(seconds=61))  # what was known is stale now
    await desk.emu.fault(
        "getChatMember", error_code=500, description="Internal Server Error", times=100
    )
    before = len(await bot_lines(desk, desk.colleague))
    await in_private(desk, desk.colleague, "привет")
    await in_private(desk, desk.colleague, "/my")
    assert await answers_after(desk, desk.colleague, before, 2) == [t("access.in_doubt", "ru")] * 2
    # A client in the same minute is still a client: their words reach a topic.
    await desk.client_says("Hello")
    await desk.only_topic()
    await desk.settle()
    assert await Dialog.all().count() == 1
    assert (await Client.get()).name == "Ann Lee"


async def _is_none(value) -> bool:
    return await value is None


async def _count(found, count: int):
    got = await found
    return got if len(got) >= count else None


async def said_all(desk, thread: int, needle: str) -> list[dict[str, Any]]:
    return [
        m
        for m in await desk.topic_messages(thread)
        if m["from"]["is_bot"] and needle in (m.get("text") or "")
    ]


async def _card_says(desk, thread: int, needle: str):
    card = await card_of(desk, thread)
    return card if card and needle in card["text"] else None


async def _answered(desk, query_id: str):
    answer = await desk.emu.inline_answer(query_id)
    return answer if answer["answered"] else None


async def _callback_answered(desk, callback_id: str):
    answer = await desk.emu.callback_answer(callback_id)
    return answer if answer["answered"] else None


async def _newer_menu(desk, thread: int, old: dict[str, Any]):
    menu = await last_bot_message(desk, thread, "Who is responsible")
    return menu if menu and menu["message_id"] != old["message_id"] else None
