"""The Telegram client channel as the registry builds it: one connector per client bot."""

from __future__ import annotations

import logging
from typing import Protocol

from aiogram import Bot, Dispatcher

from connectors.telegram.client import TelegramClientConnector
from connectors.telegram.settings import VARIABLE, TelegramClientSettings
from core.channels import Connector
from core.clock import Clock
from tgapi.files import TelegramFiles
from tgapi.parse import source_key

log = logging.getLogger(__name__)


class TelegramHost(Protocol):
    """What the app lends the Telegram client channel: its bots are Telegram bots too."""

    clock: Clock
    api_url: str
    team_chat_id: int
    # Every bot of the process by id, shared: one Bot per token, files downloadable by owner.
    bots: dict[int, Bot]
    files: TelegramFiles
    poll_timeout: int
    # The keys of the channels that have dialogs ("telegram:123"): none is dropped in silence.
    channels_with_dialogs: set[str]

    @property
    def team_token(self) -> str | None:
        """The team bot's token: the client bot when no other is listed (None in `check`,
        which asks about the team bot on its own)."""
        ...

    def bot_for(self, token: str, label: str = "") -> Bot:
        """The process's Bot for `token`; `label` names where the token comes from, for the
        app's own messages about it ("TELEGRAM_CLIENT_BOT_TOKENS: token 1 (123:…)")."""
        ...

    def dispatcher_of(self, bot: Bot) -> Dispatcher | None:
        """The dispatcher the app polls for `bot` (the team bot's), or None: the connector
        polls its bot itself."""
        ...

    def greeting(self, language: str | None) -> str:
        """What a client who starts the bot is told, in their language."""
        ...


def token_label(number: int, token: str) -> str:
    # The part before the colon is the bot's public id; the rest is the secret.
    return f"{VARIABLE}: token {number} ({token.partition(':')[0]}:…)"


async def build(settings: TelegramClientSettings, host: TelegramHost) -> list[Connector]:
    """A connector per listed client bot, or the team bot's when none is listed. The team
    bot keeps serving the clients who wrote to it before client bots were listed."""
    tokens = [(token_label(n, t), t) for n, t in enumerate(settings.BOT_TOKENS, 1)]
    team = host.team_token
    if team is not None:
        own_key = source_key(int(team.partition(":")[0]))
        if not tokens:
            tokens = [("BOT_TOKEN", team)]
        elif team not in settings.BOT_TOKENS and own_key in host.channels_with_dialogs:
            log.info("clients of the team bot keep writing to it: its dialogs stay served")
            tokens.append(("BOT_TOKEN", team))
    connectors: list[Connector] = []
    for label, token in tokens:
        bot = host.bot_for(token, label)
        connector = TelegramClientConnector(
            bot,
            bots=host.bots,
            team_chat_id=host.team_chat_id,
            files=host.files,
            host=host,
            dispatcher=host.dispatcher_of(bot),
            label=label,
            api_url=host.api_url,
        )
        connectors.append(connector)
    return connectors
