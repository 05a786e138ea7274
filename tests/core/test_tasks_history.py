"""core/tasks.py and core/history.py on every configured database (the 0013 migration's columns
included): a task's rules and its once-only reminder; a history's pages, merged clients, and
notes that are their author's alone."""

from __future__ import annotations

from datetime import timedelta

import pytest

from core.clock import FrozenClock
from core.history import count, entries, page, snapshot
from core.ingest import Sender
from core.models import Channel, Client, ContactKind, Operator, Task
from core.service import Core
from core.tasks import TaskDue, TaskError, client_tasks, operator_tasks
from tests.core.helpers import Recorder, write


async def test_a_task_is_reminded_once_when_due(
    core: Core, clock: FrozenClock, telegram: Channel, operator: Operator, other_operator: Operator
) -> None:
    result = await write(core, telegram)
    due = core.tasks.create(
        result.dialog.id,
        "  call   back ",
        author=operator,
        assignee=other_operator,
        due_at=clock.now() + timedelta(hours=1),
    )
    task = await due
    assert task.title == "call back"
    reminders = Recorder()
    core.bus.subscribe(TaskDue, reminders)
    assert await core.remind_due_tasks() == 0
    clock.advance(timedelta(hours=1))
    assert await core.remind_due_tasks() == 1
    assert await core.remind_due_tasks() == 0
    assert [e.task_id for e in reminders.events] == [task.id]  # type: ignore[attr-defined]
    # Done: in lists after the open ones, with who did it; twice done is one change.
    undated = await core.tasks.create(
        result.dialog.id, "undated", author=operator, assignee=other_operator
    )
    assert (await core.tasks.done(task.id, operator))[1]
    assert not (await core.tasks.done(task.id, operator))[1]
    listed = await client_tasks(result.dialog.client_id)  # type: ignore[attr-defined]
    assert [t.id for t in listed] == [undated.id, task.id]
    assert (await Task.get(id=task.id)).done_by_id == operator.id  # type: ignore[attr-defined]
    assert [t.id for t in await operator_tasks(other_operator.id)] == [undated.id, task.id]


async def test_a_task_without_a_title_or_due_in_the_past_is_refused(
    core: Core, clock: FrozenClock, telegram: Channel, operator: Operator
) -> None:
    result = await write(core, telegram)
    for title, due, reason in (
        ("   ", None, "empty"),
        ("call", clock.now() - timedelta(minutes=1), "past"),
        ("call", clock.now(), "past"),
    ):
        with pytest.raises(TaskError) as error:
            await core.tasks.create(
                result.dialog.id, title, author=operator, assignee=operator, due_at=due
            )
        assert error.value.reason == reason
    assert await Task.all().count() == 0


async def test_history_pages_merged_clients_and_only_the_askers_notes(
    core: Core, clock: FrozenClock, telegram: Channel, operator: Operator, other_operator: Operator
) -> None:
    first = await write(core, telegram, "ann", text="ann 0")
    for n in range(1, 5):
        clock.advance(timedelta(minutes=1))
        await write(core, telegram, "ann", text=f"ann {n}")
    clock.advance(timedelta(minutes=1))
    other = await write(
        core, telegram, "bob", text="bob 0", sender=Sender(ContactKind.TELEGRAM, "43", "Bob")
    )
    await core.conversation.note(first.dialog.id, operator, "mine")
    await core.conversation.note(first.dialog.id, other_operator, "theirs")
    ann = first.dialog.client_id  # type: ignore[attr-defined]
    bob = other.dialog.client_id  # type: ignore[attr-defined]
    assert ann != bob
    await Client.filter(id=bob).update(merged_into_id=ann)

    upto = await snapshot(ann, operator.id)
    shown = [e.key for e in await entries(ann, operator.id, upto)]
    texts = [
        (e.message.text if e.message else e.note.text)  # type: ignore[union-attr]
        for e in await entries(bob, operator.id, upto)  # the merged client's history is one
    ]
    assert texts == ["ann 0", "ann 1", "ann 2", "ann 3", "ann 4", "bob 0", "mine"]
    assert await count(ann, operator.id, upto) == 7
    pages = [await page(ann, operator.id, upto, number, 3) for number in range(3)]
    assert [[e.key for e in p.entries] for p in pages[::-1]] == [shown[:1], shown[1:4], shown[4:]]
    assert [p.has_older for p in pages] == [True, True, False]
    # A message after the snapshot is not on its pages; the next history has it.
    await write(core, telegram, "ann", text="later")
    assert await count(ann, operator.id, upto) == 7
    assert await count(ann, operator.id, await snapshot(ann, operator.id)) == 8
