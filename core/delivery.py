"""Outbox handlers that hand operator replies to the dialog's connector.

A reply goes to its connector as `Outgoing` content. A send of several steps (a long text's
parts, an album and its text) reports each finished step; the core keeps them with the
outbox row (`payload["progress"]`), so a retry after a crash or a 429 sends only the rest.
What the connector returns for a later edit (`Sent.data`) is kept with the ids the client's
side gave the message (core.copies).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tortoise.transactions import in_transaction

from core import copies, eventlog
from core.adapt import BlobFetchers, Fitted, LeftOut, Omission, fit, formatting
from core.channels import (
    Connector,
    ConnectorRegistry,
    Copy,
    DeliveryError,
    Outgoing,
    Participant,
    RecipientUnreachable,
    Sent,
    UnknownChannel,
)
from core.context import CoreContext
from core.conversation import EDIT_AT_CLIENT, SEND_TO_CLIENT
from core.events import ContentLeftOut, CoreEvent, DeliveryFailed
from core.models import (
    Dialog,
    Message,
    MessageKind,
    Operator,
    OutboxItem,
)
from core.models import Participant as DialogParticipant
from core.outbox import GiveUp, OutboxWorker, RetryLater, backoff


class ClientDelivery:
    def __init__(
        self, ctx: CoreContext, registry: ConnectorRegistry, fetchers: BlobFetchers | None = None
    ) -> None:
        self.ctx = ctx
        self.registry = registry
        # Who fetches a file's bytes for a channel that needs them (core.adapt).
        self.fetchers = fetchers or BlobFetchers()

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
        try:
            connector = self.registry.for_dialog(dialog)
        except UnknownChannel as exc:
            raise RetryLater(60, str(exc)) from exc
        out = await self.outgoing(dialog, message, connector, item, parts=album)
        parts = album or [message]
        try:
            # What the channel can carry of it; the rest is told to the team.
            fitted = await fit(out.content, connector.capabilities, self.fetchers)
            if not fitted.parts:
                return await self._nothing_to_send(dialog, message, parts, fitted)
            sent = await self.send_parts(connector, out, fitted, item)
        except DeliveryError as exc:
            if not exc.permanent:
                raise retry_later(item, exc) from exc
            await self._failed(dialog, message, exc)
            raise GiveUp(exc.reason) from exc
        now = self.ctx.clock.now()
        async with in_transaction():
            for part in parts:
                part.delivered_at = now
                await part.save(update_fields=["delivered_at"])
            await remember_copies(parts, sent, now)
            events = await self._left_out(dialog, message, fitted.left_out)
        await self.ctx.bus.publish_all(events)
        result: dict[str, Any] = {"external_ids": sent.external_ids}
        if fitted.left_out:
            result["left_out"] = [left.to_json() for left in fitted.left_out]
        return result

    async def send_parts(
        self, connector: Connector, out: Outgoing, fitted: Fitted, item: OutboxItem
    ) -> Sent:
        """The fitted content, each part a message of its own in order (a text over the
        channel's limit); the parts sent are kept with the row (`payload["parts"]`), so a
        retry sends only the rest. The reply target goes with the first."""
        if fitted.changed:
            out.copies = []  # a copy of the operator's own message would carry it all
        if len(fitted.parts) == 1:
            out.content = fitted.parts[0]
            return await connector.send(out)
        done: list[dict[str, Any]] = list(item.payload.get("parts") or [])
        reply_to, out.copies = out.reply_to, []
        for index in range(len(done), len(fitted.parts)):
            out.content = fitted.parts[index]
            out.reply_to = reply_to if index == 0 else []
            sent = await connector.send(out)
            done.append({"ids": sent.external_ids, "data": sent.data})
            rest = {k: v for k, v in item.payload.items() if k != "progress"}
            item.payload = {**rest, "parts": done}
            await item.save(update_fields=["payload"])
            out.done, out.state = [], {}
        return Sent([i for part in done for i in part["ids"]], data=done[0]["data"])

    async def _nothing_to_send(
        self, dialog: Dialog, message: Message, parts: list[Message], fitted: Fitted
    ) -> dict[str, Any]:
        """None of the message is something the channel carries (a sticker alone): the
        client gets nothing, and the team is told what did not go."""
        async with in_transaction():
            for part in parts:
                part.failed_reason = "the channel cannot carry any of it"
                await part.save(update_fields=["failed_reason"])
            events = await self._left_out(dialog, message, fitted.left_out, delivered=False)
        await self.ctx.bus.publish_all(events)
        return {"external_ids": [], "left_out": [left.to_json() for left in fitted.left_out]}

    async def _left_out(
        self, dialog: Dialog, message: Message, left_out: list[LeftOut], delivered: bool = True
    ) -> list[CoreEvent]:
        """Inside the transaction of the delivery: the team's notices are queued with it."""
        if not left_out:
            return []
        event = ContentLeftOut(
            dialog_id=dialog.id,
            at=self.ctx.clock.now(),
            message_id=message.id,
            left_out=tuple(left.to_json() for left in left_out),
            delivered=delivered,
        )
        return await self.ctx.bus.changed([event])

    async def outgoing(
        self,
        dialog: Dialog,
        message: Message,
        connector: Connector,
        item: OutboxItem,
        parts: list[Message] | None = None,
    ) -> Outgoing:
        """The message as its connector gets it (an album's `parts` merged into it), with
        what an earlier attempt already did."""
        progress = item.payload.get("progress") or {}

        async def keep(done: list[list[str]], state: dict[str, Any]) -> None:
            item.payload = {**item.payload, "progress": {"done": done, "state": state}}
            await item.save(update_fields=["payload"])

        author_id = message.author_id  # type: ignore[attr-defined]
        author = await Operator.get_or_none(id=author_id) if author_id else None
        wants_people = connector.capabilities.participants
        return Outgoing(
            message_id=message.id,
            dialog_id=dialog.id,
            chat_key=dialog.chat_key,
            content=message.content,
            reply_to=await reply_ids(message),
            subject=dialog.subject,
            participants=await participants_of(dialog) if wants_people else [],
            done=[list(step) for step in progress.get("done") or []],
            state=dict(progress.get("state") or {}),
            progress=keep,
            author_name=author.name if author else "",
            copies=await team_copies(parts or [message]),
        )

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

    async def edit(self, item: OutboxItem) -> dict[str, Any] | None:
        message = await Message.get(id=item.payload["message_id"])
        dialog = await Dialog.get(id=message.dialog_id)  # type: ignore[attr-defined]
        if message.delivered_at is None:
            return None  # not sent yet (or under way): the send carries the edit
        try:
            connector = self.registry.for_dialog(dialog)
        except UnknownChannel as exc:
            raise RetryLater(60, str(exc)) from exc
        if not connector.capabilities.edits:
            # The client keeps the first version; the team is told so.
            async with in_transaction():
                events = await self._left_out(dialog, message, [LeftOut(Omission.EDIT)])
            await self.ctx.bus.publish_all(events)
            return {"unsupported": True}
        ids = await copy_ids(message)
        data = await copies.data_of(message.id, copies.CLIENT)
        out = await self.outgoing(dialog, message, connector, item)
        # The formatting the channel shows (its parts and files are its own business here).
        out.content = out.content.with_text(
            *formatting(out.content.text, out.content.spans, connector.capabilities)
        )
        try:
            sent = await connector.edit(out, ids, data)
        except DeliveryError as exc:
            if not exc.permanent:
                raise retry_later(item, exc) from exc
            raise GiveUp(exc.reason) from exc
        if sent is not None:
            # The edit may have added parts (a reply to those finds the message too) or
            # removed some.
            await copies.replace(
                message,
                copies.CLIENT,
                sent.external_ids,
                at=self.ctx.clock.now(),
                data=sent.data or None,
            )
        return None

    async def _failed(self, dialog: Dialog, message: Message, exc: DeliveryError) -> None:
        now = self.ctx.clock.now()
        async with in_transaction():
            message.failed_reason = exc.reason[:255]
            await message.save(update_fields=["failed_reason"])
            if isinstance(exc, RecipientUnreachable) and not dialog.unreachable:
                dialog.unreachable = True
                await dialog.save(update_fields=["unreachable"])
                await eventlog.record(
                    "dialog.unreachable", at=now, dialog=dialog, reason=exc.reason
                )
            failed = DeliveryFailed(
                dialog_id=dialog.id, at=now, message_id=message.id, reason=exc.reason
            )
            # The topic's mark and line are queued with the failure.
            events = await self.ctx.bus.changed([failed])
        await self.ctx.bus.publish_all(events)


async def refused_later(ctx: CoreContext, channel_id: int, external_id: str, reason: str) -> bool:
    """A reply of ours that its channel took and the far side refused later (a bounce that
    names it by its id on the channel): marked undelivered, and the team told, once. False:
    no reply of ours has that id, or its failure was told before."""
    message = await copies.find_in_channel(channel_id, external_id)
    if message is None or message.kind is not MessageKind.OUT or message.failed_reason:
        return False
    now = ctx.clock.now()
    async with in_transaction():
        marked = await Message.filter(id=message.id, failed_reason=None).update(
            failed_reason=reason[:255]
        )
        if not marked:
            return False
        failed = DeliveryFailed(
            dialog_id=message.dialog_id,  # type: ignore[attr-defined]
            at=now,
            message_id=message.id,
            reason=reason,
        )
        events = await ctx.bus.changed([failed])
    await ctx.bus.publish_all(events)
    return True


async def copy_ids(message: Message) -> list[str]:
    """The ids the client's side gave this message, in order."""
    return await copies.ids_of(message.id, copies.CLIENT)


async def reply_ids(message: Message) -> list[str]:
    """The external ids of the message `message` answers: a client's message by its own
    id, an earlier reply of ours by the ids its copy got."""
    reply_id = message.reply_to_id  # type: ignore[attr-defined]
    target = await Message.get_or_none(id=reply_id) if reply_id else None
    if target is None:
        return []
    if target.kind is MessageKind.IN:
        return [target.external_id] if target.external_id else []
    return await copy_ids(target)


async def participants_of(dialog: Dialog) -> list[Participant]:
    rows = await DialogParticipant.filter(dialog_id=dialog.id).select_related("contact__client")
    return [
        Participant(
            value=row.contact.value,
            name=row.contact.client.name,
            role=row.role,
            kind=row.contact.kind,
            display=row.contact.display,
        )
        for row in sorted(rows, key=lambda row: row.id)
    ]


async def team_copies(parts: list[Message]) -> list[Copy]:
    """Where the front end has the same message (the operator's post in the team's topic, an
    album's items part by part), under the source that can read those ids. A post that shows
    something else than the message is no copy of it."""
    found: dict[tuple[str, str], list[str]] = {}
    for part in parts:
        for copy in await copies.of(part.id, copies.TEAM):
            if copy.via and not copy.data.get(copies.DIFFERS):
                found.setdefault((copy.via, copy.chat), []).append(copy.external_id)
    return [Copy(source=via, chat=chat, ids=tuple(ids)) for (via, chat), ids in found.items()]


async def remember_copies(parts: list[Message], sent: Sent, at: datetime) -> None:
    """The ids the channel gave what the client now sees, so that a client's reply to any of
    them finds the message: an album's items part by part, the rest (a long text's parts, a
    caption that went as text) to the first, with what the send said for a later edit."""
    ids = sent.external_ids
    for index, part in enumerate(parts):
        mine = ids[index : index + 1] + (ids[len(parts) :] if index == 0 else [])
        data = sent.data if index == 0 else None
        await copies.record(part, copies.CLIENT, mine, at=at, data=data)


def retry_later(item: OutboxItem, exc: DeliveryError) -> RetryLater:
    """A channel's retry_after (Telegram's 429) is a wait for its budget, not a failed
    attempt: it is honoured exactly and never escalates the backoff nor uses up attempts."""
    if exc.retry_after:
        return RetryLater(exc.retry_after, exc.reason, waiting=True)
    return RetryLater(backoff(item.attempts + 1), exc.reason)


def merge_album(parts: list[Message]) -> Message:
    """An album is sent as one message: all attachments, the first caption."""
    first = parts[0]
    text_part = next((p for p in parts if p.text), first)
    merged = Message(
        id=first.id,
        dialog_id=first.dialog_id,  # type: ignore[attr-defined]
        kind=first.kind,
        text=text_part.text,
        spans=text_part.spans,
        attachments=[a for p in parts for a in p.attachments],
        album_key=first.album_key,
        created_at=first.created_at,
    )
    merged._saved_in_db = True
    return merged
