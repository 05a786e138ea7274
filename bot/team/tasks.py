"""Tasks: `/task title [@user] [due]` in a topic, `/tasks` (a topic: the client's; private: my
own), *Done* and *Reopen* under each, and the reminder the assignee gets in private when a
task's moment comes (core/tasks.py sweeps for it; the reminder is an outbox row)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Literal
from zoneinfo import ZoneInfo

from aiogram import Router
from aiogram.exceptions import TelegramForbiddenError
from aiogram.filters import Command, CommandObject
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message

from bot import snooze as when
from bot.callbacks import TaskData
from bot.group.rows import queue_notice
from bot.i18n import pick_language, t
from bot.storage import topic_link
from bot.team.answers import quietly
from bot.team.assign import not_assignable
from bot.team.context import Team, group_router
from bot.team.group_answers import queue_edit
from bot.team.lines import local
from bot.team.links import topic_url
from bot.team.richtext import Rich
from bot.team.steps import done, mark, update_key
from core.assignment import find_operator
from core.context import CoreContext
from core.models import Dialog, Operator, OutboxItem, OutboxStatus, Task
from core.outbox import GiveUp, Priority, enqueue
from core.tasks import (
    TaskChanged,
    TaskDue,
    TaskError,
    client_tasks,
    is_overdue,
    operator_tasks,
)
from tgapi.errors import call

PRIVATE_TASK_DUE = "private.task_due"
MENTION = re.compile(r"@\w{1,64}")
# The longest due phrase tried at the end of the title ("25.12.2026 10:00", "next mon at 9").
DUE_WORDS = 5
View = Literal["c", "m", "o"]

FormProblem = Literal["empty", "past", "two_users"]


class TaskFormError(ValueError):
    def __init__(self, reason: FormProblem) -> None:
        super().__init__(reason)
        self.reason: FormProblem = reason


@dataclass(frozen=True)
class TaskRequest:
    title: str
    mention: str | None
    due: datetime | None


def parse_task(text: str, now: datetime, tz: ZoneInfo) -> TaskRequest:
    """`title [@user] [due]`: the @user anywhere after the title, the due moment (in /snooze's
    forms) at the end — the longest ending that reads as a moment. TaskFormError: no title,
    two @users, or an ending that is a moment already past."""
    words = text.split()
    mentions = [w for w in words if MENTION.fullmatch(w)]
    if len(mentions) > 1:
        raise TaskFormError("two_users")
    words = [w for w in words if w not in mentions]
    due = None
    for count in range(min(DUE_WORDS, len(words)), 0, -1):
        try:
            moment = when.parse_snooze(" ".join(words[-count:]), now, tz)
        except when.SnoozeError as error:
            if error.reason == "past":
                raise TaskFormError("past") from None
            continue
        if moment is when.FOREVER:
            continue
        due, words = moment, words[:-count]
        break
    title = " ".join(words)
    if not title:
        raise TaskFormError("empty")
    return TaskRequest(title, mentions[0] if mentions else None, due)


def buttons(tasks: list[Task], view: View, lang: str) -> InlineKeyboardMarkup:
    """One button per task: ✅ N for an open one, ↩️ N for a done one."""
    row: list[InlineKeyboardButton] = []
    rows = []
    for number, task in enumerate(tasks, 1):
        action: Literal["done", "reopen"] = "done" if task.done_at is None else "reopen"
        label = t(f"tasks.button_{action}", lang, n=number if len(tasks) > 1 else "")
        data = TaskData(action=action, task_id=task.id, view=view).pack()
        row.append(InlineKeyboardButton(text=label.strip(), callback_data=data))
        if len(row) == 4:
            rows.append(row)
            row = []
    if row:
        rows.append(row)
    return InlineKeyboardMarkup(inline_keyboard=rows)


class Tasks:
    def __init__(self, team: Team) -> None:
        self.team = team
        self.core = team.core

    @property
    def tz(self) -> ZoneInfo:
        tz: ZoneInfo = self.team.settings.tz
        return tz

    def install(self) -> None:
        self.core.outbox.handle(PRIVATE_TASK_DUE, self.send_reminder)
        # Durable: the reminder is queued in the transaction that marked the task reminded.
        self.core.bus.on_change(TaskDue, self.on_due)
        self.core.bus.on_change(TaskChanged, self.on_changed)

    async def on_due(self, event: TaskDue) -> None:
        await queue_private(self.core.ctx, event.task_id, event.assignee_id, "due")

    async def on_changed(self, event: TaskChanged) -> None:
        # A task someone else gave you: told in private (your own needs no notice).
        if event.change != "created":
            return
        task = await Task.get(id=event.task_id)
        assignee_id = task.assignee_id  # type: ignore[attr-defined]
        if assignee_id and assignee_id != event.actor_id:
            await queue_private(self.core.ctx, task.id, assignee_id, "given")

    # ---- what a task looks like ---------------------------------------------------------------

    async def name_of(self, operator_id: int | None) -> str:
        if not operator_id:
            return "—"
        operator = await Operator.get_or_none(id=operator_id)
        return operator.name if operator else "—"

    async def add_line(
        self, rich: Rich, task: Task, number: int | None, lang: str, *, link: bool
    ) -> None:
        now = self.core.clock.now()
        mark_ = "✅" if task.done_at else ("⏰" if is_overdue(task, now) else "☐")
        rich.line(f"{number}. " if number else "").add(f"{mark_} ")
        rich.add(task.title, bold=task.done_at is None)
        facts = [f"👤 {await self.name_of(task.assignee_id)}"]  # type: ignore[attr-defined]
        if task.due_at and not task.done_at:
            key = "tasks.overdue" if is_overdue(task, now) else "tasks.due"
            facts.append(t(key, lang, when=local(task.due_at, self.tz, now)))
        if task.done_at:
            who = await self.name_of(task.done_by_id)  # type: ignore[attr-defined]
            facts.append(t("tasks.done_by", lang, name=who, when=local(task.done_at, self.tz, now)))
        rich.add(" — " + " · ".join(facts))
        if link and task.dialog_id:  # type: ignore[attr-defined]
            topic = await topic_link(task.dialog_id)  # type: ignore[attr-defined]
            if topic is not None:
                rich.add(" · ").add(topic.title, url=topic_url(self.team.chat_id, topic.thread_id))

    async def listing(
        self, view: View, owner_id: int, lang: str
    ) -> tuple[Rich, InlineKeyboardMarkup]:
        """The client's tasks (view c, `owner_id` a client) or an operator's (m)."""
        if view == "c":
            tasks = await client_tasks(owner_id)
            title = t("tasks.client_title", lang, count=sum(1 for x in tasks if not x.done_at))
        else:
            tasks = await operator_tasks(owner_id)
            title = t("tasks.my_title", lang, count=sum(1 for x in tasks if not x.done_at))
        rich = Rich().add(title, bold=True)
        if not tasks:
            rich.line(t("tasks.none", lang))
        for number, task in enumerate(tasks, 1):
            if not rich.fits(400):
                break
            await self.add_line(rich, task, number, lang, link=view == "m")
        return rich, buttons(tasks, view, lang)

    async def single(self, task: Task, lang: str, key: str = "tasks.one", **values: str) -> Rich:
        rich = Rich().add(t(key, lang, **values), bold=True)
        await self.add_line(rich, task, None, lang, link=True)
        return rich

    # ---- the reminder -------------------------------------------------------------------------

    async def send_reminder(self, item: OutboxItem) -> None:
        """A task's reminder (`why` "due") or a task given by someone else ("given")."""
        task = await Task.get_or_none(id=item.payload["task_id"])
        operator = await Operator.get_or_none(id=item.payload["operator_id"])
        if task is None or operator is None or task.done_at is not None:
            return  # gone, or done before the reminder went out
        if task.assignee_id != operator.id:  # type: ignore[attr-defined]
            return  # someone else's by now
        if not await self.team.membership.still_on_team(operator.user_id):
            return
        lang = pick_language(operator.language)
        if item.payload.get("why") == "given":
            author = await self.name_of(task.author_id)  # type: ignore[attr-defined]
            rich = await self.single(task, lang, "tasks.given", name=author)
        else:
            rich = await self.single(task, lang, "tasks.reminder")
        try:
            await call(
                self.team.bot.send_message(
                    operator.user_id,
                    rich.text,
                    entities=rich.message_entities(),
                    parse_mode=None,
                    reply_markup=buttons([task], "o", lang),
                )
            )
        except TelegramForbiddenError:
            operator.can_message = False
            await operator.save(update_fields=["can_message"])
            dialog_id = task.dialog_id  # type: ignore[attr-defined]
            if dialog_id and await self.team.desk.gateway.first_time(
                f"start-bot-tasks:{operator.id}"
            ):
                await queue_notice(self.core.ctx, dialog_id, "tasks.start_bot", name=operator.name)
            raise GiveUp("operator has not started the bot") from None


