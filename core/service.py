"""The core as one object: what a front end or a connector is handed."""

from __future__ import annotations

from typing import TYPE_CHECKING

from core.adapt import BlobFetchers
from core.automations import Automations
from core.channels import ConnectorRegistry
from core.clock import Clock
from core.context import CoreContext
from core.conversation import ConversationService
from core.crm import Crm
from core.delivery import ClientDelivery
from core.dialogs import DialogService
from core.digests import Digests
from core.events import EventBus
from core.health import Health
from core.inbox import CoreSink, Inbox
from core.ingest import Ingest
from core.outbox import OutboxWorker
from core.sla import Sla
from core.sweeps import remind_due_tasks, wake_due_snoozes
from core.tasks import TaskService
from core.ticker import Ticker

if TYPE_CHECKING:
    from core.blobs import BlobStore


class Core:
    def __init__(self, ctx: CoreContext | None = None, tick_seconds: float = 5.0) -> None:
        self.ctx = ctx or CoreContext()
        self.dialogs = DialogService(self.ctx)
        self.ingest = Ingest(self.ctx, self.dialogs)
        self.conversation = ConversationService(self.ctx)
        self.connectors = ConnectorRegistry()
        # Every inbound event is stored here before its transport is told it arrived.
        self.inbox = Inbox(self.ctx.clock)
        # The links to the outside, as connectors (and the front end) report them.
        self.health = Health(self.ctx.clock)
        self.outbox = OutboxWorker(self.ctx)
        # Who can fetch a file's bytes for a channel that needs them, by source prefix (the
        # front end registers Telegram's: the core knows no Telegram).
        self.fetchers = BlobFetchers()
        ClientDelivery(self.ctx, self.connectors, self.fetchers).install(self.outbox)
        self.ticker = Ticker(tick_seconds)
        self.ticker.every_tick("snoozes", self.wake_due_snoozes)
        self.tasks = TaskService(self.ctx)
        self.ticker.every_tick("task reminders", self.remind_due_tasks)
        # The rules of AUTOMATIONS_FILE (none until the app loads it): core.automations.
        self.automations = Automations(
            self.ctx, self.dialogs, self.conversation, self.outbox, self.ticker
        )
        # Yesterday's numbers for the managers at DIGEST_TIME (the app sets it: `schedule`).
        self.digests = Digests(self.ctx)
        self.ticker.every_tick("digests", self.digests.send_due)
        # The client's deals in an outside CRM (its source is set by the app when configured).
        self.crm = Crm(self.ctx, health=self.health)
        # Service levels (core.sla): targets set by the app; warnings and breaches swept.
        self.sla = Sla(self.ctx)
        self.sla.override = self.automations.sla_override  # the file's `sla:` items
        self.sla.overriding = lambda: self.automations.sets_service_levels
        self.sla.install()
        self.ticker.every_tick("sla", self.sla.sweep)

    @property
    def bus(self) -> EventBus:
        return self.ctx.bus

    @property
    def clock(self) -> Clock:
        return self.ctx.clock

    def sink(self, channel_id: int, blobs: BlobStore | None = None) -> CoreSink:
        """What the connector of the channel `channel_id` is handed at start."""
        return CoreSink(channel_id, self.ingest, self.inbox, self.health, blobs)

    async def wake_due_snoozes(self) -> int:
        return await wake_due_snoozes(self.ctx, self.dialogs)

    async def remind_due_tasks(self) -> int:
        return await remind_due_tasks(self.tasks)

    async def start(self) -> None:
        await self.ticker.start()
        self.outbox.start()
        await self.crm.start()

    async def stop(self) -> None:
        self.ticker.stop()
        await self.crm.stop()
        await self.outbox.stop()
