"""Connector v2 in the running app: every configured connector is built from its channel's
settings, started with a sink and stopped; its webhooks are mounted on the one HTTP server,
where each checks its own secret and stores what arrives before it answers 200."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiohttp import web
from pydantic_settings import BaseSettings, SettingsConfigDict

from connectors import registry
from core.channels import Capabilities, ChannelSpec, Connector, Outgoing, Sent, Sink
from core.content import Content
from core.ingest import Inbound, Sender
from core.models import Channel, ChannelKind, ContactKind, InboxItem
from tests.e2e.conftest import TEAM_BOT, TEAM_TOKEN, bot_says, running_desk, team_forum

SOURCE = "hooktest"
PATH = "/hooks/hooktest"


class HookSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HOOKTEST_", env_file=None, extra="ignore")

    SECRET: str = "s3cret"


class HookConnector:
    """A website-chat-like channel that receives by webhook, with a shared secret."""

    kind = ChannelKind.WEBCHAT
    key = "hooktest:main"
    name = "Hook test"
    capabilities = Capabilities()

    def __init__(self, secret: str) -> None:
        self.secret = secret
        self.sink: Sink | None = None
        self.stopped = False
        self.stored_before_answer: list[bool] = []
        self._work: set[asyncio.Task[Any]] = set()

    async def start(self, sink: Sink) -> None:
        self.sink = sink

    async def stop(self) -> None:
        self.stopped = True

    def webhooks(self) -> list[tuple[str, str, Any]]:
        return [("POST", PATH, self.receive)]

    async def check(self) -> list[str]:
        return []

    async def receive(self, request: web.Request) -> web.Response:
        if request.headers.get("X-Hook-Secret") != self.secret:
            return web.Response(status=401, text="wrong secret")
        assert self.sink is not None
        event = await request.json()
        await self.sink.store(SOURCE, str(event["id"]), event)
        self.stored_before_answer.append(await InboxItem.exists(source=SOURCE, key=event["id"]))
        # Acknowledged once stored; processed from the store (after a crash too).
        task = asyncio.create_task(self.sink.process(SOURCE, self.handle))
        self._work.add(task)
        task.add_done_callback(self._work.discard)
        return web.Response(status=200, text="ok")

    async def handle(self, event: dict[str, Any]) -> None:
        assert self.sink is not None
        await self.sink.ingest(
            Inbound(
                channel_id=self.sink.channel_id,
                chat_key=event["visitor"],
                external_id=event["id"],
                sender=Sender(ContactKind.WEBCHAT, event["visitor"], event["name"]),
                content=Content(event["text"]),
            )
        )

    async def send(self, out: Outgoing) -> Sent:
        return Sent([f"sent-{out.message_id}"])

    async def edit(self, out: Outgoing, copies: list[str], data: dict[str, Any]) -> Sent | None:
        return None


BUILT: list[HookConnector] = []


async def build(settings: HookSettings, host: Any) -> list[Connector]:
    connector = HookConnector(settings.SECRET)
    BUILT.append(connector)
    return [connector]


HOOK = ChannelSpec(kind=ChannelKind.WEBCHAT, settings=HookSettings, build=build, title="hook")


@pytest.fixture
def hook_channel(monkeypatch: pytest.MonkeyPatch) -> list[HookConnector]:
    """The registry with one more line: the hook test channel."""
    monkeypatch.setattr(registry, "CHANNELS", (*registry.CHANNELS, HOOK))
    BUILT.clear()
    return BUILT


async def test_a_webhook_checks_its_secret_and_stores_before_it_answers(emulator, hook_channel):
    await emulator.bot(TEAM_TOKEN, username=TEAM_BOT)
    operator = await emulator.user("Olga", username="olga", language_code="en")
    colleague = await emulator.user("Pavel", username="pavel", language_code="en")
    client = await emulator.user("Ann", language_code="en")
    chat_id = await team_forum(emulator, operator, colleague)
    async with running_desk(emulator, chat_id, operator, colleague, client) as desk:
        [hook] = hook_channel
        assert hook.sink is not None  # started, with a sink bound to its channel
        channel = await Channel.get(key=HookConnector.key)
        assert hook.sink.channel_id == channel.id and channel.name == "Hook test"
        assert desk.app.http is not None
        host, port = desk.app.http.addresses[0][:2]
        url = f"http://{host}:{port}{PATH}"
        event = {"id": "e1", "visitor": "v-42", "name": "Web visitor", "text": "Hi from the site"}

        for secret in (None, "guess"):
            headers = {"X-Hook-Secret": secret} if secret else {}
            async with emulator.session.post(url, json=event, headers=headers) as response:
                assert response.status in (401, 403)
        assert not await InboxItem.exists(source=SOURCE)
        assert await desk.topics() == []

        headers = {"X-Hook-Secret": "s3cret"}
        async with emulator.session.post(url, json=event, headers=headers) as response:
            assert response.status == 200
        assert hook.stored_before_answer == [True]
        # Delivered twice by the sender: one stored event, one message.
        async with emulator.session.post(url, json=event, headers=headers) as response:
            assert response.status == 200
        assert await InboxItem.filter(source=SOURCE).count() == 1

        thread = (await desk.only_topic())["thread_id"]
        assert await desk.wait(lambda: bot_says(desk, thread, "Hi from the site"))
        assert len(await bot_says(desk, thread, "Hi from the site")) == 1
        assert not hook.stopped
    assert hook.stopped  # the app stops every connector it started
