"""A client's deals in an outside CRM (amoCRM), as the card shows them.

The card reads the cache only (`Crm.deals_for`): it never waits for the CRM. Reading a
client's deals asks for a refresh when they are older than the source's `refresh_every`
(fire and forget); the source (connectors/amocrm) looks them up in the background and hands
them back (`Crm.store`). Deals that differ from the known ones publish `DealsChanged` (its
durable subscriber queues the card's redraw). A CRM that is slow or down leaves the last
known deals where they are; they are kept in a table, so a restart keeps them too.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import timedelta
from typing import Any, Protocol

from tortoise.transactions import in_transaction

from core.context import CoreContext
from core.events import CoreEvent
from core.health import Health
from core.history import client_family
from core.lifecycle import DialogStatus
from core.models import Client, Contact, ContactKind, CrmDeals, Dialog


@dataclass(frozen=True)
class Deal:
    """One deal as the card shows it: a link to it in the CRM, its stage, its amount."""

    id: int
    name: str
    status: str
    amount: int | None
    currency: str
    url: str
    open: bool = True

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Deal:
        return cls(
            id=int(data["id"]),
            name=str(data.get("name") or ""),
            status=str(data.get("status") or ""),
            amount=None if data.get("amount") is None else int(data["amount"]),
            currency=str(data.get("currency") or ""),
            url=str(data.get("url") or ""),
            open=bool(data.get("open", True)),
        )


@dataclass(frozen=True)
class CrmQuery:
    """Who to look for: the client's phones (E.164), e-mails and name (merged clients'
    contacts too)."""

    client_id: int
    name: str
    phones: tuple[str, ...] = ()
    emails: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class DealsChanged(CoreEvent):
    """A refresh found other deals for the client than the card shows."""

    name = "crm.deals_changed"
    client_id: int


class CrmSource(Protocol):
    """An outside CRM the app runs when it is configured (connectors/amocrm)."""

    name: str
    refresh_every: timedelta

    async def start(self, crm: Crm) -> None: ...

    async def stop(self) -> None: ...

    def wanted(self, client_id: int) -> None:
        """Look the client's deals up soon; returns at once."""

    async def check(self) -> list[str]:
        """What stops it from working, in plain words (empty: it works)."""
        ...


@dataclass(frozen=True)
class CrmSpec:
    """An outside CRM as connectors/registry.py lists it: its settings (a pydantic-settings
    class with its env prefix, like AMOCRM_) and how its source is built from them (None:
    not configured)."""

    settings: type[Any]
    build: Callable[[Any], CrmSource | None]
    title: str

    @property
    def prefix(self) -> str:
        return str(self.settings.model_config.get("env_prefix", ""))

    def variables(self) -> list[str]:
        return [self.prefix + name for name in self.settings.model_fields]


@dataclass
class Crm:
    """What the core holds of the CRM: the last known deals per client (a table: a restart
    keeps them), and the source when one is configured."""

    ctx: CoreContext
    # The source reports its link here (/status, /healthz).
    health: Health | None = None
    source: CrmSource | None = None

    async def deals_for(self, client_id: int) -> list[Deal]:
        """The client's last known deals, at once; asks the source for fresh ones when they
        are older than its refresh period (or never looked up). None without a CRM (not
        even the deals of one configured before)."""
        if self.source is None:
            return []
        row = await CrmDeals.get_or_none(client_id=client_id)
        if not self._fresh(row):
            self.source.wanted(client_id)
        return deals_of(row)

    async def fresh(self, client_id: int) -> bool:
        """Looked up within the refresh period."""
        return self._fresh(await CrmDeals.get_or_none(client_id=client_id))

    def _fresh(self, row: CrmDeals | None) -> bool:
        every = self.source.refresh_every if self.source else timedelta(0)
        return row is not None and self.ctx.clock.now() - row.checked_at < every

    async def query_for(self, client_id: int) -> CrmQuery:
        family = await client_family(client_id)
        client = await Client.get(id=client_id)
        contacts = await Contact.filter(client_id__in=family).order_by("id")
        phones = [c.value for c in contacts if c.kind is ContactKind.PHONE]
        emails = [c.value for c in contacts if c.kind is ContactKind.EMAIL]
        return CrmQuery(client_id, client.name, tuple(phones), tuple(emails))

    async def open_clients(self) -> list[int]:
        """The clients with a dialog that is not closed: their cards are being looked at."""
        ids = (
            await Dialog.exclude(status=DialogStatus.CLOSED)
            .distinct()
            .values_list("client_id", flat=True)
        )
        return sorted({int(i) for i in ids})  # type: ignore[call-overload]

    async def store(self, client_id: int, deals: list[Deal]) -> bool:
        """The deals a refresh found; True (and DealsChanged, so the card is redrawn) when
        they differ from the known ones."""
        now = self.ctx.clock.now()
        found = [asdict(deal) for deal in deals]
        async with in_transaction():
            row = await CrmDeals.get_or_none(client_id=client_id)
            if row is None:
                await CrmDeals.create(client_id=client_id, deals=found, checked_at=now)
                changed = bool(found)  # nothing known, nothing found: the card is the same
            else:
                changed = deals_of(row) != deals
                row.deals, row.checked_at = found, now
                await row.save(update_fields=["deals", "checked_at"])
            if not changed:
                return False
            events = await self.ctx.bus.changed([DealsChanged(at=now, client_id=client_id)])
        await self.ctx.bus.publish_all(events)
        return True

    async def start(self) -> None:
        if self.source is not None:
            await self.source.start(self)

    async def stop(self) -> None:
        if self.source is not None:
            await self.source.stop()


def deals_of(row: CrmDeals | None) -> list[Deal]:
    if row is None:
        return []
    return [Deal.from_json(item) for item in row.deals or [] if isinstance(item, dict)]
