"""Rows stored before the one table of copies (MessageRef, the Telegram side's ChatMessage,
Message.meta, operator messages' "team:<id>" external ids) are copies after the migration,
and nothing of them is lost."""

from __future__ import annotations

import json
from collections.abc import Iterator

import asyncpg
import pytest
from tortoise import Tortoise
from tortoise.backends.base import executor
from tortoise.migrations.api import migrate

from bot.storage import EXTRA_APPS
from core import copies
from core.db import close_database, open_database, tortoise_config
from core.models import Event, Message, MessageCopy

TEAM = -100500
TEAM_BOT, RELAY = 777, 888
AT = "'2026-01-05 09:00:00+00:00'"
POSTED = "'2026-01-05 09:00:07+00:00'"


@pytest.fixture
def fresh_cache() -> Iterator[None]:
    # tortoise caches each model's SQL per connection name, process-wide.
    executor.EXECUTOR_CACHE.clear()
    yield
    executor.EXECUTOR_CACHE.clear()


def literal(value: object) -> str:
    return "'" + json.dumps(value, ensure_ascii=False).replace("'", "''") + "'"


async def old_database(url: str) -> None:
    """A database before the copies table, with rows in the shapes of their time."""
    if url.startswith("postgres"):
        connection = await asyncpg.connect(url)
        try:
            await connection.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
        finally:
            await connection.close()
    config = tortoise_config(url, EXTRA_APPS)
    await migrate(config=config, target="core.0007_blob_sources")
    await Tortoise.close_connections()
    await migrate(config=config, target="bot.0004_group_calls")
    db = Tortoise.get_connection("default")

    async def message(kind: str, text: str, external_id: str | None, meta: dict) -> None:
        ext = "NULL" if external_id is None else f"'{external_id}'"
        await db.execute_query(
            "INSERT INTO message (dialog_id, kind, sender_name, text, spans, attachments,"
            f" external_id, meta, created_at) VALUES (1, '{kind}', 'Ivan', '{text}', '[]',"
            f" '[]', {ext}, {literal(meta)}, {AT})"
        )

    async def post(message_id: int, tg_id: int, bot: int = TEAM_BOT) -> None:
        await db.execute_query(
            "INSERT INTO chatmessage (message_id, chat_id, tg_message_id, bot_id, created_at)"
            f" VALUES ({message_id}, {TEAM}, {tg_id}, {bot}, {POSTED})"
        )

    async def ref(message_id: int, external_id: str) -> None:
        await db.execute_query(
            "INSERT INTO messageref (message_id, dialog_id, external_id)"
            f" VALUES ({message_id}, 1, '{external_id}')"
        )

    for sql in (
        "INSERT INTO channel (key, kind, name, settings, created_at) VALUES"
        f" ('telegram:bot', 'telegram', '@bot', '{{}}', {AT})",
        "INSERT INTO client (name, description, banned, created_at)"
        f" VALUES ('Ivan', '', false, {AT})",
        "INSERT INTO dialog (client_id, channel_id, chat_key, subject, status, unreachable,"
        f" created_at, last_message_at) VALUES (1, 1, '42', '', 'open', false, {AT}, {AT})",
        "INSERT INTO topiclink (dialog_id, chat_id, thread_id, title, shown_status, closed,"
        f" created_at) VALUES (1, {TEAM}, 7, 'Ivan', 'open', false, {AT})",
    ):
        await db.execute_query(sql)
    # 1: a client's message in its own post.
    await message("in", "hi", "10", {})
    await post(1, 100)
    # 2: a client's long text in three posts, by a relay bot.
    await message("in", "long", "11", {"topic_parts": [101, 102, 103]})
    await post(2, 101, RELAY)
    # 3, 4: two texts coalesced into one post.
    await message("in", "a", "12", {})
    await message("in", "b", "13", {})
    await post(3, 104)
    await post(4, 104)
    # 5: an operator's reply: its post in the topic, the client's two parts, the send's facts.
    sent = {"text": {"ids": [21, 22], "caption": False}}
    own = {"team_chat_id": TEAM, "team_message_ids": [200], "team_bot_id": TEAM_BOT}
    await message("out", "answer", "team:200", {**own, "sent": sent})
    await ref(5, "21")
    await ref(5, "22")
    # 6: a template relayed from inline mode with {client} filled: never copied from its post.
    await message("out", "Hi Ivan", "team:201", {"via_inline": True})
    # 7: a comment.
    await message("comment", "internal", "team:202", {})
    # 8: a template sent with /t: asked for by a command, no post of its own.
    await message("out", "Hello", "upd:-100500:300:template", {"template": "hello"})
    # 9, 10: an operator's album, item by item.
    for tg_id, client_id in ((204, "23"), (205, "24")):
        album = {"team_chat_id": TEAM, "team_message_ids": [tg_id], "team_bot_id": TEAM_BOT}
        await message("out", "", f"team:{tg_id}", album)
        await ref(9 if tg_id == 204 else 10, client_id)
    await Tortoise.close_connections()


