"""The emulator's forum topics, driven by a real aiogram Bot over HTTP."""

from __future__ import annotations

import pytest
from aiogram.exceptions import TelegramBadRequest, TelegramForbiddenError

from tests.emulator.fixtures import ControlError, EmulatorClient

TOKEN = "111:AAA"
ALL_RIGHTS = {"can_manage_topics": True, "can_delete_messages": True, "can_pin_messages": True}


async def setup_forum(emu: EmulatorClient, rights: dict[str, bool] | None = None) -> dict:
    op = await emu.user("Olga", username="olga")
    admin = await emu.user("Anna", username="anna")
    group = await emu.group(
        "Support",
        forum=True,
        members=[
            {"user_id": op["id"], "status": "member"},
            {"user_id": admin["id"], "status": "administrator"},
        ],
        bots=[
            {
                "token": TOKEN,
                "status": "administrator",
                "rights": ALL_RIGHTS if rights is None else rights,
            }
        ],
    )
    return {"op": op, "admin": admin, "chat_id": group["chat_id"]}


async def test_done_when_topic_create_post_close(emulator: EmulatorClient) -> None:
    s = await setup_forum(emulator)
    bot = emulator.make_bot(TOKEN)
    topic = await bot.create_forum_topic(s["chat_id"], "Client Ivan · WhatsApp")
    assert topic.icon_color in (7322096, 16766590, 13338331, 9367192, 16749490, 16478047)
    created = (await emulator.messages(s["chat_id"]))[0]
    assert created["message_id"] == topic.message_thread_id
    assert created["kind"] == "service" and created["service"] == "forum_topic_created"

    msg = await bot.send_message(s["chat_id"], "hello", message_thread_id=topic.message_thread_id)
    assert msg.message_thread_id == topic.message_thread_id and msg.is_topic_message
    assert await bot.close_forum_topic(s["chat_id"], topic.message_thread_id)
    assert (await emulator.topics(s["chat_id"]))[0]["closed"] is True

    with pytest.raises(ControlError) as err:
        await emulator.send(
            s["op"]["id"], chat_id=s["chat_id"], thread_id=topic.message_thread_id, text="me too"
        )
    assert err.value.status == 400
    assert err.value.body["description"] == "Bad Request: TOPIC_CLOSED"
    # a human administrator may still post, and so may the admin bot
    await emulator.send(
        s["admin"]["id"], chat_id=s["chat_id"], thread_id=topic.message_thread_id, text="admin note"
    )
    ok = await bot.send_message(
        s["chat_id"], "bot still posts", message_thread_id=topic.message_thread_id
    )
    assert ok.message_id > msg.message_id
    view = await emulator.messages(s["chat_id"], thread_id=topic.message_thread_id)
    kinds = [(m["kind"], m["service"], m["text"]) for m in view]
    assert kinds == [
        ("service", "forum_topic_created", None),
        ("text", None, "hello"),
        ("service", "forum_topic_closed", None),
        ("text", None, "admin note"),
        ("text", None, "bot still posts"),
    ]
    # reopen, then the member may post again
    assert await bot.reopen_forum_topic(s["chat_id"], topic.message_thread_id)
    await emulator.send(
        s["op"]["id"], chat_id=s["chat_id"], thread_id=topic.message_thread_id, text="thanks"
    )
    await bot.session.close()


async def test_non_admin_bot_refused_in_closed_topic(emulator: EmulatorClient) -> None:
    s = await setup_forum(emulator)
    other = "222:BBB"
    await emulator.member(s["chat_id"], (await emulator.bot(other))["id"], "member")
    bot = emulator.make_bot(TOKEN)
    member_bot = emulator.make_bot(other)
    topic = await bot.create_forum_topic(s["chat_id"], "T")
    await member_bot.send_message(s["chat_id"], "open", message_thread_id=topic.message_thread_id)
    await bot.close_forum_topic(s["chat_id"], topic.message_thread_id)
    with pytest.raises(TelegramBadRequest, match="TOPIC_CLOSED"):
        await member_bot.send_message(s["chat_id"], "x", message_thread_id=topic.message_thread_id)


