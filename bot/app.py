"""Process wiring: database, core, Telegram bots, the team desk, connectors, health."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

from aiogram import Bot, Dispatcher
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
from bot.channel_host import ChannelHost
from bot.group.desk import Desk
from bot.group.gateway import Poster
from bot.private.chat import own_space_router, private_router
from bot.ratelimit import GroupCallLog, recent_group_calls
from bot.storage import EXTRA_APPS
from bot.team.csat import csat_service
from bot.team.csat import page_handler as csat_page
from bot.team.handlers import team_router
from bot.team.status import StatusBoard, status_router, stuck_work
from bot.team.steps import prune as prune_steps
from bot.team.teamwork import Teamwork
from connectors import registry
from core.blobs import DiskBlobStore
from core.channels import Connector, Surveys, ensure_channel
from core.clock import Clock, SystemClock
from core.context import CoreContext
from core.db import close_database, open_database
from core.health import Health
from core.models import Channel, Dialog, OutboxItem, WindowKind
from core.service import Core
from tgapi.failures import errors_router
from tgapi.files import TelegramFiles
from tgapi.limits import BotRateLimit, GroupBudget
from tgapi.parse import SOURCE
from tgapi.polling import DurablePoller
from tgapi.responses import keep_response_types
from tgapi.session import JsonSession

if TYPE_CHECKING:
    from bot.config import Settings

log = logging.getLogger(__name__)

# Telegram out of reach at start: asked again after 1, 2, 4 … seconds, at most this long apart.
START_RETRY_MAX = 60.0


class StartupError(Exception):
    """eadesk cannot start until a person fixes something; the message says what, in one line."""


def make_bot(token: str, api_url: str) -> Bot:
    # Calls without files as one JSON body (tgapi/session.py), not a multipart form.
    bot = Bot(token, session=JsonSession(api=TelegramAPIServer.from_base(api_url)))
    # Telegram's limit for the whole bot (~30 messages/s), kept before any 429 comes.
    bot.session.middleware(BotRateLimit())
    keep_response_types()  # aiogram's answer models, built once (not again after each GC)
    return bot


class App:
    def __init__(
        self,
        settings: Settings,
        clock: Clock | None = None,
        tick: float = 5.0,
        poll_timeout: int = 20,
        extra_connectors: Sequence[Connector] = (),
    ) -> None:
        self.settings = settings
        # Connectors made elsewhere than from settings, started like the configured ones
        # (tests: a loopback channel, tests/loopback). `run` never passes any.
        self.extra_connectors = list(extra_connectors)
        self.poll_timeout = poll_timeout
        windows = {WindowKind(k): v for k, v in settings.reopen_windows().items()}
        self.core = Core(
            CoreContext(
                clock=clock or SystemClock(),
                windows=windows,
                business_hours=settings.business_hours,
            ),
            tick,
        )
        self.core.digests.schedule(settings.digest_time, settings.tz)
        self.core.sla.configure(settings.SLA_FIRST_RESPONSE, settings.SLA_NEXT_RESPONSE)
        self.bot = make_bot(settings.BOT_TOKEN, settings.TELEGRAM_API_URL)
        self.bots: dict[int, Bot] = {self.bot.id: self.bot}
        # The bytes of files, kept once a channel needs them; handed to every connector's
        # sink. Files go between our bots by file_id, uploaded once per bot.
        self.blobs = DiskBlobStore(settings.BLOBS_DIR, settings.FILE_SIZE_LIMIT)
        self.files = TelegramFiles(self.bots, self.blobs, self.core.clock)
        # A channel that needs a Telegram file's bytes (not Telegram) gets them downloaded.
        self.core.fetchers.register(SOURCE, self.files.ensure_blob)
        self.pollers: list[DurablePoller] = []
        # Each link's health (the connectors report theirs through their sinks).
        self.health: Health = self.core.health
        self.connectors: list[Connector] = []
        self.bot_names: dict[int, str] = {}
        self.http: web.AppRunner | None = None
        # Set before start: eadesk's routes (/healthz, the connectors' webhooks) are handed to
        # this instead of a server of their own on HTTP_HOST:HTTP_PORT (the sandbox's server).
        self.mount_http: Callable[[web.Application], None] | None = None
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
            files=self.files,
        )
        self.teamwork = Teamwork(self.core, self.desk, self.bot, settings)
        self.csat = csat_service(self.core, settings, self.public_url)  # CSAT_ENABLED
        # amoCRM, when configured: the cards show the client's deals.
        self.core.crm.source = registry.build_crm(settings.channels)
        # The automation rules (AUTOMATIONS_FILE), read again whenever the file changes.
        self.core.automations.load(settings.AUTOMATIONS_FILE)
        for poster in self.desk.gateway.posters:
            # Each message into the group is written down first: a restart resumes the minute;
            # once over, its budget counts it from then (it reached Telegram by that moment).
            log_calls = GroupCallLog(settings.TEAM_CHAT_ID, self.core.ctx.wall, poster.budget)
            poster.bot.session.middleware(log_calls)

    def labelled_bots(self) -> list[tuple[str, Bot]]:
        """The team's bots, with the variable each token comes from."""
        bots = [(token_label("BOT_TOKEN", 0, self.settings.BOT_TOKEN), self.bot)]
        for number, poster in enumerate(self.desk.gateway.posters[1:], 1):
            bots.append((token_label("RELAY_BOT_TOKENS", number, poster.bot.token), poster.bot))
        return bots

    async def reach_telegram(self, bots: list[tuple[str, Bot]] | None = None) -> None:
        """Every bot's getMe (the team's, before anything else; the connectors' once they are
        built): while Telegram is out of reach, asked again with a growing pause and told in
        one line each time; a token Telegram refuses stops the start (StartupError) — no
        retry can fix that."""
        url = self.settings.TELEGRAM_API_URL
        for label, bot in self.labelled_bots() if bots is None else bots:
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
        await self.blobs.clean()
        wall = self.core.ctx.wall.now()
        for poster in self.desk.gateway.posters:
            poster.budget.restore(await recent_group_calls(poster.bot.id, wall))
        await prune_steps(self.core.clock.now())
        self.desk.install()
        self.teamwork.install()
        # No conversation states anywhere: the FSM middleware would only cost each update time.
        team_dispatcher = Dispatcher(disable_fsm=True)
        board = StatusBoard(self.desk.gateway, self.health, self.settings.tz)
        teamwork, team = self.teamwork, self.teamwork.team
        team_dispatcher.include_routers(
            # A failed update: logged once, tried again only when that can help.
            errors_router(),
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
        await self.start_connectors(team_dispatcher)
        # After the client router (when the team bot is a client bot too): the rest is a
        # stranger's button or, when it serves no clients, a stranger's message.
        team_dispatcher.include_router(teamwork.outsiders())
        # Rows a crash cut off mid-call go again. (Nothing else to catch up on: every side
        # effect of a change was queued in the change's own transaction.)
        await self.core.outbox.recover()
        self.pollers.append(
            DurablePoller(
                self.bot,
                team_dispatcher,
                self.core.clock,
                self.poll_timeout,
                health=self.health,
                name=f"Telegram ({self.bot_names.get(self.bot.id, self.bot.id)})",
            )
        )
        for poller in self.pollers:
            poller.start()
        await self.core.start()
        await self.start_http()

    async def start_connectors(self, team_dispatcher: Dispatcher) -> None:
        """Every configured channel's connectors, built from settings, each started with a
        sink bound to its channel. A channel whose dialogs no connector serves any more is
        never dropped in silence: the log names it, /status and /healthz show its link
        down, and replies to its clients show as stuck."""
        with_dialogs = {
            channel.key: channel
            for channel in await Channel.all().order_by("id")
            if await Dialog.exists(channel_id=channel.id)
        }
        host = ChannelHost(
            clock=self.core.clock,
            api_url=self.settings.TELEGRAM_API_URL,
            team_chat_id=self.settings.TEAM_CHAT_ID,
            bots=self.bots,
            files=self.files,
            make_bot=lambda token: make_bot(token, self.settings.TELEGRAM_API_URL),
            team_bot=self.bot,
            team_token=self.settings.BOT_TOKEN,
            team_dispatcher=team_dispatcher,
            poll_timeout=self.poll_timeout,
            channels_with_dialogs=set(with_dialogs),
            public_url=self.public_url,
            connectors=lambda: self.connectors,
        )
        connectors = await registry.build_connectors(self.settings.channels, host)
        connectors += self.extra_connectors
        await self.reach_telegram(host.lent)
        for connector in connectors:
            now = self.core.clock.now()
            channel = await ensure_channel(connector.key, connector.kind, connector.name, now)
            self.core.connectors.register(channel.id, connector)
            if isinstance(connector, Surveys):  # it asks for ratings: the core takes them
                connector.take_ratings(self.csat)
            await connector.start(self.core.sink(channel.id, self.blobs))
            if connector.name != channel.name:  # known once it started (a bot's @username)
                await ensure_channel(connector.key, connector.kind, connector.name, now)
            self.connectors.append(connector)
        served = {connector.key for connector in connectors}
        for key, channel in with_dialogs.items():
            if key not in served:
                await self.not_served(channel)

    def public_url(self) -> str:
        """PUBLIC_URL, or http://HTTP_HOST:HTTP_PORT (the port it got when 0)."""
        if self.settings.PUBLIC_URL:
            return self.settings.PUBLIC_URL
        host, port = self.settings.HTTP_HOST, self.settings.HTTP_PORT
        if self.http is not None and self.http.addresses:
            host, port = self.http.addresses[0][:2]
        return f"http://{host}:{port}"

    async def not_served(self, channel: Channel) -> None:
        count = await Dialog.filter(channel_id=channel.id).count()
        spec = next((s for s in registry.CHANNELS if s.kind == channel.kind), None)
        if spec is not None and spec.not_served is not None:
            link, why = spec.not_served(channel.name)
        else:
            link, why = channel.name, "not served: no connector is configured for it"
        log.warning(
            "%s has %d dialog(s) but is %s: replies to those clients wait (shown as stuck in "
            "/status) until it is served again",
            channel.name,
            count,
            why,
        )
        # Nobody reads what its clients write now: /status and /healthz say so.
        await self.health.failed(link, f"{why}; {count} dialog(s)")

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
        web_app.router.add_get("/csat/{token}/{score}", csat_page(self.csat))
        for connector in self.connectors:
            # Each checks its own signature or secret, and stores before it answers 200.
            for method, path, handler in connector.webhooks():
                web_app.router.add_route(method, path, handler)
        if self.mount_http is not None:
            # Served by a server that is already listening (the sandbox's one port).
            self.mount_http(web_app)
            return
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
        for connector in self.connectors:
            try:
                await connector.stop()
            except Exception:
                log.exception("%s did not stop cleanly", connector.name)
        await self.core.stop()
        if self.http:
            await self.http.cleanup()
        for bot in [*self.bots.values(), *(p.bot for p in self.desk.gateway.posters[1:])]:
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
