"""Who may do what. Five people — a client, a stranger (never in the team group), a member who
was removed from it, a member and a manager — try every command, button and inline query,
and each sees only what is theirs to see.

Telegram itself lets only members post in the team group (a removed member's post is refused;
anyone else joins by posting), so group messages are tried by the members and by the removed
one; buttons and inline queries anyone can press or type, and private chats anyone can open.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from bot.i18n import t
from core.lifecycle import DialogStatus
from core.models import Client, Dialog, Message, MessageKind, Note, Operator, OutboxItem
from tests.e2e.conftest import TEAM_TOKEN, build_desk
from tests.e2e.teamwork import (
    buttons,
    card_of,
    client_got,
    desk_fixture,
    last_bot_message,
    new_topic,
    said,
)
from tests.emulator.fixtures import ControlError

TEAM_ONLY = t("access.team_only", "en")
OUTSIDERS = ("client", "stranger", "kicked")
MEMBERS = ("member", "manager")
PRIVATE_COMMANDS = ("/start", "/help", "/notes", "/my", "/list", "/templates", "/template")
PAGE = 10  # dialogs on a page of /list


desk = desk_fixture()


async def cast(desk) -> dict[str, dict[str, Any]]:
    """Everyone by role; Kim is a member for now (`remove` takes Kim off the team)."""
    kim = await desk.emu.user("Kim", username="kim", language_code="en")
    await desk.emu.member(desk.chat_id, kim["id"], "member")
    nick = await desk.emu.user("Nick", username="nick", language_code="en")
    return {
        "client": desk.client,
        "stranger": nick,
        "kicked": kim,
        "member": desk.colleague,  # Pavel, who reads Russian
        "manager": desk.operator,  # Olga, an administrator of the group
    }


async def remove(desk, people) -> None:
    await desk.emu.member(desk.chat_id, people["kicked"]["id"], "kicked")
    await desk.wait(lambda: _inactive(people["kicked"]))


async def _inactive(who) -> bool:
    return await Operator.filter(user_id=who["id"], active=False).exists()


async def in_group(desk, who, text: str, thread: int | None = None) -> dict[str, Any]:
    return await desk.emu.send(who["id"], chat_id=desk.chat_id, thread_id=thread, text=text)


async def in_private(desk, who, text: str) -> None:
    await desk.emu.send(who["id"], to_bot=desk.bot_username, text=text)


async def bot_lines(desk, who) -> list[str]:
    return [m.get("text") or "" for m in await desk.operator_private(who) if m["from"]["is_bot"]]


async def quiet(desk) -> None:
    """Nothing more to send: debounced redraws included."""
    await desk.wait(lambda: _nothing_pending())


async def _nothing_pending() -> bool:
    return not await OutboxItem.filter(status="pending").exists()


async def group_view(desk) -> list[tuple[Any, ...]]:
    """Everything the team group shows, edits and keyboards included."""
    return [
        (
            m["message_id"],
            m.get("text"),
            m.get("edit_date"),
            json.dumps(m.get("reply_markup"), sort_keys=True),
        )
        for m in await desk.emu.messages(desk.chat_id)
    ]


async def press(desk, who, message: dict[str, Any], data: str) -> dict[str, Any]:
    """Press a button by its callback data; what the presser was answered."""
    where = (
        {"chat_id": desk.chat_id}
        if message["chat_id"] == desk.chat_id
        else {"to_bot": desk.bot_username}  # in the presser's private chat
    )
    query = await desk.emu.callback(who["id"], message["message_id"], data, **where)
    return await desk.wait(lambda: _answered(desk.emu.callback_answer(query)))


async def _answered(answer):
    got = await answer
    return got if got["answered"] else None


async def inline_results(desk, who) -> list[Any]:
    query = await desk.emu.inline(who["id"], "h", chat_type="supergroup")
    return (await desk.wait(lambda: _answered(desk.emu.inline_answer(query))))["results"]


async def many_dialogs(desk, count: int) -> None:
    for number in range(count):
        other = await desk.emu.user(f"Client{number}", language_code="en")
        await desk.client_says("Hi", who=other)

    async def topics():
        return len(await desk.topics()) >= count + 1

    await desk.wait(topics, timeout=20)


async def the_card(desk, thread: int, needle: str = "") -> dict[str, Any]:
    async def found():
        card = await card_of(desk, thread)
        return card if card and needle in card["text"] else None

    return await desk.wait(found)


async def test_buttons_and_inline_queries(desk):
    people = await cast(desk)
    thread = await new_topic(desk)  # Ann's dialog
    await many_dialogs(desk, PAGE)  # /list gets a second page
    manager, member, kim = people["manager"], people["member"], people["kicked"]
    await in_group(desk, manager, "/template add hi Hi {client}!")
    await in_group(desk, manager, "/template add hello Hello {client}!")
    await desk.wait(lambda: said(desk, "general", "Template «hello» saved"))
    # Kim, still on the team, opens /list in private; it has a ▶ button.
    await in_private(desk, kim, "/start")
    await in_private(desk, kim, "/list")
    kims_list = await desk.wait(lambda: _private_with_buttons(desk, kim))
    await remove(desk, people)

    # Every kind of button the team has, as the manager brings them up.
    await in_group(desk, manager, "/snooze", thread)
    snooze_menu = await desk.wait(lambda: last_bot_message(desk, thread, "Snooze until when?"))
    await in_group(desk, manager, "/assign", thread)
    assign_menu = await desk.wait(lambda: last_bot_message(desk, thread, "Who is responsible"))
    await in_group(desk, manager, "/t h", thread)
    template_menu = await desk.wait(lambda: last_bot_message(desk, thread, "Several templates"))
    await in_group(desk, manager, "/list")
    group_list = await desk.wait(lambda: last_bot_message(desk, "general", "Dialogs: open"))
    card = await the_card(desk, thread)
    on_card = buttons(card)
    group_buttons = [
        (card, on_card["✅ Close"]),
        (card, on_card["💤 Snooze"]),
        (card, on_card["👤 Assign"]),
        (card, on_card["📜 History"]),
        (snooze_menu, buttons(snooze_menu)["1 hour"]),
        (assign_menu, buttons(assign_menu)["Olga"]),
        (template_menu, next(v for k, v in buttons(template_menu).items() if k.startswith("hi "))),
        (group_list, buttons(group_list)["▶"]),
    ]
    await quiet(desk)
    before = await group_view(desk)

    # Outsiders: every press is answered "only the team" and changes nothing.
    for role in OUTSIDERS:
        for message, data in group_buttons:
            answer = await press(desk, people[role], message, data)
            assert (answer["text"], answer["show_alert"]) == (TEAM_ONLY, True), (role, data)
    answer = await press(desk, kim, kims_list, buttons(kims_list)["▶"])
    assert (answer["text"], answer["show_alert"]) == (TEAM_ONLY, True)
    await quiet(desk)
    assert await group_view(desk) == before
    dialog = await Dialog.all().order_by("id").first()
    assert dialog is not None and dialog.status is DialogStatus.OPEN
    assert dialog.assignee_id is None  # type: ignore[attr-defined]
    assert not await client_got(desk, "Hi Ann Lee")
    kims_page = next(
        m for m in await desk.operator_private(kim) if m["message_id"] == kims_list["message_id"]
    )
    assert kims_page["text"] == kims_list["text"]
    # Nobody became an operator by pressing.
    assert not await Operator.filter(
        user_id__in=[people["client"]["id"], people["stranger"]["id"]]
    ).exists()
    assert not (await Operator.get(user_id=kim["id"])).active

    # Templates through inline mode: the team's only.
    for role in OUTSIDERS:
        assert await inline_results(desk, people[role]) == [], role
    for role in MEMBERS:
        assert {r["title"] for r in await inline_results(desk, people[role])} == {"hi", "hello"}

    # Members: every button works, and what the group sees is in its language.
    # 📜 goes to the presser's private chat (#15); one who never started the bot is told how.
    answer = await press(desk, member, card, on_card["📜 History"])
    assert answer["show_alert"] and "press Start" in answer["text"], answer
    await press(desk, member, card, on_card["👤 Assign"])
    menu = await desk.wait(lambda: _newer(desk, thread, "Who is responsible", assign_menu))
    await press(desk, member, menu, buttons(menu)["Pavel"])
    await desk.wait(lambda: said(desk, thread, "Pavel took the dialog."))
    await press(desk, member, group_list, buttons(group_list)["▶"])
    await desk.wait(lambda: said(desk, "general", "(page 2/2)"))
    await press(desk, manager, *group_buttons[6])
    await desk.wait(lambda: client_got(desk, "Hi Ann Lee!"))
    await press(desk, manager, snooze_menu, buttons(snooze_menu)["1 hour"])
    await desk.wait(lambda: _status(DialogStatus.SNOOZED))
    await press(desk, member, card, on_card["💤 Snooze"])
    await desk.wait(lambda: _newer(desk, thread, "Snooze until when?", snooze_menu))
    await press(desk, manager, card, on_card["✅ Close"])
    await desk.wait(lambda: _status(DialogStatus.CLOSED))

    # The closed dialog's card offers Reopen: the outsiders' presses change nothing there either.
    card = await the_card(desk, thread, "closed")
    reopen = buttons(card)["🔓 Reopen"]
    for role in OUTSIDERS:
        answer = await press(desk, people[role], card, reopen)
        assert (answer["text"], answer["show_alert"]) == (TEAM_ONLY, True), role
    assert await _status(DialogStatus.CLOSED)
    await press(desk, member, card, reopen)
    await desk.wait(lambda: _status(DialogStatus.OPEN))


async def _private_with_buttons(desk, who):
    found = [
        m for m in await desk.operator_private(who) if m["from"]["is_bot"] and m.get("reply_markup")
    ]
    return found[-1] if found else None


async def _newer(desk, thread, needle: str, old: dict[str, Any]):
    message = await last_bot_message(desk, thread, needle)
    return message if message and message["message_id"] != old["message_id"] else None


async def _status(status: DialogStatus) -> bool:
    first = await Dialog.all().order_by("id").first()
    return first is not None and first.status is status


async def test_group_commands(desk):
    people = await cast(desk)
    thread = await new_topic(desk)
    manager = people["manager"]
    await in_group(desk, manager, "/template add hi Hi {client}!")
    await desk.wait(lambda: said(desk, "general", "Template «hi» saved"))
    kim = people["kicked"]
    await in_group(desk, kim, "hello team")
    await remove(desk, people)

    # A removed member cannot post in the group at all: Telegram refuses it.
    with pytest.raises(ControlError) as refused:
        await in_group(desk, kim, "/close", thread)
    assert refused.value.status == 403

    for role in MEMBERS:
        who = people[role]
        name = who["first_name"]
        steps: list[tuple[str, Any]] = [
            ("/tag vip", "🏷 Added #vip"),
            ("/untag vip", "🏷 Removed #vip"),
            ("/tags", "🏷 Tags (dialogs / open)"),
            ("/assign", "Who is responsible for this dialog?"),
            ("/take", f"👤 {name} took the dialog."),
            ("/unassign", "👤 Nobody is responsible now"),
            ("/templates", "• hi — Hi {client}!"),
            ("/list", "Dialogs: open"),
            ("/status", "📊 eadesk status"),
            ("/help", "In a dialog topic"),
            ("/snooze", "Snooze until when?"),
            ("/snooze 2h", f"💤 {name} snoozed the dialog"),
        ]
        if role == "manager":
            steps.append(("/template add bye Bye!", "📄 Template «bye» saved."))
        else:
            steps.append(("/template add bye Bye!", t("error.managers_only", "en")))
        steps.append(("/close", f"✅ Closed by {name}."))
        for text, expected in steps:
            seen = len(await said_all(desk, thread, expected))
            await in_group(desk, who, text, thread)
            await desk.wait(lambda e=expected, n=seen: _more(desk, thread, e, n))
        await desk.wait(lambda: _topic_closed(desk))
        if role == "manager":
            await in_group(desk, who, "/reopen", thread)
        else:
            # Telegram lets only administrators write in a closed topic: the card's button.
            with pytest.raises(ControlError):
                await in_group(desk, who, "/reopen", thread)
            card = await the_card(desk, thread, "closed")
            await press(desk, who, card, buttons(card)["🔓 Reopen"])
        await desk.wait(lambda: _status(DialogStatus.OPEN))
        await desk.wait(lambda: _not(_topic_closed(desk)))
        # Comments and notes stay in the team; a reply and a template reach the client.
        await in_group(desk, who, f"/c comment by {name}", thread)
        await in_group(desk, who, f"// slashes by {name}", thread)
        await in_group(desk, who, f"/note note by {name}", thread)
        await in_group(desk, who, f"reply by {name}", thread)
        await in_group(desk, who, "/t hi", thread)
        await desk.wait(lambda n=name: client_got(desk, f"reply by {n}"))
        await desk.wait(lambda n=name: _stored(MessageKind.COMMENT, f"slashes by {n}"))
        await desk.wait(lambda n=name: _stored(MessageKind.COMMENT, f"comment by {n}"))
        await desk.wait(lambda n=name: Note.filter(text=f"note by {n}").exists())
    await desk.wait(lambda: _count(client_got(desk, "Hi Ann Lee!"), 2))
    await quiet(desk)
    client_sees = [m.get("text") for m in await desk.client_chat() if m["from"]["is_bot"]]
    assert not [x for x in client_sees if "comment by" in x or "slashes" in x or "note by" in x]
    # Pavel reads Russian, yet the group's answers to him are in the group's language.
    for message in await desk.emu.messages(desk.chat_id):
        text = message.get("text") or ""
        if message["from"]["is_bot"] and "Ann Lee" not in text:
            assert not any("\u0400" <= c <= "\u04ff" for c in text), text


async def _not(value) -> bool:
    return not await value


async def _topic_closed(desk) -> bool:
    return bool((await desk.only_topic())["closed"])


async def said_all(desk, thread, needle: str) -> list[dict[str, Any]]:
    return [
        m
        for m in await desk.topic_messages(thread)
        if m["from"]["is_bot"] and needle in (m.get("text") or "")
    ]


async def _more(desk, thread, needle: str, count: int) -> bool:
    return len(await said_all(desk, thread, needle)) > count


async def _stored(kind: MessageKind, text: str) -> bool:
    return await Message.filter(kind=kind, text=text).exists()


async def _count(found, count: int):
    got = await found
    return got if len(got) >= count else None


async def test_private_chats(desk):
    """The team bot is the client bot too here (TELEGRAM_CLIENT_BOT_TOKENS is empty)."""
    people = await cast(desk)
    await new_topic(desk)
    kim = people["kicked"]
    await in_private(desk, kim, "/start")
    await desk.wait(lambda: _count(_bot_said(desk, kim), 1))
    await remove(desk, people)
    plain = "just some words"

    for role in ("client", "stranger", "kicked", "member", "manager"):
        who = people[role]
        for text in (*PRIVATE_COMMANDS, "/close", plain):
            await in_private(desk, who, text)

    async def answered(role: str, count: int):
        return await _count(_bot_said(desk, people[role]), count)

    # Members: their own space. Every known command works, an unknown one gets help,
    # plain words a hint — nothing becomes a client's dialog.
    for role in MEMBERS:
        lang = "ru" if role == "member" else "en"
        got = await desk.wait(lambda r=role: answered(r, 9))
        assert len(got) == 9, got
        welcome, help_, notes, my, list_, templates, template, unknown, hint = got
        assert welcome.startswith(t("private.welcome", lang, name=people[role]["first_name"]))
        for command in ("/my", "/list", "/templates", "/notes"):
            assert command in help_
        assert ("/template add" in help_) is (role == "manager")
        assert notes == t("notes.none", lang)
        title = t("list.title", lang, statuses="", count=0, page=1, pages=1).split(":")[0]
        assert my.startswith(title) and list_.startswith(title)
        assert "Ann Lee" in list_
        assert templates == t("template.none", lang)
        assert template == t("template.usage", lang)
        assert unknown.startswith(t("private.unknown_command", lang)) and "/my" in unknown
        assert hint == t("private.hint", lang)
    # The removed member: the team's commands are refused; the rest is a client's, as anyone's.
    got = await desk.wait(lambda: answered("kicked", 7))
    assert got[1:] == [t("client.greeting", "en"), *[TEAM_ONLY] * 5]
    # Clients and strangers: a client's chat as today. /start is greeted, the rest is theirs.
    for role in ("client", "stranger"):
        await desk.wait(lambda r=role: _topic_shows(desk, people[r], plain))
        assert await _bot_said(desk, people[role]) == [t("client.greeting", "en")]
    for role in ("client", "stranger"):
        for text in (*PRIVATE_COMMANDS[1:], "/close", plain):
            assert await _topic_shows(desk, people[role], text), (role, text)
    await desk.wait(lambda: _topic_shows(desk, kim, plain))
    assert await _topic_shows(desk, kim, "/help")
    for text in ("/notes", "/my", "/list", "/templates", "/template"):
        assert not await _topic_shows(desk, kim, text), text

    # Nothing of the team's reached anyone off it; no operator became a client or the reverse.
    for role in OUTSIDERS:
        for line in await _bot_said(desk, people[role]):
            assert "Ann Lee" not in line and "Your notes" not in line
    names = set(await Client.all().values_list("name", flat=True))
    assert names == {"Ann Lee", "Nick", "Kim"}
    assert not await Operator.filter(
        user_id__in=[people["client"]["id"], people["stranger"]["id"]]
    ).exists()


async def _bot_said(desk, who) -> list[str]:
    return await bot_lines(desk, who)


async def _topic_texts(desk, who) -> list[str]:
    client = await Client.filter(name__startswith=who["first_name"]).first()
    if client is None:
        return []
    dialog = await Dialog.filter(client_id=client.id).first()
    from bot.storage import TopicLink

    link = await TopicLink.get_or_none(dialog_id=dialog.id) if dialog else None
    if link is None:
        return []
    return [m.get("text") or "" for m in await desk.topic_messages(link.thread_id)]


async def _topic_shows(desk, who, text: str) -> bool:
    """A line of the client's topic is `text` (a post of one message, or a line of several)."""
    lines = [line for x in await _topic_texts(desk, who) for line in x.splitlines()]
    return any(line == text or line.endswith(" " + text) for line in lines)


