"""A message's copies outside eadesk (core.copies): the ids the client's chat gave our
replies, and the posts of the team's chat that show a message or that an operator wrote it
as. Found again by any of them; ids are strings whatever the channel."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from tortoise import Tortoise

from core import copies
from core.channels import Copy, Sent
from core.clock import FrozenClock
from core.copies import Origin
from core.models import Channel, Message, MessageCopy, MessageKind, Operator, OutboxItem
from core.service import Core
from tests.core.helpers import inbound, write
from tests.core.test_delivery_v2 import install
from tests.core.test_outbox import make_due

pytestmark = pytest.mark.usefixtures("db")

TEAM = "-100777"


def post(*ids: int, **data: Any) -> Origin:
    return Origin(chat=TEAM, ids=tuple(str(i) for i in ids), via="telegram:42", data=data)


async def test_an_operators_post_seen_twice_is_one_message_and_its_copy(
    core: Core, telegram: Channel, operator: Operator
) -> None:
    dialog = (await write(core, telegram)).dialog
    one = await core.conversation.reply(dialog.id, operator, "hi", origin=post(5))
    two = await core.conversation.reply(dialog.id, operator, "hi", origin=post(5))
    assert one.id == two.id
    assert await OutboxItem.filter(kind="channel.send").count() == 1
    # No channel id is made up for it: the post is its copy on the team's side.
    assert one.external_id is None
    assert (await copies.find(copies.TEAM, TEAM, "5", dialog_id=dialog.id)).id == one.id  # type: ignore[union-attr]
    [copy] = await copies.of(one.id, copies.TEAM)
    assert (copy.chat, copy.external_id, copy.via, copy.position) == (TEAM, "5", "telegram:42", 0)
    # A comment the same way.
    noted = await core.conversation.comment(dialog.id, operator, "inside", origin=post(6))
    again = await core.conversation.comment(dialog.id, operator, "inside", origin=post(6))
    assert noted.id == again.id and noted.kind is MessageKind.COMMENT
    assert await Message.filter(kind=MessageKind.COMMENT).count() == 1
    # A post of another dialog's topic is another message.
    other = (await write(core, telegram, "chat-2")).dialog
    third = await core.conversation.reply(other.id, operator, "hi", origin=post(7))
    assert await copies.find(copies.TEAM, TEAM, "7", dialog_id=dialog.id) is None
    assert (await copies.find(copies.TEAM, TEAM, "7")).id == third.id  # type: ignore[union-attr]


async def test_a_request_without_a_post_is_stored_once_by_its_key(
    core: Core, telegram: Channel, operator: Operator
) -> None:
    dialog = (await write(core, telegram)).dialog
    one = await core.conversation.reply(dialog.id, operator, "Hello", source_ref="upd:1:template")
    two = await core.conversation.reply(dialog.id, operator, "Hello", source_ref="upd:1:template")
    assert one.id == two.id
    assert await MessageCopy.filter(message_id=one.id).count() == 0


async def test_the_connector_may_copy_the_operators_post_unless_it_shows_something_else(
    core: Core, telegram: Channel, operator: Operator
) -> None:
    connector = install(core, telegram)
    dialog = (await write(core, telegram)).dialog
    await core.conversation.reply(dialog.id, operator, "as written", origin=post(10))
    # An album: its items one by one, sent as one message with their posts in order.
    for tg_id in (11, 12):
        text = f"item {tg_id}"
        await core.conversation.reply(dialog.id, operator, text, album_key="a1", origin=post(tg_id))
    # A template relayed with {client} filled in: its post shows "{client}".
    filled = post(13, differs=True)
    await core.conversation.reply(dialog.id, operator, "Hi Anna", origin=filled)
    await make_due()  # the album's parts gather a moment
    await core.outbox.drain()

    written, album, template = connector.handed
    assert written.copies == [Copy(source="telegram:42", chat=TEAM, ids=("10",))]
    assert album.copies == [Copy(source="telegram:42", chat=TEAM, ids=("11", "12"))]
    assert template.copies == []


async def test_a_client_names_our_reply_by_any_id_their_chat_gave_it(
    core: Core, telegram: Channel, email: Channel, operator: Operator
) -> None:
    connector = install(core, email, edits=True)
    dialog = (await write(core, email, "thread-1")).dialog
    message = await core.conversation.reply(dialog.id, operator, "two parts")
    await core.outbox.drain()
    assert await copies.ids_of(message.id, copies.CLIENT) == ["x1", "x2"]
    assert await copies.data_of(message.id, copies.CLIENT) == {"text_in": "x1"}

    for external_id in ("x1", "x2"):
        asked = replace(inbound(email, "thread-1"), reply_to_external_id=external_id)
        assert (await core.ingest(asked)).message.reply_to_id == message.id  # type: ignore[attr-defined]
    # The same id in another conversation names nothing of this one.
    elsewhere = replace(inbound(email, "thread-2"), reply_to_external_id="x1")
    assert (await core.ingest(elsewhere)).message.reply_to_id is None  # type: ignore[attr-defined]
    # E-mail threading finds it from any dialog of its channel, and from no other channel.
    assert (await copies.find_in_channel(email.id, "x2")).id == message.id  # type: ignore[union-attr]
    assert await copies.find_in_channel(telegram.id, "x2") is None

    # An edit that drops a part: that id names it no more; the facts stay with the first.
    connector.edit = drop_second  # type: ignore[method-assign,assignment]
    await core.conversation.edit_reply(await Message.get(id=message.id), "one part")
    await core.outbox.drain()
    assert await copies.ids_of(message.id, copies.CLIENT) == ["x1"]
    assert await copies.find_in_dialog(dialog.id, "x2") is None
    assert await copies.data_of(message.id, copies.CLIENT) == {"text_in": "x1"}


async def drop_second(out: Any, ids: list[str], data: dict[str, Any]) -> Sent:
    return Sent(ids[:1])


async def test_a_post_showing_several_messages_and_a_text_in_several_posts(
    core: Core, telegram: Channel, clock: FrozenClock
) -> None:
    first = (await write(core, telegram, text="a")).message
    second = (await write(core, telegram, text="b")).message
    long = (await write(core, telegram, text="c" * 5000)).message
    at = clock.now()
    # Coalesced: one post shows two messages.
    for message in (first, second):
        await copies.record(message, copies.TEAM, ["100"], at=at, chat=TEAM, via="telegram:42")
    assert await copies.shown_at(copies.TEAM, TEAM, "100") == [first.id, second.id]
    assert (await copies.find(copies.TEAM, TEAM, "100")).id == first.id  # type: ignore[union-attr]
    # A long text in parts, in order; the posts an edit needs replace them.
    await copies.record(long, copies.TEAM, ["101", "102"], at=at, chat=TEAM, via="telegram:43")
    await copies.record(long, copies.TEAM, ["102", "103"], at=at, chat=TEAM)
    assert await copies.ids_of(long.id, copies.TEAM) == ["101", "102", "103"]
    assert (await copies.find(copies.TEAM, TEAM, "103")).id == long.id  # type: ignore[union-attr]
    await copies.replace(long, copies.TEAM, ["101", "104"], at=at, chat=TEAM)
    assert await copies.ids_of(long.id, copies.TEAM) == ["101", "104"]
    assert {c.via for c in await copies.of(long.id, copies.TEAM)} == {"telegram:43"}
    assert await copies.find(copies.TEAM, TEAM, "103") is None
    assert await copies.posted(first.dialog_id, copies.TEAM, TEAM) == {  # type: ignore[attr-defined]
        first.id,
        second.id,
        long.id,
    }
    # An id longer than the column still finds its message, and stays distinct.
    huge = "<" + "m" * 400 + "@client.com>"
    await copies.record(first, copies.CLIENT, [huge], at=at)
    assert (await copies.find_in_dialog(first.dialog_id, huge)).id == first.id  # type: ignore[attr-defined,union-attr]
    assert await copies.find_in_dialog(first.dialog_id, huge[:-1] + "!") is None  # type: ignore[attr-defined]


async def test_the_lookups_are_indexed(database_url: str) -> None:
    if not database_url.startswith("sqlite"):
        pytest.skip("the query plan is read from SQLite")
    connection = Tortoise.get_connection("default")
    queries: dict[str, Any] = {
        "a post's messages": MessageCopy.filter(side="team", chat=TEAM, external_id="5"),
        "a reply's target": MessageCopy.filter(dialog_id=1, side="client", external_id="x"),
        "a message's copies": MessageCopy.filter(message_id=1, side="team").order_by("position"),
        "a Message-ID in a channel": Message.filter(
            copies__side="client",
            copies__chat="",
            copies__external_id="<a@b>",
            dialog__channel_id=1,
        ),
    }
    for name, query in queries.items():
        _, plan = await connection.execute_query(
            "EXPLAIN QUERY PLAN " + query.sql(params_inline=True)
        )
        first = plan[0]["detail"]
        assert "messagecopy" in first and "USING INDEX" in first, (name, first)
