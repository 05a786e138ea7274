"""The client's deals looked up in amoCRM in the background, one client after another.

A card asks (`wanted`) and never waits; the worker finds the client's amoCRM contacts by
each phone and e-mail (by the name only when those find nobody), reads their deals and the
names of the pipelines' stages, and hands the deals to the core (core/crm.py), which redraws
the card when they changed. While amoCRM fails, the cards keep the last known deals: the
failure is logged once, shown in /status and /healthz, and asked again after a pause.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import re
import time
from datetime import timedelta
from typing import Any

from connectors.amocrm.client import AmoCrmClient, AmoCrmError, Unauthorized
from connectors.amocrm.settings import AmoCrmSettings
from core.crm import Crm, CrmQuery, Deal

log = logging.getLogger(__name__)

LINK = "amoCRM"
# amoCRM's stages every pipeline has: closed and won, closed and lost.
WON, LOST = 142, 143
# The deals kept per client (the card shows three).
KEPT = 10
# After a failure: the next request waits this long, doubling up to the longest.
FIRST_PAUSE, LONGEST_PAUSE = 15.0, 300.0


def digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def same_phone(ours: str, theirs: str) -> bool:
    """The same number however it is written (+7 912 …, 8 (912) …): the last ten digits."""
    a, b = digits(ours), digits(theirs)
    return bool(a and b) and a[-10:] == b[-10:]


def same_name(ours: str, theirs: str) -> bool:
    return " ".join(ours.split()).casefold() == " ".join(theirs.split()).casefold()


def field_values(contact: dict[str, Any], code: str) -> list[str]:
    values: list[str] = []
    for item in contact.get("custom_fields_values") or []:
        if isinstance(item, dict) and item.get("field_code") == code:
            values += [str(v.get("value") or "") for v in item.get("values") or []]
    return values


def lead_ids(contact: dict[str, Any]) -> list[int]:
    leads = (contact.get("_embedded") or {}).get("leads") or []
    return [int(lead["id"]) for lead in leads if isinstance(lead, dict) and "id" in lead]


class AmoCrm:
    """core.crm.CrmSource for amoCRM."""

    name = LINK

    def __init__(self, settings: AmoCrmSettings, client: AmoCrmClient | None = None) -> None:
        self.settings = settings
        self.base_url = settings.BASE_URL.rstrip("/")
        self.refresh_every: timedelta = settings.REFRESH
        self.client = client or AmoCrmClient(self.base_url, settings.TOKEN)
        self.crm: Crm | None = None
        # Cards' requests first (0), then the sweep's (1); each client queued once per level.
        self.queue: asyncio.PriorityQueue[tuple[int, int, int]] = asyncio.PriorityQueue()
        self.queued: set[tuple[int, int]] = set()
        self._order = itertools.count()
        self.tasks: list[asyncio.Task[None]] = []
        self.down = False
        self.pause = FIRST_PAUSE
        # Stage names and the account's currency: asked again after the refresh period.
        self._stages: dict[tuple[int, int], str] = {}
        self._currency = ""
        self._stages_at = float("-inf")

    # ---- core.crm.CrmSource ---------------------------------------------------------------

    async def start(self, crm: Crm) -> None:
        self.crm = crm
        self.tasks = [
            asyncio.create_task(self.run(), name="amoCRM deals"),
            asyncio.create_task(self.sweeping(), name="amoCRM sweep"),
        ]

    async def stop(self) -> None:
        for task in self.tasks:
            task.cancel()
        for task in self.tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self.tasks = []
        await self.client.close()

    def wanted(self, client_id: int, *, soon: bool = True) -> None:
        key = (0 if soon else 1, client_id)
        if key not in self.queued:
            self.queued.add(key)
            self.queue.put_nowait((key[0], next(self._order), client_id))

    async def check(self) -> list[str]:
        """One request (the account): does amoCRM take the token?"""
        try:
            account = await self.client.account()
        except Unauthorized:
            return [
                f"AMOCRM_TOKEN is not accepted by amoCRM at {self.base_url} (401): the token "
                "is wrong, revoked or expired; make a new long-lived token (amoCRM → Settings "
                "→ Integrations → your integration → Keys and scopes) and put it there"
            ]
        except AmoCrmError as error:
            return [
                f"amoCRM at {self.base_url} cannot be asked: {error}; check AMOCRM_BASE_URL "
                "(https://SUBDOMAIN.amocrm.ru) and this machine's connection"
            ]
        finally:
            await self.client.close()
        if not account.get("id"):
            return [
                f"{self.base_url} did not answer as an amoCRM account does: check "
                "AMOCRM_BASE_URL (https://SUBDOMAIN.amocrm.ru)"
            ]
        return []

    # ---- the worker -----------------------------------------------------------------------

    async def sweeping(self) -> None:
        while True:
            await asyncio.sleep(self.refresh_every.total_seconds())
            try:
                await self.sweep()
            except Exception:
                log.exception("amoCRM: the sweep of open dialogs failed")

    async def sweep(self) -> None:
        """The deals of every client with an open dialog, once they are older than the refresh
        period: a card nobody redraws still follows amoCRM (after the cards' own requests)."""
        if self.crm is not None:
            for client_id in await self.crm.open_clients():
                self.wanted(client_id, soon=False)

    async def run(self) -> None:
        while True:
            level, _, client_id = await self.queue.get()
            self.queued.discard((level, client_id))
            try:
                await self.refresh(client_id, soon=level == 0)
            except Exception:
                log.exception("amoCRM: the deals of client %s could not be read", client_id)

    async def refresh(self, client_id: int, *, soon: bool) -> None:
        crm = self.crm
        if crm is None or await crm.fresh(client_id):
            return
        query = await crm.query_for(client_id)
        try:
            deals = await self.deals_of(query)
        except AmoCrmError as error:
            await self.failed(str(error))
            self.wanted(client_id, soon=soon)  # again once amoCRM answers
            await asyncio.sleep(self.pause)
            self.pause = min(self.pause * 2, LONGEST_PAUSE)
            return
        await self.answered()
        await crm.store(client_id, deals)

    async def failed(self, why: str) -> None:
        if not self.down:
            log.warning("%s: %s; cards show the last known deals until it answers", LINK, why)
            self.down = True
        if self.crm is not None and self.crm.health is not None:
            await self.crm.health.failed(LINK, why)

    async def answered(self) -> None:
        if self.down:
            log.info("%s answers again", LINK)
            self.down = False
        self.pause = FIRST_PAUSE
        if self.crm is not None and self.crm.health is not None:
            await self.crm.health.ok(LINK)

    # ---- the lookup -----------------------------------------------------------------------

    async def contacts_of(self, query: CrmQuery) -> list[dict[str, Any]]:
        """The client's amoCRM contacts: by each phone and e-mail, checked (amoCRM's search
        matches parts of words); by the exact name only when those find nobody."""
        found: dict[int, dict[str, Any]] = {}
        for phone in query.phones:
            for contact in await self.client.contacts(digits(phone)):
                if any(same_phone(phone, v) for v in field_values(contact, "PHONE")):
                    found[int(contact["id"])] = contact
        for email in query.emails:
            for contact in await self.client.contacts(email):
                if any(
                    email.casefold() == v.strip().casefold() for v in field_values(contact, "EMAIL")
                ):
                    found[int(contact["id"])] = contact
        name = " ".join(query.name.split())
        if not found and name:
            for contact in await self.client.contacts(name):
                if same_name(query.name, str(contact.get("name") or "")):
                    found[int(contact["id"])] = contact
        return list(found.values())

    async def deals_of(self, query: CrmQuery) -> list[Deal]:
        ids = sorted({i for contact in await self.contacts_of(query) for i in lead_ids(contact)})
        if not ids:
            return []
        leads = [lead for lead in await self.client.leads(ids) if not lead.get("is_deleted")]
        stages = await self.stages()
        leads.sort(key=lambda lead: (is_closed(lead), -int(lead.get("updated_at") or 0)))
        return [self.deal(lead, stages) for lead in leads[:KEPT]]

    async def stages(self) -> dict[tuple[int, int], str]:
        if time.monotonic() - self._stages_at >= self.refresh_every.total_seconds():
            account = await self.client.account()
            self._currency = str(account.get("currency_symbol") or account.get("currency") or "")
            self._stages = await self.client.statuses()
            self._stages_at = time.monotonic()
        return self._stages

    def deal(self, lead: dict[str, Any], stages: dict[tuple[int, int], str]) -> Deal:
        key = (int(lead.get("pipeline_id") or 0), int(lead.get("status_id") or 0))
        price = lead.get("price")
        return Deal(
            id=int(lead["id"]),
            name=str(lead.get("name") or f"#{lead['id']}"),
            status=stages.get(key, ""),
            amount=int(price) if isinstance(price, int | float) and price else None,
            currency=self._currency,
            url=f"{self.base_url}/leads/detail/{lead['id']}",
            open=not is_closed(lead),
        )


def is_closed(lead: dict[str, Any]) -> bool:
    return int(lead.get("status_id") or 0) in (WON, LOST)
