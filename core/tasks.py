"""Tasks: something to do about a client, linked to the dialog it came up in, assigned to an
operator, maybe due at a moment. At that moment the assignee is reminded once: `remind_due` is
an idempotent sweep (compare-and-set on `reminded_at`), so a reminder due while the process was
down comes right after the start, and never twice."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from tortoise.expressions import Q
from tortoise.queryset import QuerySet
from tortoise.transactions import in_transaction

from core import eventlog
from core.context import CoreContext
from core.events import CoreEvent
from core.history import client_family
from core.models import Dialog, Operator, Task

TITLE_LIMIT = 255
# A list shows at most this many tasks (open ones first).
LIST_LIMIT = 30

TaskProblem = Literal["empty", "past"]


class TaskError(ValueError):
    """A task that cannot be made: no title ("empty"), or due in the past ("past")."""

    def __init__(self, reason: TaskProblem) -> None:
        super().__init__(reason)
        self.reason: TaskProblem = reason


@dataclass(frozen=True, kw_only=True)
class TaskChanged(CoreEvent):
    """A task was created, done or reopened (`change`)."""

    name = "task.changed"
    task_id: int
    client_id: int
    change: str


@dataclass(frozen=True, kw_only=True)
class TaskDue(CoreEvent):
    """A task's due moment came: its assignee is to be reminded (once)."""

    name = "task.due"
    task_id: int
    assignee_id: int


def is_overdue(task: Task, now: datetime) -> bool:
    return task.done_at is None and task.due_at is not None and task.due_at <= now


def clean_title(title: str) -> str:
    return " ".join(title.split())[:TITLE_LIMIT]


class TaskService:
    def __init__(self, ctx: CoreContext) -> None:
        self.ctx = ctx

    async def create(
        self,
        dialog_id: int,
        title: str,
        *,
        author: Operator,
        assignee: Operator,
        due_at: datetime | None = None,
    ) -> Task:
        """TaskError for an empty title or a due moment that is not ahead."""
        now = self.ctx.clock.now()
        title = clean_title(title)
        if not title:
            raise TaskError("empty")
        if due_at is not None:
            if due_at.tzinfo is None:
                raise ValueError("a due moment must be timezone-aware")
            if due_at <= now:
                raise TaskError("past")
            # Stored as UTC: SQLite compares times as text.
            due_at = due_at.astimezone(UTC)
        async with in_transaction():
            dialog = await Dialog.get(id=dialog_id)
            task = await Task.create(
                title=title,
                client_id=dialog.client_id,  # type: ignore[attr-defined]
                dialog=dialog,
                assignee=assignee,
                author=author,
                due_at=due_at,
                created_at=now,
            )
            await eventlog.record(
                "task.created",
                at=now,
                dialog=dialog,
                actor=author,
                task_id=task.id,
                title=title,
                assignee_id=assignee.id,
                due_at=due_at.isoformat() if due_at else None,
            )
            events = await self.ctx.bus.changed([self._changed(task, author, now, "created")])
        await self.ctx.bus.publish_all(events)
        return task

    def _changed(
        self, task: Task, actor: Operator | None, now: datetime, change: str
    ) -> TaskChanged:
        return TaskChanged(
            dialog_id=task.dialog_id,  # type: ignore[attr-defined]
            actor_id=actor.id if actor else None,
            at=now,
            task_id=task.id,
            client_id=task.client_id,  # type: ignore[attr-defined]
            change=change,
        )

    async def done(self, task_id: int, actor: Operator) -> tuple[Task | None, bool]:
        """Mark the task done; False when it was done already (or is gone: None)."""
        return await self._set(task_id, actor, done=True)

    async def reopen(self, task_id: int, actor: Operator) -> tuple[Task | None, bool]:
        """Open a done task again; False when it was open already (or is gone: None)."""
        return await self._set(task_id, actor, done=False)

    async def _set(self, task_id: int, actor: Operator, *, done: bool) -> tuple[Task | None, bool]:
        now = self.ctx.clock.now()
        async with in_transaction():
            # Compare-and-set: two presses of Done make one change.
            changed = await Task.filter(id=task_id, done_at__isnull=done).update(
                done_at=now if done else None, done_by_id=actor.id if done else None
            )
            task = await Task.get_or_none(id=task_id)
            if task is None or not changed:
                return task, False
            change = "done" if done else "reopened"
            await eventlog.record(
                f"task.{change}",
                at=now,
                dialog=await Dialog.get_or_none(id=task.dialog_id) if task.dialog_id else None,  # type: ignore[attr-defined]
                actor=actor,
                task_id=task.id,
            )
            events = await self.ctx.bus.changed([self._changed(task, actor, now, change)])
        await self.ctx.bus.publish_all(events)
        return task, True

    async def remind_due(self) -> int:
        """Remind the assignee of every open task whose moment came (also while the process was
        down); each task once. How many."""
        now = self.ctx.clock.now()
        due = await Task.filter(
            done_at=None, reminded_at=None, due_at__lte=now, assignee_id__isnull=False
        ).values_list("id", "assignee_id")
        reminded = 0
        for task_id, assignee_id in due:
            async with in_transaction():
                taken = await Task.filter(id=task_id, reminded_at=None, done_at=None).update(
                    reminded_at=now
                )
                if not taken:
                    continue
                events = await self.ctx.bus.changed(
                    [TaskDue(at=now, task_id=int(task_id), assignee_id=int(assignee_id))]
                )
            await self.ctx.bus.publish_all(events)
            reminded += 1
        return reminded


async def client_tasks(client_id: int, limit: int = LIST_LIMIT) -> list[Task]:
    """The client's tasks (merged clients' too): open ones first, soonest due first; then
    the done ones, latest first."""
    family = await client_family(client_id)
    return await _listed(Task.filter(client_id__in=family), limit)


async def operator_tasks(operator_id: int, limit: int = LIST_LIMIT) -> list[Task]:
    """The tasks assigned to the operator: open first, then the latest done ones."""
    return await _listed(Task.filter(assignee_id=operator_id), limit)


async def _listed(query: QuerySet[Task], limit: int) -> list[Task]:
    open_ = await query.filter(done_at=None).order_by("id")
    # SQLite and PostgreSQL put NULLs on different ends: the undated ones after, by hand.
    dated = sorted((t for t in open_ if t.due_at), key=lambda t: (t.due_at, t.id))
    undated = [t for t in open_ if not t.due_at]
    done = await query.filter(~Q(done_at=None)).order_by("-done_at", "-id").limit(limit)
    return (dated + undated + list(done))[:limit]
