"""The core as one object: what a front end or a connector is handed."""

from __future__ import annotations

from core.clock import Clock
from core.connector import ConnectorRegistry
from core.context import CoreContext
from core.conversation import ConversationService
from core.delivery import ClientDelivery
from core.dialogs import DialogService
from core.events import EventBus
from core.ingest import Ingest
from core.outbox import OutboxWorker
from core.sweeps import wake_due_snoozes
from core.ticker import Ticker


class Core:
    def __init__(self, ctx: CoreContext | None = None, tick_seconds: float = 5.0) -> None:
        self.ctx = ctx or CoreContext()
        self.dialogs = DialogService(self.ctx)
        self.ingest = Ingest(self.ctx, self.dialogs)
        self.conversation = ConversationService(self.ctx)
        self.connectors = ConnectorRegistry()
        self.outbox = OutboxWorker(self.ctx)
        ClientDelivery(self.ctx, self.connectors).install(self.outbox)
        self.ticker = Ticker(tick_seconds)
        self.ticker.every_tick("snoozes", self.wake_due_snoozes)

    @property
    def bus(self) -> EventBus:
        return self.ctx.bus

    @property
    def clock(self) -> Clock:
        return self.ctx.clock

    async def wake_due_snoozes(self) -> int:
        return await wake_due_snoozes(self.ctx, self.dialogs)

    async def start(self) -> None:
        await self.ticker.start()
        self.outbox.start()

    async def stop(self) -> None:
        self.ticker.stop()
        await self.outbox.stop()
