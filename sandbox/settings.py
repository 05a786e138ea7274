"""eadesk's settings in the sandbox (kept light: read before aiogram loads)."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from bot.config import ConfigError, Settings, describe_problem
from sandbox.banner import DATA_DIR

# The team bot of the sandbox: any token of Telegram's form is a bot in the emulator.
TEAM_TOKEN = "7000000001:eadesk-sandbox-team-bot"
BOT_USERNAME = "eadesk_sandbox_bot"

# The sandbox's emulator keeps no Telegram limits: the demo need not wait a minute for the
# group's 20 messages.
SANDBOX_GROUP_MESSAGES_PER_MINUTE = 120
# A placeholder group id to check the rest of the settings before the world exists.
PLACEHOLDER_CHAT_ID = -1000000000001


def sandbox_settings(
    chat_id: int = PLACEHOLDER_CHAT_ID,
    api_url: str = "http://127.0.0.1:1",
    port: int | None = None,
    env_file: str | None = ".env",
) -> Settings:
    """eadesk's settings in the sandbox: the environment and .env as for `run` (LANGUAGE,
    TIMEZONE, HTTP_HOST, HTTP_PORT, LOG_LEVEL, …), except what would leave the sandbox or
    touch production: the Telegram side is the emulator, the database and files are the
    sandbox's own, no relay or client bots, no mailbox, no group budget to speak of; the
    website chat is on."""
    values: dict[str, Any] = {
        "BOT_TOKEN": TEAM_TOKEN,
        "TEAM_CHAT_ID": chat_id,
        "TELEGRAM_API_URL": api_url,
        "DATABASE_URL": f"sqlite://{DATA_DIR}/eadesk.sqlite3",
        "BLOBS_DIR": f"{DATA_DIR}/blobs",
        "RELAY_BOT_TOKENS": [],
        "MANAGERS": "",
        "TELEGRAM_CLIENT_BOT_TOKENS": [],
        "EMAIL_IMAP_URL": "",
        "EMAIL_SMTP_URL": "",
        "WEBCHAT_ENABLED": True,
        "GROUP_MESSAGES_PER_MINUTE": SANDBOX_GROUP_MESSAGES_PER_MINUTE,
    }
    if port is not None:
        values["HTTP_PORT"] = port
    try:
        return Settings(_env_file=env_file, **values)
    except ValidationError as error:  # one line per variable, as `run` says them
        raise ConfigError([describe_problem(item) for item in error.errors()]) from None
