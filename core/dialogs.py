"""Operator and system actions on dialogs: close, reopen, snooze, wake, assign, tag."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from tortoise.transactions import in_transaction

from core import eventlog, reporting
from core.context import CoreContext
from core.events import AssigneeChanged, CoreEvent, EpisodeStarted, StatusChanged, TagsChanged
from core.lifecycle import Action, DialogStatus, next_status
from core.models import ActorKind, Channel, Dialog, Episode, Operator, ReportKind, Tag


async def current_episode(dialog: Dialog) -> Episode | None:
    return await Episode.filter(dialog_id=dialog.id).order_by("-number").first()


class DialogService:
    def __init__(self, ctx: CoreContext) -> None:
        self.ctx = ctx

    async def _locked(self, dialog_id: int) -> Dialog:
        return await Dialog.select_for_update().get(id=dialog_id)

    async def _publish(self, events: Iterable[CoreEvent]) -> None:
        await self.ctx.bus.publish_all(events)

    async def reopen_episode(
        self, dialog: Dialog, now: datetime, actor: Operator | None, actor_kind: ActorKind
    ) -> tuple[Episode, EpisodeStarted | None]:
        """Inside the reopen window the episode goes on; after it a new one starts (§2)."""
        episode = await current_episode(dialog)
        channel = await Channel.get(id=dialog.channel_id)  # type: ignore[attr-defined]
        window = self.ctx.window_for(channel.window_kind)
        closed_at = dialog.closed_at
        if episode is not None and closed_at is not None and now - closed_at <= window:
            episode.closed_at = None
            await episode.save(update_fields=["closed_at"])
            if actor_kind is ActorKind.CLIENT:
                await reporting.record(
                    self.ctx,
                    ReportKind.CONTINUED,
                    at=now,
                    dialog=dialog,
                    episode=episode,
                    value=max(0, int((now - closed_at).total_seconds())),
                )
            return episode, None
        number = episode.number + 1 if episode else 1
        episode = await Episode.create(dialog=dialog, number=number, started_at=now)
        await eventlog.record(
            "episode.started",
            at=now,
            dialog=dialog,
            episode=episode,
            actor=actor,
            actor_kind=actor_kind,
            reason="reopened after the window",
            number=number,
        )
        await reporting.record(
            self.ctx,
            ReportKind.REOPENED if number > 1 else ReportKind.OPENED,
            at=now,
            dialog=dialog,
            episode=episode,
            operator_id=actor.id if actor else None,
        )
        started = EpisodeStarted(
            dialog_id=dialog.id, episode_id=episode.id, reopening=number > 1, at=now
        )
        return episode, started

    async def change_status(
        self,
        dialog: Dialog,
        action: Action,
        *,
        now: datetime,
        actor: Operator | None,
        actor_kind: ActorKind,
        reason: str,
        snoozed_until: datetime | None = None,
    ) -> list[CoreEvent]:
        """Apply one transition to a locked dialog; returns the events to publish."""
        old = dialog.status
        new = next_status(old, action)
        events: list[CoreEvent] = []
        episode = await current_episode(dialog)
        if old is DialogStatus.CLOSED and new is DialogStatus.OPEN:
            episode, started = await self.reopen_episode(dialog, now, actor, actor_kind)
            if started:
                events.append(started)
        if new is DialogStatus.CLOSED:
            dialog.closed_at = now
            if episode is not None:
                episode.closed_at = now
                await episode.save(update_fields=["closed_at"])
            if old is not DialogStatus.CLOSED:
                await reporting.record(
                    self.ctx,
                    ReportKind.RESOLVED,
                    at=now,
                    dialog=dialog,
                    episode=episode,
                    operator_id=actor.id if actor else None,
                    since=episode.started_at if episode is not None else None,
                )
        if new is DialogStatus.SNOOZED:
            await reporting.record(
                self.ctx,
                ReportKind.SNOOZED,
                at=now,
                dialog=dialog,
                episode=episode,
                operator_id=actor.id if actor else None,
                value=int((snoozed_until - now).total_seconds()) if snoozed_until else None,
            )
        dialog.status = new
        dialog.snoozed_until = snoozed_until if new is DialogStatus.SNOOZED else None
        await dialog.save(update_fields=["status", "snoozed_until", "closed_at"])
        await eventlog.record(
            f"dialog.{action.value}",
            at=now,
            dialog=dialog,
            episode=episode,
            actor=actor,
            actor_kind=actor_kind,
            reason=reason,
            old=old.value,
            new=new.value,
            snoozed_until=snoozed_until.isoformat() if snoozed_until else None,
        )
        events.append(
            StatusChanged(
                dialog_id=dialog.id,
                actor_id=actor.id if actor else None,
                at=now,
                old=old.value,
                new=new.value,
                reason=reason,
                data={"action": action.value},
            )
        )
        return events

    async def _act(
        self,
        dialog_id: int,
        action: Action,
        actor: Operator | None,
        reason: str,
        snoozed_until: datetime | None = None,
    ) -> Dialog:
        now = self.ctx.clock.now()
        kind = ActorKind.OPERATOR if actor else ActorKind.SYSTEM
        async with in_transaction():
            dialog = await self._locked(dialog_id)
            events = await self.change_status(
                dialog,
                action,
                now=now,
                actor=actor,
                actor_kind=kind,
                reason=reason,
                snoozed_until=snoozed_until,
            )
            events = await self.ctx.bus.changed(events)
        await self._publish(events)
        return dialog

    async def close(self, dialog_id: int, actor: Operator | None, reason: str = "") -> Dialog:
        return await self._act(dialog_id, Action.CLOSE, actor, reason or "closed")

    async def reopen(self, dialog_id: int, actor: Operator | None, reason: str = "") -> Dialog:
        return await self._act(dialog_id, Action.REOPEN, actor, reason or "reopened")

    async def snooze(
        self, dialog_id: int, until: datetime | None, actor: Operator | None, reason: str = ""
    ) -> Dialog:
        """Snooze until a moment, or with until=None until the client writes."""
        if until is not None:
            if until.tzinfo is None:
                raise ValueError("a snooze moment must be timezone-aware")
            # Stored as UTC: SQLite compares times as text, so another offset sorts wrong.
            until = until.astimezone(UTC)
        return await self._act(dialog_id, Action.SNOOZE, actor, reason or "snoozed", until)

    async def wake_if_due(self, dialog_id: int) -> bool:
        """Compare-and-set wake-up: safe to call twice, from a sweep or after a restart."""
        now = self.ctx.clock.now()
        async with in_transaction():
            woken = await Dialog.filter(
                id=dialog_id, status=DialogStatus.SNOOZED, snoozed_until__lte=now
            ).update(status=DialogStatus.OPEN, snoozed_until=None)
            if not woken:
                return False
            dialog = await Dialog.get(id=dialog_id)
            await eventlog.record(
                "dialog.wake",
                at=now,
                dialog=dialog,
                episode=await current_episode(dialog),
                reason="snooze ended",
                old=DialogStatus.SNOOZED.value,
                new=DialogStatus.OPEN.value,
            )
            woke = StatusChanged(
                dialog_id=dialog_id,
                at=now,
                old=DialogStatus.SNOOZED.value,
                new=DialogStatus.OPEN.value,
                reason="snooze ended",
                data={"action": Action.WAKE.value},
            )
            events = await self.ctx.bus.changed([woke])
        await self._publish(events)
        return True

    async def assign(
        self, dialog_id: int, operator: Operator | None, actor: Operator | None
    ) -> tuple[Dialog, bool]:
        """Set the responsible operator (None = nobody); False when nothing changed."""
        now = self.ctx.clock.now()
        async with in_transaction():
            dialog = await self._locked(dialog_id)
            old_id = dialog.assignee_id  # type: ignore[attr-defined]
            new_id = operator.id if operator else None
            if old_id == new_id:
                return dialog, False
            dialog.assignee = operator
            await dialog.save(update_fields=["assignee_id"])
            await eventlog.record(
                "dialog.assign" if operator else "dialog.unassign",
                at=now,
                dialog=dialog,
                episode=await current_episode(dialog),
                actor=actor,
                old=old_id,
                new=new_id,
            )
            changed = AssigneeChanged(
                dialog_id=dialog_id,
                actor_id=actor.id if actor else None,
                at=now,
                old_assignee_id=old_id,
                new_assignee_id=new_id,
            )
            events = await self.ctx.bus.changed([changed])
        await self._publish(events)
        return dialog, True

    async def tag(
        self, dialog_id: int, names: Iterable[str], actor: Operator | None
    ) -> tuple[str, ...]:
        now = self.ctx.clock.now()
        wanted = {normalize_tag(n) for n in names} - {""}
        async with in_transaction():
            dialog = await self._locked(dialog_id)
            have = {t.name for t in await dialog.tags.all()}
            added = tuple(sorted(wanted - have))
            for name in added:
                tag, _ = await Tag.get_or_create(name=name)
                await dialog.tags.add(tag)
            events: list[CoreEvent] = []
            if added:
                await eventlog.record("dialog.tag", at=now, dialog=dialog, actor=actor, tags=added)
                tagged = TagsChanged(dialog_id=dialog_id, actor_id=_id(actor), at=now, added=added)
                events = await self.ctx.bus.changed([tagged])
        await self._publish(events)
        return added

    async def untag(
        self, dialog_id: int, names: Iterable[str], actor: Operator | None
    ) -> tuple[str, ...]:
        now = self.ctx.clock.now()
        unwanted = {normalize_tag(n) for n in names}
        async with in_transaction():
            dialog = await self._locked(dialog_id)
            tags = [t for t in await dialog.tags.all() if t.name in unwanted]
            for tag in tags:
                await dialog.tags.remove(tag)
            removed = tuple(sorted(t.name for t in tags))
            events: list[CoreEvent] = []
            if removed:
                await eventlog.record(
                    "dialog.untag", at=now, dialog=dialog, actor=actor, tags=removed
                )
                untagged = TagsChanged(
                    dialog_id=dialog_id, actor_id=_id(actor), at=now, removed=removed
                )
                events = await self.ctx.bus.changed([untagged])
        await self._publish(events)
        return removed


def _id(operator: Operator | None) -> int | None:
    return operator.id if operator else None


def normalize_tag(name: str) -> str:
    return name.strip().lstrip("#").lower()[:64]
