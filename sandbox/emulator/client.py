"""A thin async client for the emulator's control API (used by tests, benchmarks, the sandbox)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer

from .server import Emulator


class ControlError(Exception):
    def __init__(self, status: int, body: Any) -> None:
        super().__init__(f"{status}: {body}")
        self.status = status
        self.body = body


class EmulatorClient:
    """A running emulator plus thin async helpers for its control API."""

    def __init__(self, server: Emulator, session: aiohttp.ClientSession) -> None:
        self.server = server
        self.session = session
        self._bots: list[Bot] = []

    @property
    def base_url(self) -> str:
        return self.server.base_url

    def url(self, path: str) -> str:
        return self.base_url + "/" + path.lstrip("/")

    async def request(
        self, http_method: str, path: str, body: Any = None, query: dict[str, Any] | None = None
    ) -> Any:
        params = {k: str(v) for k, v in (query or {}).items() if v is not None}
        async with self.session.request(http_method, self.url(path), json=body, params=params) as r:
            data = await r.json()
            if r.status >= 400:
                raise ControlError(r.status, data)
            return data

    async def post(self, path: str, body: Any = None) -> Any:
        return await self.request("POST", path, body if body is not None else {})

    async def get(self, path: str, **query: Any) -> Any:
        return await self.request("GET", path, None, query)

    # --- aiogram -------------------------------------------------------------------
    def make_bot(self, token: str) -> Bot:
        """A real aiogram Bot talking to this emulator (closed at teardown)."""
        session = AiohttpSession(api=TelegramAPIServer.from_base(self.base_url))
        bot = Bot(token, session=session)
        self._bots.append(bot)
        return bot

    async def aclose(self) -> None:
        await asyncio.gather(*(bot.session.close() for bot in self._bots))

    # --- control helpers ---------------------------------------------------------------
    async def reset(self) -> Any:
        return await self.post("/_emu/reset")

    async def user(self, first_name: str = "User", **fields: Any) -> dict[str, Any]:
        return dict(await self.post("/_emu/users", {"first_name": first_name, **fields}))

    async def bot(
        self, token: str, username: str | None = None, first_name: str | None = None
    ) -> dict[str, Any]:
        body = {"token": token, "username": username, "first_name": first_name}
        return dict(await self.post("/_emu/bots", {k: v for k, v in body.items() if v}))

    async def group(
        self,
        title: str = "Team",
        forum: bool = True,
        members: list[dict[str, Any]] | None = None,
        bots: list[dict[str, Any]] | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        body = {
            "title": title,
            "forum": forum,
            "members": members or [],
            "bots": bots or [],
            **extra,
        }
        return dict(await self.post("/_emu/groups", body))

    async def send(self, from_: int, **body: Any) -> dict[str, Any]:
        """Post as a user: ``send(uid, to_bot="bot1", text="hi")`` or ``chat_id=..``."""
        return dict(await self.post("/_emu/messages", {"from": from_, **body}))

    async def edit(self, from_: int, message_id: int, **body: Any) -> dict[str, Any]:
        return dict(
            await self.post("/_emu/edits", {"from": from_, "message_id": message_id, **body})
        )

    async def callback(self, from_: int, message_id: int, data: str, **body: Any) -> str:
        res = await self.post(
            "/_emu/callbacks", {"from": from_, "message_id": message_id, "data": data, **body}
        )
        return str(res["callback_query_id"])

    async def callback_answer(self, callback_query_id: str) -> dict[str, Any]:
        return dict(await self.get(f"/_emu/callbacks/{callback_query_id}"))

    async def inline(self, from_: int, query: str, **body: Any) -> str:
        res = await self.post("/_emu/inline", {"from": from_, "query": query, **body})
        return str(res["inline_query_id"])

    async def inline_answer(self, inline_query_id: str) -> dict[str, Any]:
        return dict(await self.get(f"/_emu/inline/{inline_query_id}"))

    async def choose(self, inline_query_id: str, result_id: str, **body: Any) -> dict[str, Any]:
        return dict(
            await self.post(
                "/_emu/inline/choose",
                {"inline_query_id": inline_query_id, "result_id": result_id, **body},
            )
        )

    async def member(self, chat_id: int, user_id: int, status: str, **body: Any) -> Any:
        return await self.post(
            "/_emu/members", {"chat_id": chat_id, "user_id": user_id, "status": status, **body}
        )

    async def block(self, from_: int, bot: str, unblock: bool = False) -> Any:
        return await self.post("/_emu/blocks", {"from": from_, "bot": bot, "unblock": unblock})

    async def react(self, from_: int, message_id: int, reaction: list[Any], **body: Any) -> Any:
        return await self.post(
            "/_emu/reactions",
            {"from": from_, "message_id": message_id, "reaction": reaction, **body},
        )

    async def messages(self, chat_id: int, thread_id: int | str | None = None) -> list[Any]:
        return list(await self.get(f"/_emu/chats/{chat_id}/messages", thread_id=thread_id))

    async def private_messages(self, user_id: int, bot_username: str) -> list[Any]:
        return list(await self.get(f"/_emu/users/{user_id}/chats/{bot_username}/messages"))

    async def topics(self, chat_id: int) -> list[Any]:
        return list(await self.get(f"/_emu/chats/{chat_id}/topics"))

    async def calls(self, method: str | None = None, since: float | None = None) -> list[Any]:
        return list(await self.get("/_emu/calls", method=method, since=since))

    async def fault(
        self,
        method: str | None = None,
        error_code: int = 400,
        description: str = "Bad Request: injected fault",
        times: int = 1,
        chat_id: int | None = None,
        retry_after: int | None = None,
        delay: float | None = None,
        drop: bool | None = None,
        raw_body: str | None = None,
    ) -> Any:
        body = {
            "method": method,
            "error_code": error_code,
            "description": description,
            "times": times,
            "chat_id": chat_id,
            "retry_after": retry_after,
            "delay": delay,
            "drop": drop,
            "raw_body": raw_body,
        }
        return await self.post("/_emu/faults", {k: v for k, v in body.items() if v is not None})

    async def limits(self, enabled: bool = True, **values: Any) -> Any:
        return await self.post("/_emu/limits", {"enabled": enabled, **values})

    async def advance(self, seconds: float) -> Any:
        """Move the rate limiter's clock forward (extension: POST /_emu/clock)."""
        return await self.post("/_emu/clock", {"advance": seconds})

    async def wait_for(
        self,
        predicate: Callable[[], Awaitable[Any]] | Callable[[], Any],
        timeout: float = 5.0,  # noqa: ASYNC109
        interval: float = 0.02,
    ) -> Any:
        """Poll ``predicate`` (sync or async) until it returns something truthy."""
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if asyncio.iscoroutine(value) or isinstance(value, Awaitable):
                value = await value
            if value:
                return value
            if time.monotonic() >= deadline:
                raise TimeoutError("wait_for: condition not met in time")
            await asyncio.sleep(interval)