async def test_general_and_thread_errors(emulator: EmulatorClient) -> None:
    s = await setup_forum(emulator)
    bot = emulator.make_bot(TOKEN)
    general = await bot.send_message(s["chat_id"], "board")
    assert general.message_thread_id is None and not general.is_topic_message
    with pytest.raises(TelegramBadRequest, match="message thread not found"):
        await bot.send_message(s["chat_id"], "x", message_thread_id=1)
    with pytest.raises(TelegramBadRequest, match="message thread not found"):
        await bot.send_message(s["chat_id"], "x", message_thread_id=9999)
    topic = await bot.create_forum_topic(s["chat_id"], "T")
    assert await bot.delete_forum_topic(s["chat_id"], topic.message_thread_id)
    with pytest.raises(TelegramBadRequest, match="Bad Request: message thread not found"):
        await bot.send_message(s["chat_id"], "x", message_thread_id=topic.message_thread_id)
    topics = await emulator.topics(s["chat_id"])
    assert topics[0]["deleted"] is True
    assert await emulator.messages(s["chat_id"], thread_id=topic.message_thread_id) == []
    general_view = await emulator.messages(s["chat_id"], thread_id=1)
    assert [m["text"] for m in general_view] == ["board"]
    # a non-forum group
    plain = await emulator.group(
        "Plain",
        forum=False,
        bots=[{"token": TOKEN, "status": "administrator", "rights": ALL_RIGHTS}],
    )
    with pytest.raises(TelegramBadRequest, match="the chat is not a forum"):
        await bot.create_forum_topic(plain["chat_id"], "T")


async def test_topic_rights_names_colors(emulator: EmulatorClient) -> None:
    s = await setup_forum(emulator, rights={"can_manage_topics": False})
    bot = emulator.make_bot(TOKEN)
    with pytest.raises(TelegramBadRequest, match="not enough rights to create a topic"):
        await bot.create_forum_topic(s["chat_id"], "T")
    await emulator.member(s["chat_id"], 111, "administrator", rights=ALL_RIGHTS)
    with pytest.raises(TelegramBadRequest, match="TOPIC_NAME_INVALID"):
        await bot.create_forum_topic(s["chat_id"], "x" * 129)
    with pytest.raises(TelegramBadRequest, match="invalid icon color"):
        await bot.create_forum_topic(s["chat_id"], "T", icon_color=123)
    topic = await bot.create_forum_topic(s["chat_id"], "x" * 128, icon_color=16478047)
    assert topic.icon_color == 16478047
    tid = topic.message_thread_id
    with pytest.raises(TelegramBadRequest, match="TOPIC_NOT_MODIFIED"):
        await bot.edit_forum_topic(s["chat_id"], tid, name="x" * 128)
    assert await bot.edit_forum_topic(
        s["chat_id"], tid, name="🟢 Ivan", icon_custom_emoji_id="5000000000000000001"
    )
    t = (await emulator.topics(s["chat_id"]))[0]
    assert t["name"] == "🟢 Ivan" and t["icon_custom_emoji_id"] == "5000000000000000001"
    await bot.close_forum_topic(s["chat_id"], tid)
    with pytest.raises(TelegramBadRequest, match="TOPIC_NOT_MODIFIED"):
        await bot.close_forum_topic(s["chat_id"], tid)
    # a second bot without the right cannot manage topics
    other = "333:CCC"
    await emulator.member(
        s["chat_id"],
        (await emulator.bot(other))["id"],
        "administrator",
        rights={"can_manage_topics": False},
    )
    with pytest.raises(TelegramBadRequest, match="not enough rights to manage topics in the chat"):
        await emulator.make_bot(other).reopen_forum_topic(s["chat_id"], tid)
    stickers = await bot.get_forum_topic_icon_stickers()
    assert stickers and all(st.custom_emoji_id for st in stickers)


async def test_topic_service_messages_reach_bots(emulator: EmulatorClient) -> None:
    s = await setup_forum(emulator)
    bot = emulator.make_bot(TOKEN)
    topic = await bot.create_forum_topic(s["chat_id"], "T")
    await bot.edit_forum_topic(s["chat_id"], topic.message_thread_id, name="T2")
    await bot.close_forum_topic(s["chat_id"], topic.message_thread_id)
    await bot.reopen_forum_topic(s["chat_id"], topic.message_thread_id)
    updates = await bot.get_updates()
    got = [u.message for u in updates if u.message]
    assert got[0].forum_topic_created and got[0].forum_topic_created.name == "T"
    assert got[0].message_id == topic.message_thread_id
    assert got[1].forum_topic_edited and got[1].forum_topic_edited.name == "T2"
    assert got[2].forum_topic_closed is not None
    assert got[3].forum_topic_reopened is not None


async def test_membership_errors(emulator: EmulatorClient) -> None:
    s = await setup_forum(emulator)
    stranger = emulator.make_bot("444:DDD")
    with pytest.raises(TelegramForbiddenError, match="bot is not a member of the supergroup"):
        await stranger.send_message(s["chat_id"], "hi")
    with pytest.raises(TelegramBadRequest, match="chat not found"):
        await stranger.send_message(-100999, "hi")
