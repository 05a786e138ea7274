"""Shared fixtures: the database (SQLite in memory, and PostgreSQL when TEST_DATABASE_URL is
set), a clock that tests move, and the core built on both. The emulator's own fixtures are
registered here once for the whole suite."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import asyncpg
import pytest
import pytest_asyncio
from tortoise.backends.base import executor

from bot.storage import EXTRA_APPS
from core.clock import FrozenClock
from core.context import CoreContext
from core.db import close_database, normalize_url, open_database
from core.service import Core

pytest_plugins = ["tests.emulator.fixtures"]

SQLITE_URL = "sqlite://:memory:"


def _database_params() -> list:
    params = [pytest.param(SQLITE_URL, id="sqlite")]
    postgres = os.environ.get("TEST_DATABASE_URL")
    if postgres:
        params.append(pytest.param(normalize_url(postgres), id="postgres"))
    return params


@pytest.fixture(params=_database_params())
def database_url(request: pytest.FixtureRequest) -> str:
    """Every test that uses the database runs once per configured database."""
    return request.param


async def _empty_postgres_schema(url: str) -> None:
    # asyncpg speaks "postgresql://" as well as "postgres://".
    connection = await asyncpg.connect(url)
    try:
        await connection.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
    finally:
        await connection.close()


@pytest_asyncio.fixture
async def db(database_url: str) -> AsyncIterator[str]:
    """An open database with every table: a fresh in-memory SQLite, or an emptied PostgreSQL
    schema brought up by the real migrations. Yields the URL."""
    # tortoise caches each model's SQL per connection name, process-wide: SQL built for
    # SQLite ("?" placeholders) would be reused on PostgreSQL in the next test.
    executor.EXECUTOR_CACHE.clear()
    if database_url.startswith("postgres"):
        await _empty_postgres_schema(database_url)
    await open_database(database_url, extra_apps=EXTRA_APPS)
    try:
        yield database_url
    finally:
        await close_database()


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture
def core(clock: FrozenClock) -> Core:
    """The core on a frozen clock; its ticker and outbox loops are not started."""
    return Core(CoreContext(clock=clock))
