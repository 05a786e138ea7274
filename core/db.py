"""Database setup: tortoise config, automatic migrations on start, and shutdown."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tortoise import Tortoise
from tortoise.migrations.api import migrate

from core.models import fit_every_model

CORE_APP = {"models": ["core.models"], "migrations": "core.migrations"}


def normalize_url(url: str) -> str:
    # tortoise speaks "postgres://" (asyncpg); users often write "postgresql://".
    if url.startswith("postgresql://"):
        return "postgres://" + url[len("postgresql://") :]
    return url


def tortoise_config(url: str, extra_apps: dict[str, dict[str, Any]] | None = None) -> dict:
    apps: dict[str, dict[str, Any]] = {"core": {**CORE_APP, "default_connection": "default"}}
    for label, app in (extra_apps or {}).items():
        apps[label] = {**app, "default_connection": "default"}
    return {
        "connections": {"default": normalize_url(url)},
        "apps": apps,
        "use_tz": True,
        "timezone": "UTC",
    }


def _ensure_sqlite_dir(url: str) -> None:
    if url.startswith("sqlite://") and ":memory:" not in url:
        Path(url[len("sqlite://") :]).parent.mkdir(parents=True, exist_ok=True)


async def open_database(url: str, extra_apps: dict[str, dict[str, Any]] | None = None) -> None:
    """Create the database if needed, apply every migration, and connect."""
    config = tortoise_config(url, extra_apps)
    _ensure_sqlite_dir(url)
    if ":memory:" in url:
        # A private in-memory database dies with its connection: build the schema directly.
        await Tortoise.init(config=config)
        await Tortoise.generate_schemas()
        _fit_strings()
        return
    await migrate(config=config)
    await Tortoise.close_connections()
    await Tortoise.init(config=config)
    _fit_strings()


def _fit_strings() -> None:
    # Every stored string is cut to its column before a save, for every app's models.
    apps = Tortoise.apps
    if apps is not None:
        fit_every_model(apps.get_models_iterable())


async def close_database() -> None:
    await Tortoise.close_connections()


# For `python -m tortoise -c core.db.MIGRATIONS_CONFIG makemigrations` after a model change.
MIGRATIONS_CONFIG = tortoise_config(
    "sqlite://data/migrations-scratch.sqlite3",
    {"bot": {"models": ["bot.storage", "bot.team.panels"], "migrations": "bot.migrations"}},
)