CLIENT_TOKEN = "700002:client-bot-token"


async def test_a_team_only_bot_tells_strangers_so(emulator):
    await emulator.bot(CLIENT_TOKEN, username="acme_client_bot")
    async for desk in build_desk(
        emulator, TELEGRAM_CLIENT_BOT_TOKENS=[CLIENT_TOKEN], GROUP_MESSAGES_PER_MINUTE=600
    ):
        await strangers_hear_team_only(desk)


async def strangers_hear_team_only(desk) -> None:
    assert desk.app.bot.token == TEAM_TOKEN
    people = await cast(desk)
    kim = people["kicked"]
    await in_private(desk, kim, "/start")
    await desk.wait(lambda: _count(_bot_said(desk, kim), 1))
    await remove(desk, people)
    for role in OUTSIDERS:
        for text in ("/list", "hello"):
            await in_private(desk, people[role], text)
    for role in OUTSIDERS:
        got = await desk.wait(lambda r=role: _count(_bot_said(desk, people[r]), 2))
        assert got[-2:] == [TEAM_ONLY, TEAM_ONLY], role
    await in_private(desk, people["member"], "/my")
    await desk.wait(lambda: _count(_bot_said(desk, people["member"]), 1))
    # Clients write to the client bot, as always.
    await desk.emu.send(desk.client["id"], to_bot="acme_client_bot", text="Hello there")
    await desk.only_topic()
    await desk.settle()
    assert await Dialog.all().count() == 1
