"""The sandbox: eadesk itself, unchanged, wired to an in-process Telegram emulator.

ONE HTTP server on HTTP_HOST:HTTP_PORT serves
- the emulator's Bot API (``/bot<token>/<method>``, ``/file/bot<token>/…``) and its control
  API (``/_emu/…``, EMULATOR.md), which eadesk's TELEGRAM_API_URL points at;
- ``GET /_emu/sandbox`` (what a script needs to find its way) and
  ``POST /_emu/sandbox/reset`` (start over);
- eadesk's own routes (``/healthz``, the connectors' webhooks, ``/webchat/…``), handed over
  by the app (``App.mount_http``) and looked up anew after each restart;
- the sandbox's web page at ``/`` (sandbox/web, when it is there).

The emulator's state is in memory, so the sandbox starts over on each start: its database
and files (DATA_DIR, never DATABASE_URL's) are wiped, the world is seeded again.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import shutil
import signal
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from typing import Any, TypeVar

import aiohttp
from aiohttp import web
from aiohttp.web_urldispatcher import AbstractResource, AbstractRoute, UrlMappingMatchInfo
from yarl import URL

from bot.app import App, StartupError
from sandbox.banner import DATA_DIR, SEEDS, browser_host, url_of
from sandbox.emulator import Emulator, add_emulator_routes
from sandbox.emulator.client import EmulatorClient
from sandbox.settings import sandbox_settings
from sandbox.web.routes import add_web_routes
from sandbox.world import World, seed_world

log = logging.getLogger("sandbox")
T = TypeVar("T")


class EadeskRoutes(AbstractResource):
    """eadesk's routes inside the sandbox's server: resolved against the router of the app
    running now (none while it restarts), so a restart needs no new server."""

    def __init__(self, current: Callable[[], web.UrlDispatcher | None]) -> None:
        super().__init__(name=None)
        self._current = current

    @property
    def canonical(self) -> str:
        return "/{eadesk:.*}"

    def url_for(self, **kwargs: str) -> URL:
        return URL("/")

    async def resolve(self, request: web.Request) -> tuple[UrlMappingMatchInfo | None, set[str]]:
        router = self._current()
        if router is None:
            return None, set()
        match = await router.resolve(request)
        failure = match.http_exception
        if failure is None:
            return match, {match.route.method}
        return None, set(getattr(failure, "allowed_methods", ()) or ())

    def add_prefix(self, prefix: str) -> None:
        raise RuntimeError("eadesk's routes are mounted at the root")

    def get_info(self) -> dict[str, Any]:  # type: ignore[override]
        return {"eadesk": True}

    def raw_match(self, path: str) -> bool:
        return False

    def __len__(self) -> int:
        return 0

    def __iter__(self) -> Iterator[AbstractRoute]:
        return iter(())


SANDBOX: web.AppKey[Sandbox] = web.AppKey("sandbox")  # the sandbox, for the page's handlers


class Sandbox:
    """The emulator, eadesk and the page on one port; `reset` starts everything over."""

    def __init__(self, seed: str = "demo", env_file: str | None = ".env") -> None:
        if seed not in SEEDS:
            raise ValueError(f"unknown seed {seed!r}: {', '.join(SEEDS)}")
        self.seed = seed
        self.env_file = env_file
        self.base = sandbox_settings(env_file=env_file)
        self.emulator = Emulator(browser_host(self.base.HTTP_HOST), self.base.HTTP_PORT)
        self.world: World | None = None
        self.app: App | None = None
        self.routes: web.UrlDispatcher | None = None
        self.demo: asyncio.Task[None] | None = None
        self.demo_state = "off"
        self.runner: web.AppRunner | None = None
        self.session: aiohttp.ClientSession | None = None
        self.client: EmulatorClient | None = None
        self._lock = asyncio.Lock()
        self._owner = contextvars.copy_context()
        self.web = self.make_web()

    # ---- the one HTTP server ------------------------------------------------------------
    def make_web(self) -> web.Application:
        front = web.Application(client_max_size=100 * 1024 * 1024)
        front.router.add_get("/_emu/sandbox", self.info)
        front.router.add_post("/_emu/sandbox/reset", self.reset_handler)
        add_emulator_routes(front, self.emulator)
        front.router.register_resource(EadeskRoutes(lambda: self.routes))
        add_web_routes(front, self.emulator)
        front[SANDBOX] = self
        return front

    def mount(self, eadesk_web: web.Application) -> None:
        """eadesk's routes (App.mount_http, called at the end of App.start): served from now
        on, each request in eadesk's context (its database is opened in the task that
        started it: Tortoise keeps it in a context variable)."""
        context = contextvars.copy_context()
        routes = web.UrlDispatcher()
        for route in eadesk_web.router.routes():
            path = route.resource.canonical if route.resource is not None else "/"
            routes.add_route(route.method, path, in_context(context, route.handler))
        self.routes = routes

    @property
    def url(self) -> str:
        return url_of(self.base.HTTP_HOST, self.emulator.port)

    async def listen(self) -> None:
        """Bind HTTP_HOST:HTTP_PORT (0: a free port); StartupError when it is taken."""
        self.runner = web.AppRunner(self.web, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, self.base.HTTP_HOST, self.base.HTTP_PORT)
        try:
            await site.start()
        except OSError as exc:
            raise StartupError(
                f"cannot listen on {self.base.HTTP_HOST}:{self.base.HTTP_PORT} "
                f"({exc.strerror or exc}): set HTTP_PORT to a free port, like "
                "HTTP_PORT=8090 make run"
            ) from None
        if self.runner.addresses:
            self.emulator.port = int(self.runner.addresses[0][1])
        self.session = aiohttp.ClientSession()
        self.client = EmulatorClient(self.emulator, self.session)

    # ---- eadesk and the world -----------------------------------------------------------
    async def owned(self, work: Coroutine[Any, Any, T]) -> T:
        """Run `work` in the sandbox's own context. eadesk's database lives in a context
        variable of the task that opened it, so every start and stop of eadesk runs here,
        whoever asks (the start, a reset through HTTP, Ctrl+C; a test reading the database);
        shielded: a reset half done would leave no eadesk at all."""
        loop = asyncio.get_running_loop()
        async with self._lock:  # one at a time: a reset waits for the start, and so on
            return await asyncio.shield(loop.create_task(work, context=self._owner))

    async def begin(self) -> None:
        """A fresh world and a fresh eadesk; with the demo seed, the morning plays in."""
        await self.owned(self._begin())

    async def end(self) -> None:
        await self.owned(self._end())

    async def _begin(self) -> None:
        assert self.client is not None
        wipe_data()
        self.world = await seed_world(self.client, self.base.LANGUAGE)
        settings = sandbox_settings(
            self.world.team_chat_id,
            self.emulator.base_url,
            self.emulator.port,
            self.env_file,
        )
        app = App(settings)
        app.mount_http = self.mount
        self.app = app
        try:
            await app.start()
        except BaseException:
            await self._end()
            raise
        log.info("eadesk is running in the sandbox; team group %s", self.world.team_chat_id)
        if self.seed == "demo":
            self.demo_state = "playing"
            self.demo = asyncio.create_task(self.play_demo(app, self.world))
        else:
            self.demo_state = "off"

    async def play_demo(self, app: App, world: World) -> None:
        from sandbox.demo import play_morning

        assert self.client is not None
        try:
            await play_morning(self.client, world)
        except asyncio.CancelledError:
            raise
        except Exception:
            self.demo_state = "failed"
            log.exception("the demo morning stopped half way")
        else:
            self.demo_state = "done"
            log.info("the demo morning has played; %s", self.url)

    async def _end(self) -> None:
        if self.demo is not None:
            self.demo.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.demo
            self.demo = None
        self.routes = None
        if self.app is not None:
            app, self.app = self.app, None
            await app.stop()

    async def reset(self, seed: str | None = None) -> None:
        """Start over: eadesk stopped, the emulator emptied, the data wiped, the world seeded
        again and eadesk started anew; the HTTP server stays up all along."""
        if seed is not None:
            if seed not in SEEDS:
                raise ValueError(f"unknown seed {seed!r}: {', '.join(SEEDS)}")
            self.seed = seed
        log.info("starting over (seed %s)", self.seed)
        await self.owned(self._reset())

    async def _reset(self) -> None:
        await self._end()
        self.emulator.reset()
        await self._begin()

    async def close(self) -> None:
        await self.end()
        if self.session is not None:
            await self.session.close()
        # Long polls still held open by the emulator end now (else the server waits for them).
        self.emulator.reset()
        if self.runner is not None:
            await self.runner.cleanup()

    # ---- /_emu/sandbox ------------------------------------------------------------------
    def describe(self) -> dict[str, Any]:
        world = self.world
        return {
            "team_chat_id": world.team_chat_id if world else None,
            "bot_username": world.bot_username if world else None,
            "operators": world.operators if world else [],
            "clients": world.clients if world else [],
            "language": self.base.LANGUAGE,
            "seed": self.seed,
            "demo": self.demo_state,
            "running": self.app is not None and self.routes is not None,
            "webchat_demo": "/webchat/demo",
            "url": self.url,
        }

    async def info(self, request: web.Request) -> web.Response:
        return web.json_response(self.describe())

    async def reset_handler(self, request: web.Request) -> web.Response:
        seed = None
        if request.can_read_body:
            with contextlib.suppress(ValueError):
                body = await request.json()
                if isinstance(body, dict) and body.get("seed"):
                    seed = str(body["seed"])
        if seed is not None and seed not in SEEDS:
            return web.json_response(
                {"ok": False, "description": f"seed is one of {', '.join(SEEDS)}"}, status=400
            )
        try:
            await self.reset(seed)
        except StartupError as error:
            return web.json_response({"ok": False, "description": str(error)}, status=500)
        return web.json_response({"ok": True, **self.describe()})


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def in_context(context: contextvars.Context, handler: Any) -> Handler:
    """`handler` run in a copy of `context` (a task of its own; cancelled with the request)."""

    async def run(request: web.Request) -> web.StreamResponse:
        loop = asyncio.get_running_loop()
        response: web.StreamResponse = await loop.create_task(
            handler(request), context=context.copy()
        )
        return response

    return run


def wipe_data() -> None:
    """The sandbox's database and files: gone (they belong to the world just replaced)."""
    shutil.rmtree(DATA_DIR, ignore_errors=True)


async def run_sandbox(seed: str, env_file: str | None = ".env") -> int:
    """Run the sandbox until SIGINT/SIGTERM; the exit status."""
    sandbox = Sandbox(seed, env_file)
    stop = asyncio.Event()

    async def lifecycle() -> int:
        try:
            await sandbox.listen()
            await sandbox.begin()
            print(f"Sandbox ready: open {sandbox.url}", flush=True)
            await stop.wait()
            return 0
        except StartupError as error:
            log.error("the sandbox cannot start: %s", error)
            return 1
        finally:
            await sandbox.close()

    running = asyncio.create_task(lifecycle())
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    return await running
