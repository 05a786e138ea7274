"""Automations through the emulator with a moved clock: the issue's example file as written
(out of hours, billing to Pavel, everyone else in turn, the nudge), the loop guard, the cap
of open dialogs, hot reload and /rules."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.storage import topic_link
from core.content import Content
from core.ingest import Inbound, Sender
from core.lifecycle import DialogStatus
from core.models import ContactKind, Dialog, Message, MessageKind, Operator
from tests.automation_example import EXAMPLE
from tests.e2e.conftest import Desk, build_desk
from tests.e2e.teamwork import has, private_has, said, start_private
from tests.loopback.connector import LoopbackConnector

MOSCOW = ZoneInfo("Europe/Moscow")

AFTER_HOURS = "Hello {client}, we are closed now: we answer from 9:00."


@pytest.fixture
def loopback() -> LoopbackConnector:
    return LoopbackConnector()


@pytest.fixture
def rules_file(tmp_path: Path) -> Path:
    path = tmp_path / "rules.yaml"
    path.write_text(EXAMPLE, encoding="utf-8")
    return path


@pytest.fixture
async def desk(emulator: Any, loopback: LoopbackConnector, rules_file: Path) -> AsyncIterator[Desk]:
    async for value in build_desk(
        emulator,
        connectors=[loopback],
        AUTOMATIONS_FILE=str(rules_file),
        BUSINESS_HOURS="mon-fri 09:00-18:00",
        GROUP_MESSAGES_PER_MINUTE=600,
    ):
        timings = value.app.teamwork.timings
        timings.card, timings.board, timings.activity = 0.3, 0.3, 0.3
        yield value


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=MOSCOW)


def rewrite(path: Path, text: str) -> None:
    """An edit of the file, as a person saves it (a new modification time, surely)."""
    before = path.stat().st_mtime_ns if path.exists() else 0
    path.write_text(text, encoding="utf-8")
    if path.stat().st_mtime_ns <= before:
        os.utime(path, ns=(before + 1_000_000, before + 1_000_000))


async def in_general(desk: Desk, text: str, who: dict[str, Any] | None = None) -> None:
    await desk.emu.send((who or desk.operator)["id"], chat_id=desk.chat_id, text=text)


async def general_has(desk: Desk, needle: str) -> list[dict[str, Any]]:
    return [
        m
        for m in await desk.emu.messages(desk.chat_id, thread_id="general")
        if m["from"]["is_bot"] and needle in (m.get("text") or "")
    ]


async def team_known(desk: Desk) -> None:
    """Olga and Pavel are operators the rules can name (they spoke in the group)."""
    await in_general(desk, "/templates", who=desk.colleague)
    await desk.wait(lambda: Operator.get_or_none(username="pavel"))
    await in_general(desk, "/templates")
    await desk.wait(lambda: Operator.get_or_none(username="olga"))


async def add_template(desk: Desk, name: str, text: str) -> None:
    await in_general(desk, f"/template add {name} {text}")
    await desk.wait(lambda: general_has(desk, f"«{name}» saved"))


async def dialog_of(desk: Desk, chat: str) -> Dialog:
    return await desk.wait(lambda: Dialog.get_or_none(chat_key=chat))


async def thread_of(desk: Desk, chat: str) -> int:
    dialog = await dialog_of(desk, chat)
    link = await desk.wait(lambda: topic_link(dialog.id))
    return int(link.thread_id)


async def assignee(desk: Desk, chat: str) -> str | None:
    dialog = await Dialog.get_or_none(chat_key=chat).prefetch_related("assignee")
    return dialog.assignee.username if dialog and dialog.assignee else None


async def tags(chat: str) -> set[str]:
    dialog = await Dialog.get_or_none(chat_key=chat)
    return {t.name for t in await dialog.tags.all()} if dialog else set()


def texts_to(loopback: LoopbackConnector, chat: str) -> list[str]:
    return [r.text for r in loopback.received if r.chat == chat]


# ---- the example, as written -----------------------------------------------------------


async def test_the_example_file_does_what_it_says(desk: Desk, loopback: LoopbackConnector):
    olga = desk.operator
    await team_known(desk)
    await start_private(desk, olga)  # a manager who started the bot: told of the nudge
    await add_template(desk, "after_hours", AFTER_HOURS)

    # Saturday night: out of hours. A Telegram client asks about an invoice.
    desk.clock.set(at("2026-01-10T23:00"))
    ann = str(desk.client["id"])
    await desk.client_says("Hi! Where is my invoice?")
    # The auto-answer reaches the client, with their name…
    answer = "Hello Ann Lee, we are closed now: we answer from 9:00."
    await desk.wait(lambda: _client_got(desk, answer))
    # …and shows in the topic, marked as the rule's.
    thread = await thread_of(desk, ann)
    await desk.wait(lambda: said(desk, thread, "🤖 out of hours · after_hours"))
    stored = await Message.get(dialog__chat_key=ann, kind=MessageKind.OUT)
    assert stored.automatic  # kept out of the response-time reports
    # Billing goes to Pavel; the round robin rule leaves it with him.
    await desk.wait(lambda: _is(assignee(desk, ann), "pavel"))
    assert await tags(ann) == {"billing"}

    # Monday, in business hours: two more clients, no invoice. No auto-answer; each goes to
    # an operator on duty in turn.
    desk.clock.set(at("2026-01-12T11:00"))
    await loopback.client_writes("Hello, the app crashes", chat="c-1", name="Bob")
    await desk.wait(lambda: assignee(desk, "c-1"))
    await loopback.client_writes("Hello, how do I log in?", chat="c-2", name="Carl")
    await desk.wait(lambda: assignee(desk, "c-2"))
    assert {await assignee(desk, "c-1"), await assignee(desk, "c-2")} == {"olga", "pavel"}
    assert texts_to(loopback, "c-1") == [] and texts_to(loopback, "c-2") == []
    assert await tags("c-1") == set()

    # The nudge: 30 minutes without an answer, once.
    await desk.in_topic(thread, "Sorry for the wait, looking into it")  # Ann is answered
    await desk.wait(lambda: _answered(ann))
    bob = await thread_of(desk, "c-1")
    desk.clock.advance(timedelta(minutes=29))
    assert await desk.app.core.automations.sweep() == 0
    desk.clock.advance(timedelta(minutes=2))
    assert await desk.app.core.automations.sweep() == 2  # Bob's and Carl's waits
    await desk.wait(lambda: said(desk, bob, "⏰ 30 minutes without an answer"))
    nudge = [m for m in await desk.topic_messages(bob) if "⏰" in (m.get("text") or "")]
    assert "🤖 nudge" in nudge[0]["text"]
    await desk.wait(lambda: private_has(desk, olga, "🤖 nudge"))
    # Not twice.
    desk.clock.advance(timedelta(minutes=30))
    assert await desk.app.core.automations.sweep() == 0
    await desk.settle()
    nudges = [m for m in await desk.topic_messages(bob) if "⏰" in (m.get("text") or "")]
    assert len(nudges) == 1
    assert not await said(desk, thread, "⏰")  # Ann was answered: no nudge there


async def _answered(chat: str) -> bool:
    return (await Dialog.get(chat_key=chat)).waiting_since is None


async def _client_got(desk: Desk, text: str) -> bool:
    return has([m for m in await desk.client_chat() if m["from"]["is_bot"]], text)


async def _is(value: Any, expected: Any) -> bool:
    return (await value) == expected


async def test_a_re_opening_after_the_window_runs_the_new_episode_rules(
    desk: Desk, loopback: LoopbackConnector
):
    await team_known(desk)
    await add_template(desk, "after_hours", AFTER_HOURS)
    desk.clock.set(at("2026-01-12T11:00"))  # in hours: no auto-answer
    await loopback.client_writes("Hello", chat="c-1", name="Bob")
    thread = await thread_of(desk, "c-1")
    await desk.in_topic(thread, "/close")
    await desk.wait(lambda: _status_is("c-1", DialogStatus.CLOSED))
    # Within the window, at night: the same episode goes on — no new-episode rules.
    desk.clock.set(at("2026-01-12T22:00"))
    await loopback.client_writes("One more thing", chat="c-1", name="Bob")
    await desk.wait(lambda: said(desk, thread, "One more thing"))
    await desk.settle()
    assert texts_to(loopback, "c-1") == []
    await desk.in_topic(thread, "/close")
    await desk.wait(lambda: _status_is("c-1", DialogStatus.CLOSED))
    # A week later, at night: a re-opening, a new episode — the out-of-hours answer.
    desk.clock.set(at("2026-01-17T22:00"))
    await loopback.client_writes("Hello again", chat="c-1", name="Bob")

    async def answered() -> bool:
        return any("we are closed now" in x for x in texts_to(loopback, "c-1"))

    await desk.wait(answered)


async def _status_is(chat: str, status: DialogStatus) -> bool:
    dialog = await Dialog.get_or_none(chat_key=chat)
    return dialog is not None and dialog.status is status


# ---- loops -------------------------------------------------------------------------------------

LOOPS = """\
- name: greet
  when: new_dialog
  then: [{send_template: hello}, {tag: greeted}]
