"""The pinned client card, the dispatch board, tags, /list and /my, and what they cost."""

from __future__ import annotations

import asyncio

from tests.e2e.teamwork import (
    board_of,
    buttons,
    card_of,
    desk_fixture,
    last_bot_message,
    new_topic,
    press,
    private_has,
    said,
    start_private,
    teamwork_desk,
)

desk = desk_fixture()


async def card_says(desk, thread, needle):
    card = await card_of(desk, thread)
    return card if card and needle in card["text"] else None


async def board_says(desk, needle):
    board = await board_of(desk)
    return board if board and needle in board["text"] else None


async def test_the_card_is_pinned_first_and_carries_the_buttons(desk):
    thread = await new_topic(desk)
    card = await desk.wait(lambda: card_of(desk, thread))
    shown = [m for m in await desk.topic_messages(thread) if not m.get("service")]
    assert shown[0]["message_id"] == card["message_id"], "the card comes before the client"
    for line in ("Ann Lee", "telegram", "@acme_help_bot", "open", "Responsible: nobody", "Tags: —"):
        assert line in card["text"]
    assert {"✅ Close", "💤 Snooze", "👤 Assign", "📜 History"} <= set(buttons(card))
    first_client = next(m for m in shown if "Hello" in (m.get("text") or ""))
    assert not first_client.get("reply_markup"), "the card carries the buttons now"


async def test_the_card_follows_tags_status_and_assignee_and_its_buttons_work(desk):
    thread = await new_topic(desk)
    await desk.in_topic(thread, "/tag VIP billing")
    await desk.wait(lambda: said(desk, thread, "Added #billing #vip"))
    await desk.wait(lambda: card_says(desk, thread, "#billing #vip"))
    await desk.in_topic(thread, "/untag billing")
    await desk.in_topic(thread, "/untag nothing")
    await desk.wait(lambda: said(desk, thread, "has no #nothing"))
    await desk.wait(lambda: card_says(desk, thread, "Tags: #vip"))
    await desk.in_topic(thread, "/tag")
    await desk.wait(lambda: said(desk, thread, "Which tags?"))

    await desk.in_topic(thread, "/take")
    await desk.wait(lambda: card_says(desk, thread, "Responsible: Olga"))
    await desk.in_topic(thread, "/snooze 2h")
    await desk.wait(lambda: card_says(desk, thread, "snoozed until"))

    card = await card_of(desk, thread)
    # 📜 goes to the presser's private chat (#15): once they started the bot.
    await start_private(desk, desk.operator)
    await press(desk, desk.operator, card, "History")
    history = await desk.wait(lambda: private_has(desk, desk.operator, "📜 History"))
    assert "Hello" in history[-1]["text"]

    await press(desk, desk.operator, card, "Close")
    card = await desk.wait(lambda: card_says(desk, thread, "closed"))
    assert "🔓 Reopen" in buttons(card)
    await press(desk, desk.operator, card, "Reopen")
    card = await desk.wait(lambda: card_says(desk, thread, "🟢 open"))
    assert "✅ Close" in buttons(card)

    await press(desk, desk.operator, card, "Snooze")
    await desk.wait(lambda: last_bot_message(desk, thread, "Snooze until when?"))