async def queue_private(ctx: CoreContext, task_id: int, operator_id: int, why: str) -> None:
    await enqueue(
        ctx,
        PRIVATE_TASK_DUE,
        {"task_id": task_id, "operator_id": operator_id, "why": why},
        priority=Priority.PRIVATE,
        merge_key=f"task-{why}:{task_id}",
    )


async def resend_missed(ctx: CoreContext, operator: Operator) -> int:
    """After the operator's /start: what could not reach them before (they had not started
    the bot) goes again, for every task still open; how many."""
    failed = await OutboxItem.filter(kind=PRIVATE_TASK_DUE, status=OutboxStatus.FAILED)
    again = 0
    for row in failed:
        payload = row.payload or {}
        if payload.get("operator_id") != operator.id:
            continue
        task = await Task.get_or_none(id=payload.get("task_id") or 0)
        if task is not None and task.done_at is None:
            await queue_private(ctx, task.id, operator.id, str(payload.get("why") or "due"))
            again += 1
        # Settled: sent again, or nothing left to send.
        await OutboxItem.filter(id=row.id, status=OutboxStatus.FAILED).update(
            status=OutboxStatus.SENT, done_at=ctx.wall.now(), result={"resent": True}
        )
    return again


def task_problem(error: TaskFormError | TaskError) -> str:
    return {"empty": "tasks.error_empty", "past": "tasks.error_past"}.get(
        error.reason, "tasks.error_form"
    )


