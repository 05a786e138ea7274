"""Process wiring: database, core, Telegram bots, the team desk, connectors, health."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

from aiogram import Bot, Dispatcher
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import (
    ClientDecodeError,
    TelegramAPIError,
    TelegramNetworkError,
    TelegramNotFound,
    TelegramUnauthorizedError,
)
from aiohttp import web

from bot import i18n
from bot.health import Health
from bot.polling import DurablePoller
from bot.private import own_space_router, private_router
from bot.ratelimit import BotRateLimit, GroupCallLog, recent_group_calls
from bot.storage import EXTRA_APPS
from bot.team.budget import GroupBudget
from bot.team.desk import Desk, Poster
from bot.team.handlers import team_router
from bot.team.status import StatusBoard, status_router, stuck_work
from bot.team.steps import prune as prune_steps
from bot.team.teamwork import Teamwork
from connectors.telegram.client import TelegramClientConnector
from connectors.telegram.router import client_router
from core.clock import Clock, SystemClock
from core.connector import ensure_channel
from core.context import CoreContext
from core.db import close_database, open_database
from core.models import Channel, ChannelKind, Dialog, OutboxItem, WindowKind
from core.service import Core

if TYPE_CHECKING:
    from bot.config import Settings

log = logging.getLogger(__name__)

# Telegram out of reach at start: asked again after 1, 2, 4 … seconds, at most this long apart.
START_RETRY_MAX = 60.0


class StartupError(Exception):
    """eadesk cannot start until a person fixes something; the message says what, in one line."""


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
        for poster in self.desk.posters:
            # Each message into the group is written down first: a restart resumes the minute.
            poster.bot.session.middleware(GroupCallLog(settings.TEAM_CHAT_ID, self.core.ctx.wall))
        self.served: set[str] = set()  # the keys of the channels this process serves

    def labelled_bots(self) -> list[tuple[str, Bot]]:
        """Every bot this process talks as, with the variable its token comes from."""
        bots = [(token_label("BOT_TOKEN", 0, self.settings.BOT_TOKEN), self.bot)]
        for number, poster in enumerate(self.desk.posters[1:], 1):
            bots.append((token_label("RELAY_BOT_TOKENS", number, poster.bot.token), poster.bot))
        for number, token in enumerate(self.settings.TELEGRAM_CLIENT_BOT_TOKENS, 1):
            if token != self.settings.BOT_TOKEN:
                label = token_label("TELEGRAM_CLIENT_BOT_TOKENS", number, token)
                bots.append((label, self.client_bot(token)))
        return bots

    def client_bot(self, token: str) -> Bot:
        bot_id = int(token.split(":")[0])
        if bot_id not in self.bots:
            self.bots[bot_id] = make_bot(token, self.settings.TELEGRAM_API_URL)
        return self.bots[bot_id]

    async def reach_telegram(self) -> None:
        """Every bot's getMe, before anything else: while Telegram is out of reach, asked again
        with a growing pause and told in one line each time; a token Telegram refuses stops
        the start (StartupError) — no retry can fix that."""
        url = self.settings.TELEGRAM_API_URL
        for label, bot in self.labelled_bots():
            pause = 1.0
            while True:
                try:
                    me = await bot.me()
                    self.bot_names[bot.id] = f"@{me.username}"
                    break
                except (TelegramUnauthorizedError, TelegramNotFound) as exc:
                    code = 401 if isinstance(exc, TelegramUnauthorizedError) else 404
                    raise StartupError(
                        f"{label} is wrong: Telegram at {url} does not know this token "
                        f"({code} {exc_line(exc)}); copy it again from @BotFather "
                        "(/mybots → the bot → API Token)"
                    ) from None
                except (TelegramNetworkError, ClientDecodeError, TimeoutError) as exc:
                    why = f"Telegram is unreachable at {url} ({exc_line(exc)})"
                except TelegramAPIError as exc:
                    why = f"Telegram at {url} answered unexpectedly ({exc_line(exc)})"
                log.warning("%s; retrying in %d s", why, pause)
                await asyncio.sleep(pause)
                pause = min(pause * 2, START_RETRY_MAX)

    async def reach_database(self) -> None:
        """Open (and migrate) the database: while its server is out of reach (PostgreSQL still
        starting), asked again like Telegram; anything else (a wrong password, a bad URL)
        stops the start in one line."""
        where = shown_url(self.settings.DATABASE_URL)
        pause = 1.0
        while True:
            try:
                await open_database(self.settings.DATABASE_URL, EXTRA_APPS)
                return
            except OSError as exc:
                log.warning(
                    "the database at %s is unreachable (%s); retrying in %d s",
                    where,
                    exc_line(exc),
                    pause,
                )
            except Exception as exc:
                raise StartupError(
                    f"the database at {where} cannot be opened: {exc_line(exc)} "
                    "(check DATABASE_URL)"
                ) from None
            await asyncio.sleep(pause)
            pause = min(pause * 2, START_RETRY_MAX)

    async def start(self) -> None:
        i18n.set_default_language(self.settings.LANGUAGE)
        await self.reach_telegram()
        await self.reach_database()
        wall = self.core.ctx.wall.now()
        for poster in self.desk.posters:
            poster.budget.restore(await recent_group_calls(poster.bot.id, wall))
        await prune_steps(self.core.clock.now())
        self.desk.install()
        self.teamwork.install()
        team_dispatcher = Dispatcher()
        board = StatusBoard(self.desk, self.health, self.settings.tz)
        teamwork, team = self.teamwork, self.teamwork.team
        team_dispatcher.include_routers(
            teamwork.membership.router(),
            # Current members only, in the group and in private; team_router last in the group:
            # its catch-alls (unknown commands, replies) would take the others' messages.
            teamwork.in_group(
                status_router(board, self.settings.TEAM_CHAT_ID),
                *teamwork.group_routers(),
                team_router(team),
            ),
            # A member writing in private is never a client, also when the team bot is one.
            teamwork.in_private(
                private_router(team), teamwork.private_router(), own_space_router(team)
            ),
            teamwork.former_members(),
            teamwork.inline_router(),
        )
        dispatchers = {self.bot.id: team_dispatcher}
        for token in self.settings.client_bot_tokens:
            await self.add_client_channel(self.client_bot(token), dispatchers)
        await self.keep_channels_with_dialogs(dispatchers)
        # After the client router (when the team bot is a client bot too): the rest is a
        # stranger's button or, when it serves no clients, a stranger's message.
        team_dispatcher.include_router(teamwork.outsiders())
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
        self.served.add(channel.key)
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

    async def keep_channels_with_dialogs(self, dispatchers: dict[int, Dispatcher]) -> None:
        """A channel's dialogs are never dropped in silence. The team bot's own client channel
        stays served once TELEGRAM_CLIENT_BOT_TOKENS is set; a client bot whose token was
        removed is named in the log, and replies to its clients show as stuck in /status."""
        for channel in await Channel.filter(kind=ChannelKind.TELEGRAM).order_by("id"):
            if channel.key in self.served or not await Dialog.exists(channel_id=channel.id):
                continue
            if channel.key == f"telegram:{self.bot.id}":
                log.info(
                    "clients of %s keep writing to the team bot: its %d dialog(s) stay served",
                    channel.name,
                    await Dialog.filter(channel_id=channel.id).count(),
                )
                await self.add_client_channel(self.bot, dispatchers)
                continue
            count = await Dialog.filter(channel_id=channel.id).count()
            log.warning(
                "%s has %d dialog(s) but its token is not in TELEGRAM_CLIENT_BOT_TOKENS any "
                "more: replies to those clients wait (shown as stuck in /status) until it is",
                channel.name,
                count,
            )
            # Nobody reads what its clients write now: /status and /healthz say so.
            await self.health.failed(
                f"Telegram ({channel.name})",
                f"not served: its token is not in TELEGRAM_CLIENT_BOT_TOKENS; {count} dialog(s)",
            )

    async def healthz(self, request: web.Request) -> web.Response:
        pending = await OutboxItem.filter(status="pending").count()
        links = {name: s.ok for name, s in self.health.links.items()}
        stuck = await stuck_work(self.core.ctx.wall.now())
        healthy = self.health.all_ok and not stuck.count
        body: dict[str, object] = {
            "status": "ok" if healthy else "degraded",
            "links": links,
            "outbox_pending": pending,
            "stuck": stuck.count,
        }
        if stuck.count:
            body["stuck_oldest"] = stuck.oldest_error
        return web.json_response(body, status=200 if healthy else 503)

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


def exc_line(exc: Exception) -> str:
    """An aiogram error in one line, without its "HTTP Client says - " prefix."""
    text = str(getattr(exc, "message", "") or exc or type(exc).__name__)
    return text.strip().splitlines()[0].removeprefix("HTTP Client says - ")


def shown_url(url: str) -> str:
    """A database URL fit for a log: its password hidden."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def token_label(variable: str, number: int, token: str) -> str:
    """`variable`'s token `number` (0: the only one), shown by its public part alone."""
    public = f"{token.partition(':')[0]}:…"  # the bot's id; the rest is the secret
    return f"{variable} ({public})" if not number else f"{variable} (token {number}, {public})"


async def run_app(settings: Settings) -> int:
    """Run until SIGINT/SIGTERM (also while still waiting for Telegram); the exit status."""
    app = App(settings)
    stop = asyncio.Event()
    started = False

    async def lifecycle() -> int:
        # One task from start to stop: the database opened in its context is closed in it.
        nonlocal started
        try:
            await app.start()
            started = True
            log.info("eadesk is running; team group %s", settings.TEAM_CHAT_ID)
            await stop.wait()
            return 0
        except StartupError as error:
            log.error("eadesk cannot start: %s", error)
            return 1
        finally:
            await app.stop()

    running = asyncio.create_task(lifecycle())

    cancelled = False

    def on_signal() -> None:
        nonlocal cancelled
        if started:
            stop.set()
        elif not cancelled:
            # Still starting (waiting for Telegram, say): stop right away — once, so that a
            # second signal cannot cut the clean-up short.
            cancelled = True
            running.cancel()

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, on_signal)
    try:
        return await running
    except asyncio.CancelledError:
        if not running.cancelled():
            raise
        return 0
