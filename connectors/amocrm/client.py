"""amoCRM's REST API v4, read only, kept under its limit of 7 requests a second.

https://www.amocrm.ru/developers/content/crm_platform/api-reference: a long-lived token as
`Authorization: Bearer`, answers in HAL (`_embedded`), 204 No Content when nothing is found,
401 for a token it does not accept, 429 over the limit (and 403 for an address it blocked
after repeated excess).
"""

from __future__ import annotations

from typing import Any

import aiohttp

from tgapi.limits import SlidingWindow

# amoCRM's documented limit: no more than 7 requests a second (per integration).
REQUESTS_PER_SECOND = 7
# Told 429 anyway (another integration on the same account, say): nothing for this long.
PAUSE_AFTER_429 = 2.0
TIMEOUT = 10.0
# The most ids one leads request carries (amoCRM pages at 250).
LEADS_PER_REQUEST = 50


class AmoCrmError(Exception):
    """amoCRM could not answer; the message says why in a few words."""


class Unauthorized(AmoCrmError):
    """401: the token is wrong, revoked or expired."""


class Forbidden(AmoCrmError):
    """403: the token may not read this, or amoCRM blocked this address for excess."""


class Unavailable(AmoCrmError):
    """Unreachable, too slow, over the limit (429) or failing (5xx): asked again later."""


class AmoCrmClient:
    def __init__(
        self,
        base_url: str,
        token: str,
        window: SlidingWindow | None = None,
        timeout: float = TIMEOUT,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.window = window or SlidingWindow(REQUESTS_PER_SECOND, 1.0)
        self.timeout = timeout
        self._session: aiohttp.ClientSession | None = None

    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                headers={"Authorization": f"Bearer {self.token}"},
                timeout=aiohttp.ClientTimeout(total=self.timeout),
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def get(self, path: str, params: list[tuple[str, str]] | None = None) -> Any:
        """The JSON of one GET (None for 204 No Content), within the limit."""
        taken = await self.window.acquire()
        try:
            return await self._get(path, params or [])
        finally:
            self.window.release(taken)

    async def _get(self, path: str, params: list[tuple[str, str]]) -> Any:
        url = f"{self.base_url}{path}"
        try:
            async with self.session().get(url, params=params) as response:
                if response.status == 204:
                    return None
                if response.status == 401:
                    raise Unauthorized("amoCRM does not accept AMOCRM_TOKEN (401)")
                if response.status == 403:
                    raise Forbidden("amoCRM refused the request (403)")
                if response.status == 429:
                    self.window.block(PAUSE_AFTER_429)
                    raise Unavailable("amoCRM said too many requests (429)")
                if response.status >= 400:
                    raise Unavailable(f"amoCRM answered {response.status} {response.reason}")
                return await response.json(content_type=None)
        except TimeoutError:
            raise Unavailable(f"amoCRM did not answer within {self.timeout:g} s") from None
        except aiohttp.ContentTypeError:
            raise Unavailable("amoCRM answered something other than JSON") from None
        except (aiohttp.ClientError, OSError, ValueError) as error:
            raise Unavailable(f"amoCRM is unreachable ({type(error).__name__})") from None

    async def account(self) -> dict[str, Any]:
        return await self.get("/api/v4/account") or {}

    async def contacts(self, query: str) -> list[dict[str, Any]]:
        """Contacts that match `query` (a phone, an e-mail, a name), each with the ids of
        its deals."""
        found = await self.get("/api/v4/contacts", [("query", query), ("with", "leads")])
        return list(embedded(found, "contacts"))

    async def leads(self, ids: list[int]) -> list[dict[str, Any]]:
        leads: list[dict[str, Any]] = []
        for start in range(0, len(ids), LEADS_PER_REQUEST):
            chunk = ids[start : start + LEADS_PER_REQUEST]
            params = [("filter[id][]", str(i)) for i in chunk]
            params.append(("limit", str(LEADS_PER_REQUEST)))
            leads += embedded(await self.get("/api/v4/leads", params), "leads")
        return leads

    async def statuses(self) -> dict[tuple[int, int], str]:
        """Every stage's name by (pipeline id, status id)."""
        found = await self.get("/api/v4/leads/pipelines")
        names: dict[tuple[int, int], str] = {}
        for pipeline in embedded(found, "pipelines"):
            for status in embedded(pipeline, "statuses"):
                names[(int(pipeline["id"]), int(status["id"]))] = str(status.get("name") or "")
        return names


def embedded(answer: Any, key: str) -> list[dict[str, Any]]:
    """HAL's `_embedded[key]`, or nothing."""
    if not isinstance(answer, dict):
        return []
    items = (answer.get("_embedded") or {}).get(key) or []
    return [item for item in items if isinstance(item, dict)]
