"""Bot API requests as one JSON body.

aiogram's session sends every call as multipart/form-data: each parameter a part of its own,
every nested one (entities, a keyboard, reply parameters) serialized to JSON on its own. The
Bot API takes an application/json body as well; a call without files goes so here — one
`json.dumps`, no multipart encoding (about a third of what a call cost eadesk's CPU in the
bench's profile, the form and its encoding). A call that uploads a file goes as a form, as
before.
"""

from __future__ import annotations

from typing import Any, cast

from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.exceptions import TelegramNetworkError
from aiogram.methods import TelegramMethod
from aiogram.methods.base import TelegramType
from aiogram.types import InputFile
from aiohttp import ClientError, ClientTimeout

_JSON = {"Content-Type": "application/json"}


class JsonSession(AiohttpSession):
    def json_body(self, bot: Bot, method: TelegramMethod[Any]) -> str | None:
        """The call's parameters as one JSON object; None when it uploads a file."""
        files: dict[str, InputFile] = {}
        body: dict[str, Any] = {}
        for key, value in method.model_dump(warnings=False).items():
            prepared = self.prepare_value(value, bot=bot, files=files, _dumps_json=False)
            # As the form leaves out: no value, or an empty string.
            if prepared is None or prepared == "":
                continue
            body[key] = prepared
        if files:
            return None
        return cast(str, self.json_dumps(body))

    async def make_request(
        self,
        bot: Bot,
        method: TelegramMethod[TelegramType],
        timeout: int | None = None,  # noqa: ASYNC109 - aiogram's signature
    ) -> TelegramType:
        body = self.json_body(bot, method)
        if body is None:
            return await super().make_request(bot, method, timeout)
        session = await self.create_session()
        url = self.api.api_url(token=bot.token, method=method.__api_method__)
        try:
            async with session.post(
                url,
                data=body.encode(),
                headers=_JSON,
                timeout=ClientTimeout(total=self.timeout if timeout is None else timeout),
            ) as resp:
                raw_result = await resp.text()
        except TimeoutError as e:
            raise TelegramNetworkError(method=method, message="Request timeout error") from e
        except ClientError as e:
            raise TelegramNetworkError(method=method, message=f"{type(e).__name__}: {e}") from e
        response = self.check_response(
            bot=bot, method=method, status_code=resp.status, content=raw_result
        )
        return cast(TelegramType, response.result)
