"""The outbox's in-flight columns arrive by migration on a database that already has rows,
keeping the table's indexes (a SQLite table rebuild would drop them)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from tortoise import Tortoise
from tortoise.backends.base import executor
from tortoise.migrations.api import migrate

from bot.storage import EXTRA_APPS
from core.db import close_database, open_database, tortoise_config
from core.models import OutboxItem, OutboxStatus


@pytest.fixture
def fresh_cache() -> Iterator[None]:
    # tortoise caches each model's SQL per connection name, process-wide.
    executor.EXECUTOR_CACHE.clear()
    yield
    executor.EXECUTOR_CACHE.clear()


@pytest.mark.usefixtures("fresh_cache")
async def test_rows_written_before_the_migration_keep_working(tmp_path: Path) -> None:
    url = f"sqlite://{tmp_path}/old.sqlite3"
    await migrate(config=tortoise_config(url, EXTRA_APPS), target="core.0001_initial")
    connection = Tortoise.get_connection("default")
    await connection.execute_query(
        "INSERT INTO outboxitem (kind, priority, lane, merge_key, payload, status, attempts,"
        " not_before, created_at, result) VALUES ('old.work', 20, 'topic:1', 'card:1', '{}',"
        " 'pending', 0, '2026-01-05 09:00:00+00:00', '2026-01-05 09:00:00+00:00', '{}')"
    )
    await Tortoise.close_connections()

    await open_database(url, EXTRA_APPS)
    try:
        row = await OutboxItem.get(kind="old.work")
        assert row.status is OutboxStatus.PENDING
        assert row.interrupted == 0 and row.started_at is None
        row.status = OutboxStatus.SENDING
        await row.save(update_fields=["status"])
        assert (await OutboxItem.get(id=row.id)).status is OutboxStatus.SENDING
        connection = Tortoise.get_connection("default")
        _, indexes = await connection.execute_query(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'outboxitem'"
        )
        columns = set()
        for index in indexes:
            if not index["name"].startswith("sqlite_"):
                _, info = await connection.execute_query(
                    f"SELECT name FROM pragma_index_info('{index['name']}') ORDER BY seqno"
                )
                columns.add(tuple(column["name"] for column in info))
        # Each index the migrations made (the outbox's lanes came with 0005).
        assert columns == {("merge_key",), ("status", "priority", "id"), ("lane", "status", "id")}
    finally:
        await close_database()
