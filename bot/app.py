"""Process wiring: database, scheduler, connectors and the Telegram front end."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.config import Settings


async def run_app(settings: Settings) -> None:
    raise NotImplementedError
