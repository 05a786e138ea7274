"""Outbox handlers that hand operator replies to the dialog's connector."""

from __future__ import annotations

from typing import Any

from tortoise.transactions import in_transaction

from core import eventlog
from core.connector import (
    ConnectorRegistry,
    DeliveryError,
    RecipientUnreachable,
    UnknownChannel,
)
from core.context import CoreContext
from core.conversation import EDIT_AT_CLIENT, SEND_TO_CLIENT
from core.events import DeliveryFailed
from core.models import Dialog, Message, MessageKind, MessageRef, OutboxItem, fit_key
from core.outbox import GiveUp, OutboxWorker, RetryLater, backoff


class ClientDelivery:
    def __init__(self, ctx: CoreContext, registry: ConnectorRegistry) -> None:
        self.ctx = ctx
        self.registry = registry

    def install(self, worker: OutboxWorker) -> None:
        worker.handle(SEND_TO_CLIENT, self.send)
        worker.handle(EDIT_AT_CLIENT, self.edit)

    async def send(self, item: OutboxItem) -> dict[str, Any]:
        message = await Message.get(id=item.payload["message_id"])
        if message.delivered_at is not None:
            return {"already": True}
        if message.kind is not MessageKind.OUT:
            return {"withdrawn": True}  # became a comment before it went out
        dialog = await Dialog.get(id=message.dialog_id)  # type: ignore[attr-defined]
        album = await self.album_of(message)
        if album and await self.album_is_comment(message):
            # A part of it turned out a comment (`// …` on any caption): none of it goes.
            async with in_transaction():
                for part in album:
                    part.kind = MessageKind.COMMENT
                    await part.save(update_fields=["kind"])
            return {"withdrawn": True}
        if album:
            message = merge_album(album)
        reply_id = message.reply_to_id  # type: ignore[attr-defined]
        reply_to = await Message.get_or_none(id=reply_id) if reply_id else None
        try:
            connector = self.registry.for_dialog(dialog)
            sent = await connector.send(dialog, message, reply_to)
        except UnknownChannel as exc:
            raise RetryLater(60, str(exc)) from exc
        except DeliveryError as exc:
            if not exc.permanent:
                raise retry_later(item, exc) from exc
            await self._failed(dialog, message, exc)
            raise GiveUp(exc.reason) from exc
        now = self.ctx.clock.now()
        parts = album or [message]
        async with in_transaction():
            for part in parts:
                part.delivered_at = now
                await part.save(update_fields=["delivered_at"])
            await remember_refs(dialog, parts, sent.external_ids)
        return {"external_ids": sent.external_ids}

    async def album_of(self, message: Message) -> list[Message]:
        """The undelivered parts of the album this message belongs to, in order."""
        if not message.album_key:
            return []
        return await Message.filter(
            dialog_id=message.dialog_id,  # type: ignore[attr-defined]
            kind=message.kind,
            album_key=message.album_key,
            delivered_at=None,
        ).order_by("id")

    async def album_is_comment(self, message: Message) -> bool:
        return await Message.exists(
            dialog_id=message.dialog_id,  # type: ignore[attr-defined]
            album_key=message.album_key,
            kind=MessageKind.COMMENT,
        )

    async def edit(self, item: OutboxItem) -> None:
        message = await Message.get(id=item.payload["message_id"])
        dialog = await Dialog.get(id=message.dialog_id)  # type: ignore[attr-defined]
        try:
            sent = await self.registry.for_dialog(dialog).edit(dialog, message)
        except DeliveryError as exc:
            if not exc.permanent:
                raise retry_later(item, exc) from exc
            raise GiveUp(exc.reason) from exc
        if sent is not None:
            # The edit may have added parts: a reply to those finds the message too.
            await remember_refs(dialog, [message], sent.external_ids)

    async def _failed(self, dialog: Dialog, message: Message, exc: DeliveryError) -> None:
        now = self.ctx.clock.now()

        message.failed_reason = exc.reason[:255]
        await message.save(update_fields=["failed_reason"])
        if isinstance(exc, RecipientUnreachable) and not dialog.unreachable:
            dialog.unreachable = True
            await dialog.save(update_fields=["unreachable"])
            await eventlog.record("dialog.unreachable", at=now, dialog=dialog, reason=exc.reason)
        await self.ctx.bus.publish(
            DeliveryFailed(dialog_id=dialog.id, at=now, message_id=message.id, reason=exc.reason)
        )


async def remember_refs(dialog: Dialog, parts: list[Message], external_ids: list[str]) -> None:
    """The ids the channel gave what the client now sees, so that a client's reply to any of
    them finds the message: an album's items part by part, the rest (a long text's parts, a
    caption that went as text) to the first."""
    for index, external_id in enumerate(external_ids):
        part = parts[index] if index < len(parts) else parts[0]
        await MessageRef.get_or_create(
            dialog_id=dialog.id,
            external_id=fit_key(external_id, 255),
            defaults={"message_id": part.id},
        )


def retry_later(item: OutboxItem, exc: DeliveryError) -> RetryLater:
    """A channel's retry_after (Telegram's 429) is a wait for its budget, not a failed
    attempt: it is honoured exactly and never escalates the backoff nor uses up attempts."""
    if exc.retry_after:
        return RetryLater(exc.retry_after, exc.reason, waiting=True)
    return RetryLater(backoff(item.attempts + 1), exc.reason)


def merge_album(parts: list[Message]) -> Message:
    """An album is sent as one message: all attachments, the first caption, joined refs."""
    first = parts[0]
    meta = dict(first.meta)
    ids = [i for p in parts for i in p.meta.get("team_message_ids", [])]
    if ids:
        meta["team_message_ids"] = ids
    text_part = next((p for p in parts if p.text), first)
    merged = Message(
        id=first.id,
        dialog_id=first.dialog_id,  # type: ignore[attr-defined]
        kind=first.kind,
        text=text_part.text,
        entities=text_part.entities,
        attachments=[a for p in parts for a in p.attachments],
        album_key=first.album_key,
        meta=meta,
        created_at=first.created_at,
    )
    merged._saved_in_db = True
    return merged