async def test_other_dialogs_of_the_client_show_on_the_card(emulator):
    second = "700002:second-client-bot"
    await emulator.bot(second, username="acme_sales_bot")
    from tests.e2e.conftest import TEAM_TOKEN

    tokens = f"{TEAM_TOKEN},{second}"
    async for desk in teamwork_desk(emulator, TELEGRAM_CLIENT_BOT_TOKENS=tokens):
        await desk.client_says("Hello support")
        topic = await desk.wait(desk.topics)
        first = topic[0]["thread_id"]
        await desk.emu.send(desk.client["id"], to_bot="acme_sales_bot", text="Price for sales?")

        async def two_topics(d=desk):
            topics = await d.topics()
            return topics if len(topics) == 2 else None

        topics = await desk.wait(two_topics)
        other = next(t["thread_id"] for t in topics if t["thread_id"] != first)
        card = await desk.wait(lambda d=desk, o=other: card_says(d, o, "Other dialogs (1)"))
        assert "Hello support" in card["text"] and "@acme_help_bot" in card["text"]
        url = f"https://t.me/c/{str(desk.chat_id)[4:]}/{first}"
        assert any(e.get("url") == url for e in card["entities"])
        # A new message in one dialog redraws the other's card.
        await desk.client_says("Anyone there?")
        await desk.wait(lambda d=desk, o=other: card_says(d, o, "Anyone there?"))


async def test_the_board_shows_open_unassigned_per_operator_and_waking(desk):
    thread = await new_topic(desk)
    board = await desk.wait(lambda: board_says(desk, "Unassigned: 1"))
    assert board["pinned"]
    url = f"https://t.me/c/{str(desk.chat_id)[4:]}/{thread}"
    assert any(e.get("url") == url for e in board["entities"])
    await desk.in_topic(thread, "/take")
    await desk.wait(lambda: board_says(desk, "👤 Olga: 1"))
    await desk.in_topic(thread, "/snooze 2h")
    board = await desk.wait(lambda: board_says(desk, "Waking within 24 h: 1"))
    assert "Open dialogs: 0" in board["text"]
    boards = [
        m
        for m in await desk.emu.messages(desk.chat_id, thread_id="general")
        if m["from"]["is_bot"] and "Dispatch board" in (m.get("text") or "")
    ]
    assert len(boards) == 1, "one message, edited in place"


async def test_a_burst_of_actions_is_one_card_edit_and_one_board_edit(desk):
    thread = await new_topic(desk)
    await desk.wait(lambda: board_says(desk, "Unassigned: 1"))
    await desk.wait(lambda: card_of(desk, thread))
    await desk.settle()
    timings = desk.app.teamwork.timings
    timings.card = timings.board = 2.0
    since = (await desk.emu.calls())[-1]["t"]
    for command in ("/tag a", "/tag b", "/take", "/untag a", "/tag c"):
        await desk.in_topic(thread, command)
    await desk.wait(lambda: said(desk, thread, "Added #c"))
    await desk.wait(lambda: card_says(desk, thread, "Tags: #b #c"), timeout=10)
    await desk.wait(lambda: board_says(desk, "Olga: 1"), timeout=10)
    await asyncio.sleep(2.5)
    await desk.settle()
    edits = await desk.emu.calls(method="editMessageText", since=since)
    card = await card_of(desk, thread)
    board = await board_of(desk)
    card_edits = [e for e in edits if str(e["params"]["message_id"]) == str(card["message_id"])]
    board_edits = [e for e in edits if str(e["params"]["message_id"]) == str(board["message_id"])]
    assert len(card_edits) == 1, card_edits
    assert len(board_edits) == 1, board_edits
    # Nothing changed since: no more edits at all.
    await desk.app.teamwork.card.refresh((await desk.dialog()).id)
    await desk.app.teamwork.board.refresh()
    await asyncio.sleep(2.5)
    await desk.settle()
    assert len(await desk.emu.calls(method="editMessageText", since=since)) == len(edits)


