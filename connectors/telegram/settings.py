"""The Telegram client channel's settings: every variable starts with TELEGRAM_CLIENT_."""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from core.channels import ChannelSpec, Connector
from core.models import ChannelKind

VARIABLE = "TELEGRAM_CLIENT_BOT_TOKENS"

_TOKEN = re.compile(r"\d+:\S+")
_LIST_SEPARATORS = re.compile(r"[\s,;]+")


def tokens(value: Any) -> list[str]:
    """Bot tokens from a comma separated list (or a list), each checked, repeats dropped."""
    if isinstance(value, str):
        items = [item for item in _LIST_SEPARATORS.split(value.strip()) if item]
    else:
        items = [str(item).strip() for item in value]
    for position, token in enumerate(items, start=1):
        if not _TOKEN.fullmatch(token):
            raise ValueError(
                f"has an item that does not look like a bot token (number {position}): "
                "list tokens from @BotFather separated by commas, like 123456:ABC…,654321:DEF…"
            )
    return list(dict.fromkeys(items))


class TelegramClientSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="TELEGRAM_CLIENT_",
        env_file=".env",
        env_file_encoding="utf-8",
        case_sensitive=True,
        env_ignore_empty=True,
        extra="ignore",  # the team's variables and other channels' share the file
    )

    BOT_TOKENS: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        repr=False,
        description="client-facing bots, comma separated tokens; when empty, clients "
        "write to the team bot (BOT_TOKEN)",
    )

    @field_validator("BOT_TOKENS", mode="before")
    @classmethod
    def _tokens(cls, value: Any) -> list[str]:
        return tokens(value)


async def build(settings: TelegramClientSettings, host: Any) -> list[Connector]:
    # aiogram loads only when connectors are built (`run`, `check`), not to read settings.
    from connectors.telegram.channel import build as build_connectors

    return await build_connectors(settings, host)


def not_served(name: str) -> tuple[str, str]:
    return f"Telegram ({name})", f"not served: its token is not in {VARIABLE}"


CHANNEL = ChannelSpec(
    kind=ChannelKind.TELEGRAM,
    settings=TelegramClientSettings,
    build=build,
    title="client bot",
    not_served=not_served,
)