- name: bye
  when: client_message
  if: {text_contains: bye}
  then: [{close: "Thanks, we close this. Write any time."}]
- name: after a close
  when: closed
  then: [{comment: "closed rule ran"}]
"""


async def test_no_rule_runs_on_what_an_automation_did(
    desk: Desk, loopback: LoopbackConnector, rules_file: Path
):
    rewrite(rules_file, LOOPS)
    await team_known(desk)
    await add_template(desk, "hello", "Hello {client}, we are here.")

    await loopback.client_writes("Hi", chat="c-1", name="Bob")
    thread = await thread_of(desk, "c-1")
    await desk.wait(lambda: said(desk, thread, "🤖 greet · hello"))
    await loopback.client_writes("ok, bye", chat="c-1", name="Bob")
    await desk.wait(lambda: _status_is("c-1", DialogStatus.CLOSED))

    async def farewell() -> bool:
        return "Thanks, we close this. Write any time." in texts_to(loopback, "c-1")

    await desk.wait(farewell)
    assert texts_to(loopback, "c-1")[0] == "Hello Bob, we are here."
    await desk.wait(lambda: said(desk, thread, "🤖 bye"))

    # An operator's close does run the `closed` rule (the control)…
    await loopback.client_writes("Hello", chat="c-2", name="Carl")
    other = await thread_of(desk, "c-2")
    await desk.in_topic(other, "/close")
    await desk.wait(lambda: said(desk, other, "closed rule ran"))
    # …the automation's close did not.
    await desk.settle()
    assert not await said(desk, thread, "closed rule ran")


async def test_nothing_automatic_answers_an_automatic_message(
    desk: Desk, loopback: LoopbackConnector, rules_file: Path
):
    rewrite(rules_file, LOOPS)
    await team_known(desk)
    await add_template(desk, "hello", "Hello {client}, we are here.")
    assert loopback.sink is not None

    async def auto_reply(external_id: str, text: str) -> None:
        await loopback.sink.ingest(  # type: ignore[union-attr]
            Inbound(
                channel_id=loopback.sink.channel_id,  # type: ignore[union-attr]
                chat_key="robot-1",
                external_id=external_id,
                sender=Sender(ContactKind.WEBCHAT, "robot-1", "Mailer Daemon"),
                content=Content(text),
                automatic=True,
            )
        )

    await auto_reply("a-1", "I am out of office until Monday")
    # The other actions run (the tag), the template does not go.
    await desk.wait(lambda: _has_tag("robot-1", "greeted"))
    await auto_reply("a-2", "Auto-reply: bye")
    await desk.wait(lambda: _status_is("robot-1", DialogStatus.CLOSED))  # closed, in silence
    await desk.settle()
    assert texts_to(loopback, "robot-1") == []
    assert not await Message.exists(dialog__chat_key="robot-1", kind=MessageKind.OUT)


async def _has_tag(chat: str, tag: str) -> bool:
    return tag in await tags(chat)


# ---- the cap of open dialogs -------------------------------------------------------------------


async def test_round_robin_takes_turns_and_keeps_the_cap(
    desk: Desk, loopback: LoopbackConnector, rules_file: Path
):
    rewrite(
        rules_file,
        "- name: fairly\n  when: new_dialog\n"
        "  then: [{assign: {round_robin: on_duty, max_open: 1}}]\n",
    )
    await team_known(desk)
    for number in (1, 2, 3):
        await loopback.client_writes("Hello", chat=f"c-{number}", name=f"Client {number}")
        await dialog_of(desk, f"c-{number}")
        await desk.settle()
    first, second = await assignee(desk, "c-1"), await assignee(desk, "c-2")
    assert {first, second} == {"olga", "pavel"}
    assert await assignee(desk, "c-3") is None  # both have one open dialog: the cap


# ---- hot reload and /rules ---------------------------------------------------------------------


async def test_an_edit_is_picked_up_and_a_broken_one_keeps_the_last_rules(
    desk: Desk, loopback: LoopbackConnector, rules_file: Path
):
    await team_known(desk)
    rewrite(rules_file, "- name: first\n  when: new_dialog\n  then: [{tag: first}]\n")
    await loopback.client_writes("Hello", chat="c-1", name="Bob")
    await desk.wait(lambda: _has_tag("c-1", "first"))

    rewrite(rules_file, "- name: second\n  when: new_dialog\n  then: [{tag: second}]\n")
    await loopback.client_writes("Hello", chat="c-2", name="Carl")
    await desk.wait(lambda: _has_tag("c-2", "second"))
    assert await tags("c-2") == {"second"}

    # A broken edit: the last good rules stay in force, /rules says what is wrong where.
    rewrite(
        rules_file,
        "- name: second\n  when: new_dialog\n  then: [{tag: second}]\n"
        "- name: third\n  when: new_dialogue\n  then: [{tag: third}]\n",
    )
    await loopback.client_writes("Hello", chat="c-3", name="Dan")
    await desk.wait(lambda: _has_tag("c-3", "second"))
    await in_general(desk, "/rules")
    [answer] = await desk.wait(lambda: general_has(desk, "mistake"))
    assert "line 5: unknown trigger 'new_dialogue'" in answer["text"]
    assert "1. second" in answer["text"]
    assert "stay in force" in answer["text"]


async def test_rules_lists_the_rules_in_plain_words(desk: Desk):
    await team_known(desk)
    await in_general(desk, "/rules")
    [answer] = await desk.wait(lambda: general_has(desk, "Automation rules in force (4)"))
    text = answer["text"]
    assert "1. out of hours\n   when an episode begins" in text
    assert "if outside business hours" in text
    assert "send the template “after_hours” to the client" in text
    assert "2. billing to Pavel" in text and "then tag #billing; assign to @pavel" in text
    assert "assign in turn among operators on duty (at most 15 open each)" in text
    assert "when the client has waited 30m for an answer" in text
    assert "comment “⏰ 30 minutes without an answer”; tell the managers" in text
    # The template is not there yet: told with the rule's line.
    assert "⚠️ line 4: there is no template “after_hours”" in text

    # In private, in the person's language; team members only.
    pavel = desk.colleague
    await desk.emu.send(pavel["id"], to_bot=desk.bot_username, text="/rules")
    [ru] = await desk.wait(lambda: private_has(desk, pavel, "Действующие правила"))
    assert "назначить по очереди среди: операторы на смене" in ru["text"]
    stranger = await desk.emu.user("Eve", username="eve", language_code="en")
    await desk.emu.send(stranger["id"], to_bot=desk.bot_username, text="/rules")
    await desk.settle()
    assert not await private_has(desk, stranger, "Automation rules")


# ---- waits for the client, snoozes, conditions on the client ----------------------------------

FOLLOW_UP = """\
- name: follow up
  when: {waiting_for_client: 2h}
  if: {channel_kind: webchat}
  then: [{comment: "no word from the client"}, {snooze: 1d}]
