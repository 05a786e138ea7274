"""Banning a client (spam): their further messages are stored, never posted, and wake
nothing (core.ingest reads the ban with the dialog); `unban` lets them through again."""

from __future__ import annotations

from dataclasses import dataclass

from tortoise.transactions import in_transaction

from core import eventlog
from core.context import CoreContext
from core.dialogs import DialogService
from core.events import ClientChanged, CoreEvent
from core.lifecycle import Action, DialogStatus
from core.models import ActorKind, Client, Dialog, Event, Message, MessageKind, Operator

BANNED = "client.banned"
UNBANNED = "client.unbanned"


@dataclass(frozen=True)
class BanResult:
    changed: bool
    # /unban: how many messages the client sent while banned (stored, not posted).
    held: int = 0


class BanService:
    def __init__(self, ctx: CoreContext, dialogs: DialogService) -> None:
        self.ctx = ctx
        self.dialogs = dialogs

    async def ban(self, dialog_id: int, actor: Operator) -> BanResult:
        """Ban the dialog's client and close the dialog; nothing when banned already."""
        now = self.ctx.clock.now()
        events: list[CoreEvent] = []
        async with in_transaction():
            dialog = await Dialog.select_for_update().get(id=dialog_id)
            client_id = dialog.client_id  # type: ignore[attr-defined]
            if not await Client.filter(id=client_id, banned=False).update(banned=True):
                return BanResult(False)
            # What came after it is what came while banned (ids order, a frozen clock not).
            latest = await Message.all().order_by("-id").first()
            await eventlog.record(
                BANNED,
                at=now,
                dialog=dialog,
                actor=actor,
                reason="banned",
                client_id=client_id,
                after_message_id=latest.id if latest else 0,
            )
            if dialog.status is not DialogStatus.CLOSED:
                events += await self.dialogs.change_status(
                    dialog,
                    Action.CLOSE,
                    now=now,
                    actor=actor,
                    actor_kind=ActorKind.OPERATOR,
                    reason="banned",
                )
            events.append(ClientChanged(dialog_id=dialog.id, client_id=client_id, at=now))
            events = await self.ctx.bus.changed(events)
        await self.ctx.bus.publish_all(events)
        return BanResult(True)

    async def unban(self, dialog_id: int, actor: Operator) -> BanResult:
        """Let the client write again; the dialog stays as it is (closed: their next message
        reopens it as any client's would)."""
        now = self.ctx.clock.now()
        async with in_transaction():
            dialog = await Dialog.select_for_update().get(id=dialog_id)
            client_id = dialog.client_id  # type: ignore[attr-defined]
            if not await Client.filter(id=client_id, banned=True).update(banned=False):
                return BanResult(False)
            held = await self.held(client_id)
            await eventlog.record(
                UNBANNED,
                at=now,
                dialog=dialog,
                actor=actor,
                reason="unbanned",
                client_id=client_id,
                held=held,
            )
            changed = ClientChanged(dialog_id=dialog.id, client_id=client_id, at=now)
            events = await self.ctx.bus.changed([changed])
        await self.ctx.bus.publish_all(events)
        return BanResult(True, held)

    @staticmethod
    async def held(client_id: int) -> int:
        """The client's messages stored since their latest ban."""
        banned = (
            await Event.filter(name=BANNED, dialog__client_id=client_id).order_by("-id").first()
        )
        if banned is None:
            return 0
        return await Message.filter(
            dialog__client_id=client_id,
            kind=MessageKind.IN,
            id__gt=int(banned.data.get("after_message_id") or 0),
        ).count()