def tasks_group_router(team: Team, tasks: Tasks) -> Router:
    router = group_router("team-tasks", team)
    core = team.core

    @router.message(Command("task"), flags={"dialog": True})
    async def task_command(
        message: Message,
        command: CommandObject,
        operator: Operator,
        lang: str,
        dialog: Dialog,
    ) -> None:
        now = core.clock.now()
        try:
            request = parse_task(command.args or "", now, tasks.tz)
        except TaskFormError as error:
            await team.answer(message, t(task_problem(error), lang) + "\n" + t("tasks.usage", lang))
            return
        assignee = operator
        if request.mention is not None:
            found = await find_operator(request.mention)
            if found is None:
                text = t("tasks.unknown_user", lang, user=request.mention)
                await team.answer(message, text + "\n" + t("tasks.usage", lang))
                return
            if found.id != operator.id:
                problem = await not_assignable(team, found)
                if problem:
                    await team.answer(message, t(problem, lang, name=found.name))
                    return
            assignee = found
        key = update_key(message, "task")
        if await done(key):
            return
        try:
            task = await core.tasks.create(
                dialog.id, request.title, author=operator, assignee=assignee, due_at=request.due
            )
        except TaskError as error:
            await team.answer(message, t(task_problem(error), lang) + "\n" + t("tasks.usage", lang))
            return
        await mark(key, core.clock.now())
        rich = await tasks.single(task, lang, "tasks.created")
        await team.answer(
            message,
            rich.text,
            entities=rich.message_entities(),
            reply_markup=buttons([task], "o", lang),
        )

    @router.message(Command("tasks"), flags={"dialog": "tasks.topic_only"})
    async def tasks_command(message: Message, lang: str, dialog: Dialog) -> None:
        rich, keyboard = await tasks.listing("c", dialog.client_id, lang)  # type: ignore[attr-defined]
        await team.answer(
            message, rich.text, entities=rich.message_entities(), reply_markup=keyboard
        )

    add_task_buttons(router, team, tasks)
    return router


def tasks_private_router(team: Team, tasks: Tasks) -> Router:
    router = Router(name="operator-private-tasks")

    @router.message(Command("tasks"))
    async def my_tasks(message: Message, operator: Operator, lang: str) -> None:
        rich, keyboard = await tasks.listing("m", operator.id, lang)
        await quietly(
            lambda: message.answer(
                rich.text, entities=rich.message_entities(), parse_mode=None, reply_markup=keyboard
            )
        )

    @router.message(Command("task"))
    async def task_in_private(message: Message, lang: str) -> None:
        await quietly(lambda: message.answer(t("tasks.topic_only_create", lang)))

    add_task_buttons(router, team, tasks)
    return router


def add_task_buttons(router: Router, team: Team, tasks: Tasks) -> None:
    core = team.core

    @router.callback_query(TaskData.filter())
    async def task_button(
        query: CallbackQuery, callback_data: TaskData, operator: Operator, lang: str
    ) -> None:
        action = callback_data.action
        change = core.tasks.done if action == "done" else core.tasks.reopen
        task, changed = await change(callback_data.task_id, operator)
        if task is None:
            await quietly(lambda: query.answer(t("tasks.missing", lang), show_alert=True))
            return
        key = f"tasks.{action}" if changed else f"tasks.already_{action}"
        await quietly(lambda: query.answer(t(key, lang, title=task.title[:100])))
        shown = query.message
        if not isinstance(shown, Message):
            return
        view = callback_data.view
        if view == "o":
            rich = await tasks.single(task, lang)
            keyboard = buttons([task], "o", lang)
        elif view == "c":
            rich, keyboard = await tasks.listing("c", task.client_id, lang)  # type: ignore[attr-defined]
        else:
            rich, keyboard = await tasks.listing("m", operator.id, lang)
        if shown.chat.id == team.chat_id:
            # The group's budget: the edit is queued like every answer there.
            await queue_edit(
                core.ctx, shown, rich.text, entities=rich.message_entities(), reply_markup=keyboard
            )
            return
        await quietly(
            lambda: shown.edit_text(
                rich.text, entities=rich.message_entities(), parse_mode=None, reply_markup=keyboard
            ),
            "task list",
        )