async def test_tags_list_and_my(desk, monkeypatch):
    import bot.team.listing as listing

    first = await new_topic(desk)
    other = await desk.emu.user("Bob", language_code="en")
    await desk.client_says("Need help", who=other)

    async def two(d=desk):
        topics = await d.topics()
        return topics if len(topics) == 2 else None

    topics = await desk.wait(two)
    second = next(t["thread_id"] for t in topics if t["thread_id"] != first)
    await desk.in_topic(first, "/tag vip")
    await desk.in_topic(first, "/take")
    await desk.in_topic(second, "/tag billing")
    await desk.wait(lambda: said(desk, second, "Added #billing"))

    async def general(text):
        await desk.emu.send(desk.operator["id"], chat_id=desk.chat_id, text=text)

    await general("/tags")
    tags = await desk.wait(lambda: last_bot_message(desk, "general", "Tags (dialogs / open)"))
    assert "#vip — 1 / 1" in tags["text"] and "#billing — 1 / 1" in tags["text"]

    await general("/list #vip")
    answer = await desk.wait(lambda: last_bot_message(desk, "general", "Dialogs: open — 1"))
    assert "Ann Lee" in answer["text"] and "Bob" not in answer["text"]
    await general("/list unassigned")

    async def unassigned():
        answer = await last_bot_message(desk, "general", "Dialogs: open — 1")
        return answer if answer and "Bob" in answer["text"] else None

    answer = await desk.wait(unassigned)
    assert "Ann Lee" not in answer["text"] and "nobody" in answer["text"]
    await general("/list mine activity")
    await general("/list @nobody_here")
    await desk.wait(lambda: said(desk, "general", "I do not know the operator @nobody_here"))
    await general("/list purple")
    await desk.wait(lambda: said(desk, "general", "I did not understand «purple»"))
    await general("/list #nope")
    await desk.wait(lambda: said(desk, "general", "No dialog has the tag #nope"))

    monkeypatch.setattr(listing, "PAGE", 1)
    await general("/list all age")
    paged = await desk.wait(lambda: last_bot_message(desk, "general", "(page 1/2)"))
    assert "Ann Lee" in paged["text"]
    await press(desk, desk.operator, paged, "▶")
    turned = await desk.wait(lambda: last_bot_message(desk, "general", "(page 2/2)"))
    assert "Bob" in turned["text"]
    assert turned["message_id"] == paged["message_id"], "the page is turned by an edit"

    await start_private(desk, desk.operator)
    await desk.emu.send(desk.operator["id"], to_bot=desk.bot_username, text="/my")

    async def mine():
        found = [
            m
            for m in await desk.operator_private()
            if "Dialogs: open, snoozed" in (m.get("text") or "")
        ]
        return found[-1] if found else None

    my = await desk.wait(mine)
    assert "Ann Lee" in my["text"] and "Bob" not in my["text"]


async def test_the_dialogs_button_lists_every_other_dialog_of_the_client(emulator):
    from tests.e2e.conftest import TEAM_TOKEN

    extra = [(f"70001{i}:client-bot-{i}", f"acme_line{i}_bot") for i in range(4)]
    for token, username in extra:
        await emulator.bot(token, username=username)
    tokens = ",".join([TEAM_TOKEN, *(token for token, _ in extra)])
    async for desk in teamwork_desk(emulator, TELEGRAM_CLIENT_BOT_TOKENS=tokens):
        for index, (_, username) in enumerate(extra):
            await desk.emu.send(desk.client["id"], to_bot=username, text=f"line {index} question")

        async def four_topics(d=desk):
            topics = await d.topics()
            return topics if len(topics) == 4 else None

        await desk.wait(four_topics, timeout=15)
        await desk.client_says("and one more to support")

        async def five_topics(d=desk):
            topics = await d.topics()
            return topics if len(topics) == 5 else None

        topics = await desk.wait(five_topics, timeout=15)
        newest = max(t["thread_id"] for t in topics)
        card = await desk.wait(lambda d=desk, n=newest: card_says(d, n, "Other dialogs (4)"))
        # The card shows three; the button shows them all.
        await press(desk, desk.operator, card, "Dialogs")

        async def listing(d=desk, n=newest):
            for m in await d.topic_messages(n):
                if "Other dialogs of this client (4)" in (m.get("text") or ""):
                    return m
            return None

        shown = await desk.wait(listing)
        for index in range(4):
            assert f"line {index} question" in shown["text"]
