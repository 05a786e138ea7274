"""Idempotent sweeps over durable state, driven by the ticker."""

from __future__ import annotations

from core.context import CoreContext
from core.dialogs import DialogService
from core.lifecycle import DialogStatus
from core.models import Dialog
from core.tasks import TaskService


async def wake_due_snoozes(ctx: CoreContext, dialogs: DialogService) -> int:
    """Wake every dialog whose snooze has run out, including while the process was down."""
    due = await Dialog.filter(
        status=DialogStatus.SNOOZED, snoozed_until__lte=ctx.clock.now()
    ).values_list("id", flat=True)
    woken = 0
    for dialog_id in due:
        if await dialogs.wake_if_due(int(dialog_id)):  # type: ignore[call-overload]
            woken += 1
    return woken


async def remind_due_tasks(tasks: TaskService) -> int:
    """Remind the assignees of the tasks whose moment came, each task once (also after a
    restart: `reminded_at` is the compare-and-set)."""
    return await tasks.remind_due()
