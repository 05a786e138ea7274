"""Rows stored before the content model (Telegram entities in UTF-16 units, bare file ids)
read as channel-neutral content after the migration, and nothing of them is lost."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from tortoise import Tortoise
from tortoise.backends.base import executor
from tortoise.migrations.api import migrate

from bot.storage import EXTRA_APPS
from core.content import Attachment, AttachmentKind, Span, SpanKind
from core.db import close_database, open_database, tortoise_config
from core.models import Message, Template

BOT = 777
AT = "'2026-01-05 09:00:00+00:00'"


@pytest.fixture
def fresh_cache() -> Iterator[None]:
    # tortoise caches each model's SQL per connection name, process-wide.
    executor.EXECUTOR_CACHE.clear()
    yield
    executor.EXECUTOR_CACHE.clear()


def literal(value: object) -> str:
    return "'" + json.dumps(value, ensure_ascii=False).replace("'", "''") + "'"


async def insert_message(connection: object, text: str, entities: list, attachments: list) -> None:
    await connection.execute_query(  # type: ignore[attr-defined]
        "INSERT INTO message (dialog_id, kind, sender_name, text, entities, attachments, meta,"
        f" created_at) VALUES (1, 'in', 'Ivan', '{text}', {literal(entities)},"
        f" {literal(attachments)}, '{{}}', {AT})"
    )


async def old_database(url: str) -> None:
    """A database at 0003 with rows in the shapes of their time."""
    await migrate(config=tortoise_config(url, EXTRA_APPS), target="core.0003_message_refs")
    connection = Tortoise.get_connection("default")
    for sql in (
        "INSERT INTO channel (key, kind, name, settings, created_at) VALUES"
        f" ('telegram:bot', 'telegram', '@bot', '{{}}', {AT})",
        "INSERT INTO client (name, description, banned, created_at)"
        f" VALUES ('Ivan', '', false, {AT})",
        "INSERT INTO dialog (client_id, channel_id, chat_key, subject, status, unreachable,"
        f" created_at, last_message_at) VALUES (1, 1, '42', '', 'open', false, {AT}, {AT})",
    ):
        await connection.execute_query(sql)
    # 👋 takes two UTF-16 units: "bold" starts at unit 3, code point 2.
    await insert_message(
        connection,
        "👋 bold and a link https://x.io/a_b",
        [
            {"type": "bold", "offset": 3, "length": 4},
            {"type": "url", "offset": 19, "length": 16},
            {"type": "hashtag", "offset": 0, "length": 2},
        ],
        [],
    )
    await insert_message(
        connection,
        "🙂🙂 see",
        [
            {"type": "italic", "offset": 5, "length": 3},
            {"type": "text_link", "offset": 0, "length": 2, "url": "https://a.io"},
            {"type": "text_mention", "offset": 2, "length": 2, "user": {"id": 5, "is_bot": False}},
            {"type": "pre", "offset": 5, "length": 3, "language": "python"},
            {"type": "strikethrough", "offset": 5, "length": 1},
            {"type": "expandable_blockquote", "offset": 0, "length": 8},
        ],
        [
            {
                "kind": "photo",
                "file_id": "AgAC-photo",
                "file_unique_id": "uniq-1",
                "size": 2048,
                "bot_id": BOT,
            }
        ],
    )
    await insert_message(
        connection,
        "",
        [],
        [
            {
                "kind": "document",
                "file_id": "BQAC-doc",
                "file_unique_id": "uniq-2",
                "file_name": "report.pdf",
                "mime_type": "application/pdf",
                "size": 10,
                "bot_id": BOT,
            }
        ],
    )
    await insert_message(
        connection, "", [], [{"kind": "location", "latitude": 55.75, "longitude": 37.61}]
    )
    await insert_message(
        connection,
        "",
        [],
        [{"kind": "contact", "phone_number": "+100", "first_name": "Ann", "last_name": "Lee"}],
    )
    old_photo = {"kind": "photo", "file_id": "AgAC-t", "file_unique_id": "u", "bot_id": BOT}
    await connection.execute_query(
        "INSERT INTO template (name, text, attachments, created_at)"
        f" VALUES ('hello', 'Hi', {literal([old_photo])}, {AT})"
    )
    await Tortoise.close_connections()


@pytest.mark.usefixtures("fresh_cache")
async def test_old_rows_become_channel_neutral_content(tmp_path: Path) -> None:
    url = f"sqlite://{tmp_path}/old.sqlite3"
    await old_database(url)

    await open_database(url, EXTRA_APPS)
    try:
        first, second, doc, location, contact = await Message.all().order_by("id")
        assert first.text == "👋 bold and a link https://x.io/a_b"
        assert first.content.spans == (
            Span(SpanKind.BOLD, 2, 6),
            Span(SpanKind.LINK, 18, 34, url="https://x.io/a_b"),
        )
        assert first.text[2:6] == "bold"

        assert second.content.spans == (
            Span(SpanKind.ITALIC, 3, 6),
            Span(SpanKind.LINK, 0, 1, url="https://a.io"),
            Span(SpanKind.MENTION, 1, 2, url="tg://user?id=5"),
            Span(SpanKind.PRE, 3, 6, language="python"),
            Span(SpanKind.STRIKE, 3, 4),
            Span(SpanKind.QUOTE, 0, 6),
        )
        assert second.content.attachments == (
            Attachment(
                AttachmentKind.PHOTO,
                size=2048,
                sources={f"telegram:{BOT}": {"file_id": "AgAC-photo", "file_unique_id": "uniq-1"}},
            ),
        )
        [pdf] = doc.content.attachments
        assert (pdf.kind, pdf.name, pdf.mime, pdf.size) == (
            AttachmentKind.DOCUMENT,
            "report.pdf",
            "application/pdf",
            10,
        )
        assert pdf.source(f"telegram:{BOT}") == {"file_id": "BQAC-doc", "file_unique_id": "uniq-2"}
        [place] = location.content.attachments
        assert place.data == {"latitude": 55.75, "longitude": 37.61}
        [person] = contact.content.attachments
        assert person.data == {"phone": "+100", "first_name": "Ann", "last_name": "Lee"}

        template = await Template.get(name="hello")
        assert template.attachments == [
            {
                "kind": "photo",
                "sources": {f"telegram:{BOT}": {"file_id": "AgAC-t", "file_unique_id": "u"}},
            }
        ]
        # The old column is gone; a new message stores spans.
        assert "entities" not in Message._meta.fields_map
        _, columns = await Tortoise.get_connection("default").execute_query(
            "SELECT name FROM pragma_table_info('message')"
        )
        assert "entities" not in {c["name"] for c in columns}
        assert "spans" in {c["name"] for c in columns}
        fresh = await Message.create(
            dialog_id=1,
            kind="in",
            text="hi",
            spans=[Span(SpanKind.BOLD, 0, 2).to_json()],
            created_at=first.created_at,
        )
        assert (await Message.get(id=fresh.id)).content.spans == (Span(SpanKind.BOLD, 0, 2),)
    finally:
        await close_database()
