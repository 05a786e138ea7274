"""What the app lends the connectors it builds: its bots, the team's dispatcher, a clock.

Each channel says what it needs in a Host protocol of its own (the Telegram client channel's
is connectors.telegram.channel.TelegramHost); this one object serves them all.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from aiogram import Bot, Dispatcher

from bot import i18n
from core.channels import Connector, Outgoing, Sent
from core.clock import Clock
from core.models import ChannelKind
from tgapi.files import TelegramFiles


class ChannelHost:
    def __init__(
        self,
        *,
        clock: Clock,
        api_url: str,
        team_chat_id: int,
        bots: dict[int, Bot],
        files: TelegramFiles,
        make_bot: Callable[[str], Bot],
        team_bot: Bot | None = None,
        team_token: str | None = None,
        team_dispatcher: Dispatcher | None = None,
        poll_timeout: int = 20,
        channels_with_dialogs: set[str] | None = None,
        public_url: Callable[[], str] | None = None,
        connectors: Callable[[], Iterable[Connector]] | None = None,
    ) -> None:
        self.clock = clock
        self.api_url = api_url
        self.team_chat_id = team_chat_id
        self.bots = bots
        self.files = files
        self.poll_timeout = poll_timeout
        self.channels_with_dialogs = channels_with_dialogs or set()
        self._make_bot = make_bot
        self._public_url = public_url
        self._connectors = connectors
        self._team_bot = team_bot
        self._team_token = team_token
        self._team_dispatcher = team_dispatcher
        # The bots lent to connectors, with the variable each token comes from.
        self.lent: list[tuple[str, Bot]] = []

    @property
    def team_token(self) -> str | None:
        return self._team_token

    def bot_for(self, token: str, label: str = "") -> Bot:
        """One Bot per token in the whole process (the team bot may be a client bot too)."""
        bot_id = int(token.partition(":")[0])
        if bot_id not in self.bots:
            self.bots[bot_id] = self._make_bot(token)
        bot = self.bots[bot_id]
        if label and all(lent is not bot for _, lent in self.lent):
            self.lent.append((label, bot))
        return bot

    def dispatcher_of(self, bot: Bot) -> Dispatcher | None:
        if self._team_bot is not None and bot.id == self._team_bot.id:
            return self._team_dispatcher
        return None

    async def team_title(self) -> str:
        """The team group's title ("" when unknown): the e-mail channel's default name."""
        if self._team_bot is None:
            return ""
        chat = await self._team_bot.get_chat(self.team_chat_id)
        return chat.title or ""

    def public_url(self) -> str:
        """The base URL browsers reach eadesk at (PUBLIC_URL, or where the HTTP server
        listens): the website chat's links and its demo page."""
        return self._public_url() if self._public_url is not None else ""

    async def by_email(self, out: Outgoing) -> Sent | None:
        """Send `out` through the e-mail channel too (a website visitor gone offline who
        left an address; `out.participants` names them). None: no e-mail channel runs."""
        for connector in self._connectors() if self._connectors is not None else ():
            if connector.kind == ChannelKind.EMAIL:
                return await connector.send(out)
        return None

    def text(self, key: str, language: str | None, **values: object) -> str:
        """A line of the locales in `language` (or the default) for a connector to show."""
        return i18n.t(key, i18n.pick_language(language), **values)

    def greeting(self, language: str | None) -> str:
        return i18n.t("client.greeting", i18n.pick_language(language))

    async def close(self) -> None:
        """Close the sessions of the bots this host made (for `check`)."""
        for bot in self.bots.values():
            await bot.session.close()
