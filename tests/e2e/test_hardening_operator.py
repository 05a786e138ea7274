"""Issue #10, the operator's side of a topic: comments in captions and albums, notes that must
vanish, updates run twice, a re-created topic's card, stale buttons, snoozes and other bots'
commands — each as the client and the operators see it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from core import copies
from core.events import DialogCreated
from core.lifecycle import DialogStatus
from core.models import Message, MessageKind
from tests.e2e.conftest import bot_says, open_topic
from tests.e2e.teamwork import buttons, card_of, desk_fixture, start_private

desk = desk_fixture()


def shown_text(message: dict[str, Any]) -> str:
    return message.get("text") or message.get("caption") or ""


async def from_bot(desk, chat: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    return [
        m for m in (chat if chat is not None else await desk.client_chat()) if m["from"]["is_bot"]
    ]


async def client_sees(desk, needle: str) -> list[dict[str, Any]]:
    return [m for m in await from_bot(desk) if needle in shown_text(m)]


async def topic_has(desk, thread: int | str, needle: str) -> list[dict[str, Any]]:
    return [
        m
        for m in await desk.emu.messages(desk.chat_id, thread_id=thread)
        if needle in shown_text(m)
    ]


async def press(desk, message: dict[str, Any], data: str, who=None) -> dict[str, Any]:
    query = await desk.emu.callback(
        (who or desk.operator)["id"], message["message_id"], data, chat_id=desk.chat_id
    )

    async def answered():
        answer = await desk.emu.callback_answer(query)
        return answer if answer.get("answered") else None

    return await desk.wait(answered)


async def then_quiet(desk, thread: int) -> None:
    """A visible reply after everything else: when the client has it, all before it is done."""
    await desk.in_topic(thread, "Visible answer")
    await desk.wait(lambda: client_sees(desk, "Visible answer"))
    await desk.settle()


# ---- 1. comments in captions and albums ------------------------------------------------------


async def test_a_captioned_photo_or_document_comment_never_reaches_the_client(desk):
    thread = await open_topic(desk)
    await desk.emu.send(
        desk.operator["id"],
        chat_id=desk.chat_id,
        thread_id=thread,
        photo={},
        caption="// COMMENT on the photo",
    )
    await desk.emu.send(
        desk.operator["id"],
        chat_id=desk.chat_id,
        thread_id=thread,
        document={"file_name": "invoice.pdf", "content_base64": "cGRm"},
        caption="/c COMMENT on the invoice",
    )
    await then_quiet(desk, thread)

    assert [shown_text(m) for m in await from_bot(desk)] == ["Visible answer"]
    for needle in ("COMMENT on the photo", "COMMENT on the invoice"):
        posted = (await topic_has(desk, thread, needle))[0]
        assert posted.get("reactions"), "marked ✍ as a text comment is"
    stored = await Message.filter(kind=MessageKind.COMMENT).order_by("id")
    assert [(m.text, m.attachments[0]["kind"]) for m in stored] == [
        ("COMMENT on the photo", "photo"),
        ("COMMENT on the invoice", "document"),
    ]


async def test_an_album_with_a_comment_caption_on_any_part_stays_in_the_topic(desk):
    thread = await open_topic(desk)
    # The caption on the second part: the first arrives (and is stored) before it.
    await desk.emu.send(
        desk.operator["id"],
        chat_id=desk.chat_id,
        thread_id=thread,
        media_group=[{"photo": {}}, {"photo": {}, "caption": "// COMMENT album"}, {"photo": {}}],
    )
    await then_quiet(desk, thread)

    assert [m["kind"] for m in await from_bot(desk)] == ["text"]
    assert not await client_sees(desk, "COMMENT")
    parts = await Message.filter(album_key__not_isnull=True).order_by("id")
    assert [m.kind for m in parts] == [MessageKind.COMMENT] * 3
    assert all(m.attachments for m in parts)


async def test_editing_a_delivered_reply_into_a_comment_leaves_the_clients_copy(desk):
    thread = await open_topic(desk)
    sent = await desk.in_topic(thread, "The price is 100")
    await desk.wait(lambda: client_sees(desk, "The price is 100"))
    await desk.emu.edit(
        desk.operator["id"], sent["message_id"], chat_id=desk.chat_id, text="// COMMENT 90 inside"
    )
    told = await desk.wait(lambda: bot_says(desk, thread, "earlier version"))
    assert len(told) == 1
    await then_quiet(desk, thread)
    got = await from_bot(desk)
    assert [m["text"] for m in got] == ["The price is 100", "Visible answer"]
    assert not got[0].get("edited")


async def test_a_reply_edited_into_a_comment_before_it_went_out_is_never_sent(desk):
    thread = await open_topic(desk)
    # The first delivery attempt fails: the reply waits for its retry.
    await desk.emu.fault(method="copyMessage", error_code=500, description="Internal", times=1)
    sent = await desk.in_topic(thread, "Your code is 1234")

    async def tried():
        return await desk.emu.calls("copyMessage")

    await desk.wait(tried)
    await desk.emu.edit(
        desk.operator["id"], sent["message_id"], chat_id=desk.chat_id, text="// COMMENT code"
    )

    async def marked():
        shown = await topic_has(desk, thread, "COMMENT code")
        return shown if shown and shown[0].get("reactions") else None

    await desk.wait(marked)
    await then_quiet(desk, thread)
    assert [shown_text(m) for m in await from_bot(desk)] == ["Visible answer"]
    stored = await copies.find(copies.TEAM, desk.chat_id, sent["message_id"])
    assert stored is not None
    assert stored.kind is MessageKind.COMMENT and stored.text == "COMMENT code"


# ---- 4. notes ------------------------------------------------------------------------------


async def test_a_note_whose_delete_fails_is_kept_delivered_and_deleted_later(desk):
    await start_private(desk, desk.operator)
    thread = await open_topic(desk)
    await desk.emu.fault(
        method="deleteMessage",
        error_code=400,
        description="Bad Request: message can't be deleted",
        times=3,
    )
    await desk.in_topic(thread, "/note call her back on Monday")

    async def noted():
        return [m for m in await desk.operator_private() if "call her back" in shown_text(m)]

    assert len(await desk.wait(noted)) == 1

    async def gone():
        return not await topic_has(desk, thread, "call her back")

    await desk.wait(gone, timeout=40)
    assert not await client_sees(desk, "call her back")


async def test_a_note_survives_a_delete_refused_three_times(desk):
    await start_private(desk, desk.operator)
    thread = await open_topic(desk)
    await desk.emu.fault(
        method="deleteMessage", error_code=500, description="Internal Server Error", times=3
    )
    await desk.in_topic(thread, "/note the VIP discount")

    async def noted():
        return [m for m in await desk.operator_private() if "VIP discount" in shown_text(m)]

    await desk.wait(noted)

    async def gone():
        return not await topic_has(desk, thread, "VIP discount")

    await desk.wait(gone, timeout=40)
    assert len(await noted()) == 1


async def test_a_note_in_general_is_deleted_and_its_author_told_where_notes_go(desk):
    await start_private(desk, desk.operator)
    await desk.emu.send(desk.operator["id"], chat_id=desk.chat_id, text="/note secret plan")

    async def told():
        return [m for m in await desk.operator_private() if "dialog's topic" in shown_text(m)]

    answer = await desk.wait(told)
    assert "secret plan" in answer[0]["text"]  # their text, in their private chat only

    async def gone():
        return not await topic_has(desk, "general", "secret plan")

    await desk.wait(gone)
    # Pavel never started the bot: General hears where notes go, never the text.
    await desk.emu.send(desk.colleague["id"], chat_id=desk.chat_id, text="/note pavel's secret")
    await desk.wait(lambda: bot_says(desk, "general", "Pavel"))
    await desk.settle()
    assert not await topic_has(desk, "general", "pavel's secret")


# ---- 9. an update run twice does its work once ----------------------------------------------


async def test_a_template_chosen_by_button_reaches_the_client_once_despite_a_failed_delete(desk):
    for name, text in (("price1", "Our prices: A"), ("price2", "Our prices: B")):
        await desk.emu.send(
            desk.operator["id"], chat_id=desk.chat_id, text=f"/template add {name} {text}"
        )
    await desk.wait(lambda: bot_says(desk, "general", "«price2» saved"))
    thread = await open_topic(desk)
    await desk.in_topic(thread, "/t price")
    menu = (await desk.wait(lambda: bot_says(desk, thread, "Several templates")))[0]
    await desk.emu.fault(
        method="deleteMessage",
        error_code=400,
        description="Bad Request: message can't be deleted",
        times=1,
    )
    await press(desk, menu, buttons(menu)[next(k for k in buttons(menu) if "price2" in k)])
    await desk.wait(lambda: client_sees(desk, "Our prices: B"))

    async def menu_gone():
        return not await bot_says(desk, thread, "Several templates")

    await desk.wait(menu_gone, timeout=15)
    await then_quiet(desk, thread)
    assert len(await client_sees(desk, "Our prices")) == 1
    assert len(await topic_has(desk, thread, "Our prices: B")) == 1


async def test_a_failed_answer_does_not_run_close_again(desk):
    thread = await open_topic(desk)
    await desk.settle()
    await desk.emu.fault(
        method="sendMessage", error_code=500, description="Internal Server Error", times=1
    )
    await desk.in_topic(thread, "/close")
    await desk.wait(lambda: bot_says(desk, thread, "Closed by Olga"))
    await desk.settle()
    assert await desk.status() is DialogStatus.CLOSED
    assert not await bot_says(desk, thread, "already closed")


async def test_seventy_long_tags_are_added_once_and_the_answer_fits(desk):
    thread = await open_topic(desk)
    names = [f"t{n:02d}" + "x" * 52 for n in range(70)]
    command = "/tag " + " ".join(names)
    assert len(command) <= 4096
    await desk.in_topic(thread, command)

    async def answered():
        said = await bot_says(desk, thread, "#t")
        text = " ".join(m["text"] for m in said)
        return said if all(f"#{n}" in text for n in names) else None

    said = await desk.wait(answered)
    assert all(len(m["text"]) <= 4096 for m in said)
    assert said[0]["text"].startswith("🏷 Added")
    await desk.settle()
    assert not await bot_says(desk, thread, "already has")


# ---- 12. a re-created topic gets its card -----------------------------------------------------


async def test_a_recreated_topic_gets_the_pinned_card_with_its_buttons(desk):
    old = await open_topic(desk)
    await desk.wait(lambda: card_of(desk, old))
    await desk.app.bot.delete_forum_topic(desk.chat_id, old)
    await desk.client_says("Anyone?")

    async def new_topic():
        topics = await desk.topics()
        return topics[0]["thread_id"] if topics and topics[0]["thread_id"] != old else None

    thread = await desk.wait(new_topic)
    card = await desk.wait(lambda: card_of(desk, thread))
    assert "Ann Lee" in card["text"]
    assert any("Close" in label for label in buttons(card))
    await desk.wait(lambda: bot_says(desk, thread, "Anyone?"))
    await desk.settle()
    cards = [m for m in await desk.topic_messages(thread) if "Contacts" in shown_text(m)]
    assert len(cards) == 1


# ---- 14. a closed dialog's buttons ---------------------------------------------------------


def dialog_buttons_of(message: dict[str, Any]) -> set[str]:
    return {data.split(":")[1] for data in buttons(message).values() if data.startswith("dlg:")}


async def topic_without_card(desk) -> tuple[int, dict[str, Any]]:
    """A topic whose first client post came before any card (a dialog from before cards, a
    card that failed): its thread and that post."""
    card = desk.app.teamwork.card
    desk.app.core.bus.unsubscribe(DialogCreated, card.on_created)
    await desk.client_says("Hello")
    thread = (await desk.only_topic())["thread_id"]
    first = (await desk.wait(lambda: bot_says(desk, thread, "Hello")))[0]
    return thread, first


async def test_after_close_only_the_card_has_buttons_and_it_offers_reopen(desk):
    # The first post carries Close and Snooze.
    thread, first = await topic_without_card(desk)
    assert dialog_buttons_of(first) == {"close", "snooze"}

    await desk.in_topic(thread, "/close")

    async def reopen_on_card():
        shown = await card_of(desk, thread)
        return shown if shown and any("Reopen" in k for k in buttons(shown)) else None

    shown = await desk.wait(reopen_on_card)
    assert not dialog_buttons_of(shown)

    async def first_post_plain():
        post = next(
            m for m in await desk.topic_messages(thread) if m["message_id"] == first["message_id"]
        )
        return not dialog_buttons_of(post)

    await desk.wait(first_post_plain)


async def test_stale_snooze_buttons_on_a_closed_dialog_answer_briefly(desk):
    thread, first = await topic_without_card(desk)
    await desk.in_topic(thread, "/snooze")
    keyboard = (await desk.wait(lambda: bot_says(desk, thread, "Snooze until when?")))[0]
    # The first post keeps its buttons: taking them off fails once.
    await desk.emu.fault(method="editMessageReplyMarkup", times=1)
    await desk.in_topic(thread, "/close")
    await desk.wait(lambda: card_of(desk, thread))
    await desk.settle()

    stale = await press(desk, first, f"dlg:snooze:{(await desk.dialog()).id}")
    assert stale.get("text") == "The dialog is closed."
    preset = await press(desk, keyboard, next(iter(buttons(keyboard).values())))
    assert preset.get("text") == "The dialog is closed."
    await desk.settle()
    assert len(await bot_says(desk, thread, "Snooze until when?")) == 1
    assert await desk.status() is DialogStatus.CLOSED


# ---- 19. snooze caps, years, other bots' commands -------------------------------------------


async def test_a_snooze_is_capped_at_a_year_and_a_date_of_another_year_shows_it(desk):
    thread = await open_topic(desk)
    await desk.in_topic(thread, "/snooze 99999d")
    answer = (await desk.wait(lambda: bot_says(desk, thread, "at most a year")))[0]
    now = desk.clock.now()
    until = (await desk.dialog()).snoozed_until
    assert until is not None and abs(until - (now + timedelta(days=365))) < timedelta(minutes=1)
    assert f"{until.year}" in answer["text"]  # 2027: not this year

    async def card_shows_year():
        shown = await card_of(desk, thread)
        return shown if shown and f"{until.year}" in shown["text"] else None

    await desk.wait(card_shows_year)


async def test_commands_addressed_to_another_bot_are_ignored(desk):
    thread = await open_topic(desk)
    await desk.in_topic(thread, "/close@other_bot")
    await desk.emu.send(desk.operator["id"], chat_id=desk.chat_id, text="/list@other_bot")
    await desk.in_topic(thread, "/help")
    await desk.wait(lambda: bot_says(desk, thread, "In a dialog topic"))
    await desk.settle()
    assert not await bot_says(desk, thread, "Unknown command")
    assert not await bot_says(desk, "general", "Unknown command")
    assert await desk.status() is DialogStatus.OPEN
    assert not await client_sees(desk, "other_bot")