def urls(tmp_path: object, database_url: str) -> str:
    if database_url.startswith("postgres"):
        return database_url
    return f"sqlite://{tmp_path}/old.sqlite3"


@pytest.mark.usefixtures("fresh_cache")
async def test_every_copy_stored_before_is_a_copy_after(
    tmp_path: object, database_url: str
) -> None:
    url = urls(tmp_path, database_url)
    await old_database(url)

    await open_database(url, EXTRA_APPS)
    try:
        messages = await Message.all().order_by("id")
        hi, long, a, b, answer, inline, comment, template, item1, item2 = messages
        team = str(TEAM)
        # A client's message in the topic: where, by whom, when.
        [copy] = await copies.of(hi.id, copies.TEAM)
        assert (copy.chat, copy.external_id, copy.via) == (team, "100", f"telegram:{TEAM_BOT}")
        assert copy.created_at.second == 7
        assert (await copies.find(copies.TEAM, team, "100")).id == hi.id  # type: ignore[union-attr]
        assert hi.external_id == "10"
        # The long text's posts, in order, each the relay's.
        assert await copies.ids_of(long.id, copies.TEAM) == ["101", "102", "103"]
        assert {c.via for c in await copies.of(long.id, copies.TEAM)} == {f"telegram:{RELAY}"}
        assert (await copies.find(copies.TEAM, team, "103")).id == long.id  # type: ignore[union-attr]
        # The coalesced post shows both.
        assert await copies.shown_at(copies.TEAM, team, "104") == [a.id, b.id]
        # The operator's reply: its post, the client's parts, and the facts for an edit.
        assert answer.external_id is None
        [own] = await copies.of(answer.id, copies.TEAM)
        assert (own.chat, own.external_id, own.via) == (team, "200", f"telegram:{TEAM_BOT}")
        assert await copies.ids_of(answer.id, copies.CLIENT) == ["21", "22"]
        assert await copies.data_of(answer.id, copies.CLIENT) == {
            "text": {"ids": [21, 22], "caption": False}
        }
        assert (await copies.find_in_dialog(1, "22")).id == answer.id  # type: ignore[union-attr]
        assert (await copies.find(copies.TEAM, team, "200", dialog_id=1)).id == answer.id  # type: ignore[union-attr]
        # The inline relay: its post is known, kept from being copied, and its provenance kept.
        assert inline.external_id is None
        [post] = await copies.of(inline.id, copies.TEAM)
        assert (post.chat, post.external_id) == (team, "201")
        assert post.data == {"differs": True, "via_inline": True}
        # The comment: its post, in the dialog's topic.
        assert comment.external_id is None
        assert await copies.ids_of(comment.id, copies.TEAM, team) == ["202"]
        # The template: its request stays its key, its name is in the event log.
        assert template.external_id == "upd:-100500:300:template"
        assert await MessageCopy.filter(message_id=template.id).count() == 0
        [kept] = await Event.filter(name="message.meta")
        assert kept.dialog_id == 1  # type: ignore[attr-defined]
        assert kept.data == {"message_id": template.id, "meta": {"template": "hello"}}
        # The album: item by item on both sides.
        for item, post_id, client_id in ((item1, "204", "23"), (item2, "205", "24")):
            assert await copies.ids_of(item.id, copies.TEAM) == [post_id]
            assert await copies.ids_of(item.id, copies.CLIENT) == [client_id]
        # Nothing else appeared.
        assert await MessageCopy.all().count() == 15
        # The old stores are gone.
        assert "meta" not in Message._meta.fields_map
        db = Tortoise.get_connection("default")
        if url.startswith("sqlite"):
            _, tables = await db.execute_query("SELECT name FROM sqlite_master WHERE type='table'")
            _, columns = await db.execute_query("SELECT name FROM pragma_table_info('message')")
        else:
            _, tables = await db.execute_query(
                "SELECT table_name AS name FROM information_schema.tables"
                " WHERE table_schema = current_schema()"
            )
            _, columns = await db.execute_query(
                "SELECT column_name AS name FROM information_schema.columns"
                " WHERE table_name = 'message'"
            )
        names = {t["name"] for t in tables}
        assert "messagecopy" in names
        assert not {"messageref", "chatmessage"} & names
        assert "meta" not in {c["name"] for c in columns}
    finally:
        await close_database()


@pytest.mark.usefixtures("fresh_cache")
async def test_a_fresh_database_gets_the_copies_table(tmp_path: object) -> None:
    url = f"sqlite://{tmp_path}/new.sqlite3"
    await open_database(url, EXTRA_APPS)
    try:
        assert await MessageCopy.all().count() == 0
    finally:
        await close_database()
