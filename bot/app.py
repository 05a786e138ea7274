"""Process wiring: database, core, Telegram bots, the team desk, connectors, health."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from typing import TYPE_CHECKING

from aiogram import Bot, Dispatcher
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiohttp import web

from bot import i18n
from bot.health import Health
from bot.polling import DurablePoller
from bot.private import private_router
from bot.ratelimit import BotRateLimit
from bot.storage import EXTRA_APPS
from bot.team.budget import GroupBudget
from bot.team.desk import Desk, Poster
from bot.team.handlers import team_router
from bot.team.status import StatusBoard, status_router
from bot.team.teamwork import Teamwork
from connectors.telegram.client import TelegramClientConnector
from connectors.telegram.router import client_router
from core.clock import Clock, SystemClock
from core.connector import ensure_channel
from core.context import CoreContext
from core.db import close_database, open_database
from core.models import ChannelKind, OutboxItem, WindowKind
from core.service import Core

if TYPE_CHECKING:
    from bot.config import Settings

log = logging.getLogger(__name__)


def make_bot(token: str, api_url: str) -> Bot:
    bot = Bot(token, session=AiohttpSession(api=TelegramAPIServer.from_base(api_url)))
    # Telegram's limit for the whole bot (~30 messages/s), kept before any 429 comes.
    bot.session.middleware(BotRateLimit())
    return bot


class App:
    def __init__(
        self,
        settings: Settings,
        clock: Clock | None = None,
        tick: float = 5.0,
        poll_timeout: int = 20,
    ) -> None:
        self.settings = settings
        self.poll_timeout = poll_timeout
        windows = {WindowKind(k): v for k, v in settings.reopen_windows().items()}
        self.core = Core(CoreContext(clock=clock or SystemClock(), windows=windows), tick)
        self.bot = make_bot(settings.BOT_TOKEN, settings.TELEGRAM_API_URL)
        self.bots: dict[int, Bot] = {self.bot.id: self.bot}
        self.pollers: list[DurablePoller] = []
        self.health = Health(self.core.clock)
        self.bot_names: dict[int, str] = {}
        self.http: web.AppRunner | None = None
        self.desk = Desk(
            self.core,
            self.bot,
            settings.TEAM_CHAT_ID,
            self.bots,
            GroupBudget(settings.GROUP_MESSAGES_PER_MINUTE),
            settings.LANGUAGE,
            settings.tz,
            relays=[
                Poster(
                    make_bot(token, settings.TELEGRAM_API_URL),
                    GroupBudget(settings.GROUP_MESSAGES_PER_MINUTE),
                )
                for token in settings.RELAY_BOT_TOKENS
            ],
        )
        self.teamwork = Teamwork(self.core, self.desk, self.bot, settings)

    async def start(self) -> None:
        i18n.set_default_language(self.settings.LANGUAGE)
        await open_database(self.settings.DATABASE_URL, EXTRA_APPS)
        self.desk.install()
        self.teamwork.install()
        team_dispatcher = Dispatcher()
        board = StatusBoard(self.desk, self.health, self.settings.tz)
        team_dispatcher.include_router(status_router(board, self.settings.TEAM_CHAT_ID))
        # Before team_router: its catch-alls (unknown commands, replies) would take these.
        team_dispatcher.include_routers(*self.teamwork.group_routers())
        team_dispatcher.include_router(team_router(self.teamwork.team))
        team_dispatcher.include_router(
            private_router(self.core, self.desk, self.settings.TEAM_CHAT_ID)
        )
        team_dispatcher.include_router(self.teamwork.private_router())
        dispatchers = {self.bot.id: team_dispatcher}
        for token in self.settings.client_bot_tokens:
            client_bot = self.bots.get(int(token.split(":")[0])) or make_bot(
                token, self.settings.TELEGRAM_API_URL
            )
            self.bots[client_bot.id] = client_bot
            await self.add_client_channel(client_bot, dispatchers)
        # Rows a crash cut off mid-call first, so that the requeue below sees them pending.
        await self.core.outbox.recover()
        await self.desk.requeue_unposted()
        for bot_id, dispatcher in dispatchers.items():
            self.pollers.append(
                DurablePoller(
                    self.bots[bot_id],
                    dispatcher,
                    self.core.clock,
                    self.poll_timeout,
                    health=self.health,
                    name=f"Telegram ({self.bot_names.get(bot_id, bot_id)})",
                )
            )
        for poller in self.pollers:
            poller.start()
        await self.core.start()
        await self.start_http()

    async def add_client_channel(self, bot: Bot, dispatchers: dict[int, Dispatcher]) -> None:
        me = await bot.me()
        self.bot_names[bot.id] = f"@{me.username}"
        channel = await ensure_channel(
            f"telegram:{bot.id}", ChannelKind.TELEGRAM, f"@{me.username}", self.core.clock.now()
        )
        connector = TelegramClientConnector(channel, bot, self.bots, self.settings.TEAM_CHAT_ID)
        self.core.connectors.register(connector)
        dispatcher = dispatchers.setdefault(bot.id, Dispatcher())
        dispatcher.include_router(
            client_router(
                channel_id=channel.id,
                bot_id=bot.id,
                ingest=self.core.ingest,
                on_edit=self.core.ingest.edit,
                greeting=lambda code: i18n.t("client.greeting", i18n.pick_language(code)),
            )
        )

    async def healthz(self, request: web.Request) -> web.Response:
        pending = await OutboxItem.filter(status="pending").count()
        links = {name: s.ok for name, s in self.health.links.items()}
        status = "ok" if self.health.all_ok else "degraded"
        return web.json_response(
            {"status": status, "links": links, "outbox_pending": pending},
            status=200 if self.health.all_ok else 503,
        )

    async def start_http(self) -> None:
        web_app = web.Application()
        web_app.router.add_get("/healthz", self.healthz)
        self.http = web.AppRunner(web_app)
        await self.http.setup()
        site = web.TCPSite(self.http, self.settings.HTTP_HOST, self.settings.HTTP_PORT)
        try:
            await site.start()
        except OSError as exc:
            # A busy port must not stop the helpdesk itself: only the health endpoint is lost.
            log.error(
                "cannot listen on %s:%s (%s): the health endpoint is off; set HTTP_PORT",
                self.settings.HTTP_HOST,
                self.settings.HTTP_PORT,
                exc,
            )

    async def stop(self) -> None:
        for poller in self.pollers:
            await poller.stop()
        await self.core.stop()
        if self.http:
            await self.http.cleanup()
        for bot in [*self.bots.values(), *(p.bot for p in self.desk.posters[1:])]:
            await bot.session.close()
        await close_database()


async def run_app(settings: Settings) -> None:
    app = App(settings)
    await app.start()
    log.info("eadesk is running; team group %s", settings.TEAM_CHAT_ID)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await app.stop()
