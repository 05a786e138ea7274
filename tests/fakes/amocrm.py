"""A local amoCRM: the REST API v4 requests eadesk makes, answered as amoCRM documents them
(https://www.amocrm.ru/developers/content/crm_platform/api-reference).

- `Authorization: Bearer TOKEN`; anything else: 401 with a problem+json body;
- more than 7 requests in any second: 429 (amoCRM's limit), counted in `over_limit`;
- GET /api/v4/account; GET /api/v4/contacts?query=…&with=leads (the query matched against
  the name, phones and e-mails, as amoCRM's search matches parts of them); GET
  /api/v4/leads?filter[id][]=…; GET /api/v4/leads/{id}; GET /api/v4/leads/pipelines;
  nothing found: 204 No Content;
- `delay` makes every answer slow; `broken` makes every answer a 500.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

TOKEN = "long-lived-token"
LIMIT = 7


@dataclass
class FakeContact:
    id: int
    name: str
    phones: list[str] = field(default_factory=list)
    emails: list[str] = field(default_factory=list)
    leads: list[int] = field(default_factory=list)


@dataclass
class FakeLead:
    id: int
    name: str
    price: int
    status_id: int
    pipeline_id: int = 1
    updated_at: int = 1_700_000_000
    is_deleted: bool = False


def digits(text: str) -> str:
    return re.sub(r"\D", "", text)


class FakeAmoCrm:
    def __init__(self, token: str = TOKEN) -> None:
        self.token = token
        self.contacts: list[FakeContact] = []
        self.leads: dict[int, FakeLead] = {}
        self.pipelines: list[dict[str, Any]] = [
            {
                "id": 1,
                "name": "Sales",
                "statuses": [
                    (10, "New"),
                    (11, "Negotiation"),
                    (142, "Closed - won"),
                    (143, "Closed - lost"),
                ],
            }
        ]
        self.delay = 0.0
        self.broken = False
        self.requests: list[tuple[float, str, str]] = []  # (when, path, query string)
        self.over_limit = 0
        self._window: deque[float] = deque()
        self.runner: web.AppRunner | None = None
        self.url = ""

    # ---- the data -----------------------------------------------------------------------

    def add_contact(self, name: str, phones=(), emails=(), leads=()) -> FakeContact:
        contact = FakeContact(len(self.contacts) + 1, name, list(phones), list(emails), list(leads))
        self.contacts.append(contact)
        return contact

    def add_lead(self, id: int, name: str, price: int, status_id: int = 10, **more: Any) -> None:
        self.leads[id] = FakeLead(id, name, price, status_id, **more)

    def count(self, path: str | None = None) -> int:
        return sum(1 for _, p, _ in self.requests if path is None or p == path)

    # ---- the server ---------------------------------------------------------------------

    async def start(self) -> str:
        app = web.Application(middlewares=[self.gate])
        app.router.add_get("/api/v4/account", self.account)
        app.router.add_get("/api/v4/contacts", self.contacts_list)
        app.router.add_get("/api/v4/leads/pipelines", self.pipelines_list)
        app.router.add_get("/api/v4/leads/{id:\\d+}", self.lead)
        app.router.add_get("/api/v4/leads", self.leads_list)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        host, port = self.runner.addresses[0][:2]
        self.url = f"http://{host}:{port}"
        return self.url

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None

    @web.middleware
    async def gate(self, request: web.Request, handler: Any) -> web.StreamResponse:
        now = time.monotonic()
        self.requests.append((now, request.path, request.query_string))
        while self._window and self._window[0] <= now - 1.0:
            self._window.popleft()
        self._window.append(now)
        if len(self._window) > LIMIT:
            self.over_limit += 1
            return problem(429, "Too Many Requests")
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return problem(401, "Unauthorized")
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.broken:
            return problem(500, "Internal Server Error")
        return await handler(request)

    async def account(self, request: web.Request) -> web.Response:
        return hal(
            {
                "id": 30896271,
                "name": "Acme",
                "subdomain": "acme",
                "currency": "RUB",
                "currency_symbol": "₽",
                "_links": {"self": {"href": f"{self.url}/api/v4/account"}},
            }
        )

    async def contacts_list(self, request: web.Request) -> web.Response:
        query = request.query.get("query", "").strip().casefold()
        with_leads = "leads" in request.query.get("with", "").split(",")
        found = [c for c in self.contacts if query and self.matches(c, query)]
        if not found:
            return web.Response(status=204)
        return hal(
            {
                "_page": 1,
                "_links": {"self": {"href": f"{self.url}/api/v4/contacts"}},
                "_embedded": {"contacts": [self.contact_json(c, with_leads) for c in found]},
            }
        )

    @staticmethod
    def matches(contact: FakeContact, query: str) -> bool:
        if query in contact.name.casefold():
            return True
        if any(query in email.casefold() for email in contact.emails):
            return True
        wanted = digits(query)
        return len(wanted) >= 5 and any(wanted[-10:] in digits(p) for p in contact.phones)

    def contact_json(self, contact: FakeContact, with_leads: bool) -> dict[str, Any]:
        fields = []
        if contact.phones:
            fields.append(field_json(1, "Телефон", "PHONE", contact.phones))
        if contact.emails:
            fields.append(field_json(2, "Email", "EMAIL", contact.emails))
        body: dict[str, Any] = {
            "id": contact.id,
            "name": contact.name,
            "custom_fields_values": fields or None,
            "account_id": 30896271,
            "_links": {"self": {"href": f"{self.url}/api/v4/contacts/{contact.id}"}},
            "_embedded": {"tags": [], "companies": []},
        }
        if with_leads:
            body["_embedded"]["leads"] = [
                {"id": i, "_links": {"self": {"href": f"{self.url}/api/v4/leads/{i}"}}}
                for i in contact.leads
            ]
        return body

    def lead_json(self, lead: FakeLead) -> dict[str, Any]:
        return {
            "id": lead.id,
            "name": lead.name,
            "price": lead.price,
            "status_id": lead.status_id,
            "pipeline_id": lead.pipeline_id,
            "updated_at": lead.updated_at,
            "closed_at": None,
            "is_deleted": lead.is_deleted,
            "account_id": 30896271,
            "_links": {"self": {"href": f"{self.url}/api/v4/leads/{lead.id}"}},
            "_embedded": {"tags": [], "companies": []},
        }

    async def leads_list(self, request: web.Request) -> web.Response:
        ids = [int(v) for k, v in request.query.items() if k in ("filter[id][]", "filter[id]")]
        found = [self.leads[i] for i in ids if i in self.leads]
        if not found:
            return web.Response(status=204)
        return hal(
            {
                "_page": 1,
                "_links": {"self": {"href": f"{self.url}/api/v4/leads"}},
                "_embedded": {"leads": [self.lead_json(lead) for lead in found]},
            }
        )

    async def lead(self, request: web.Request) -> web.Response:
        lead = self.leads.get(int(request.match_info["id"]))
        return web.Response(status=204) if lead is None else hal(self.lead_json(lead))

    async def pipelines_list(self, request: web.Request) -> web.Response:
        pipelines = [
            {
                "id": p["id"],
                "name": p["name"],
                "sort": 1,
                "is_main": True,
                "_embedded": {
                    "statuses": [
                        {"id": sid, "name": name, "sort": n, "pipeline_id": p["id"], "type": 0}
                        for n, (sid, name) in enumerate(p["statuses"])
                    ]
                },
            }
            for p in self.pipelines
        ]
        return hal({"_total_items": len(pipelines), "_embedded": {"pipelines": pipelines}})


def field_json(field_id: int, name: str, code: str, values: list[str]) -> dict[str, Any]:
    return {
        "field_id": field_id,
        "field_name": name,
        "field_code": code,
        "field_type": "multitext",
        "values": [{"value": v, "enum_code": "WORK"} for v in values],
    }


def hal(body: dict[str, Any]) -> web.Response:
    return web.Response(
        text=json.dumps(body, ensure_ascii=False), content_type="application/hal+json"
    )


def problem(status: int, title: str) -> web.Response:
    body = {"title": title, "type": f"https://httpstatus.es/{status}", "status": status}
    return web.Response(
        status=status, text=json.dumps(body), content_type="application/problem+json"
    )