- name: woke
  when: snooze_woke
  then: [{close: "We close this for now: write any time."}]
- name: newcomer
  when: client_message
  if: {first_contact: true, text_contains: price}
  then: [{tag: lead}]
- name: telegram only
  when: client_message
  if: {channel_kind: telegram}
  then: [{tag: telegram}]
"""


async def test_a_silent_client_is_followed_up_snoozed_and_closed(
    desk: Desk, loopback: LoopbackConnector, rules_file: Path
):
    rewrite(rules_file, FOLLOW_UP)
    await team_known(desk)
    await loopback.client_writes("What is the price?", chat="c-1", name="Bob")
    await desk.wait(lambda: _has_tag("c-1", "lead"))
    assert "telegram" not in await tags("c-1")
    thread = await thread_of(desk, "c-1")
    await desk.in_topic(thread, "It is 10 euros a month")

    async def answered() -> bool:
        return "It is 10 euros a month" in texts_to(loopback, "c-1")

    await desk.wait(answered)
    desk.clock.advance(timedelta(hours=1, minutes=59))
    assert await desk.app.core.automations.sweep() == 0
    desk.clock.advance(timedelta(minutes=2))
    assert await desk.app.core.automations.sweep() == 1
    await desk.wait(lambda: said(desk, thread, "no word from the client"))
    await desk.wait(lambda: _status_is("c-1", DialogStatus.SNOOZED))

    desk.clock.advance(timedelta(days=1, minutes=1))
    assert await desk.app.core.wake_due_snoozes() == 1

    async def farewell() -> bool:
        return "We close this for now: write any time." in texts_to(loopback, "c-1")

    await desk.wait(farewell)
    await desk.wait(lambda: _status_is("c-1", DialogStatus.CLOSED))

    # A Telegram client: the Telegram rule is theirs, and a newcomer there is a lead too.
    await desk.client_says("What is the price?")
    ann = str(desk.client["id"])
    await desk.wait(lambda: _has_tag(ann, "telegram"))
    assert await tags(ann) == {"lead", "telegram"}


def test_rules_tells_service_levels_off_and_left_as_set() -> None:
    from bot.team.rules import sla_text
    from core.automations.rules import parse_rules

    [vip, mail] = parse_rules(
        "- sla: {first_response: 10m}\n  if: {tags: [vip]}\n"
        "- sla: {first_response: off, next_response: 4h}\n  if: {channel_kind: email}\n"
    ).slas
    assert "first response 10m, next response as in the settings" in sla_text(vip, "en")
    assert "first response off, next response 4h" in sla_text(mail, "en")
