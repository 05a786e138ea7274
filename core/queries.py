"""Read-only questions the team asks: which dialogs, in what order, with which tags."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from tortoise.exceptions import DoesNotExist
from tortoise.functions import Count

from core.lifecycle import DialogStatus
from core.models import Channel, Client, Contact, Dialog, Message, MessageKind, Tag, Task
from core.prepared import PreparedSelect, PreparedValues


class Sort(StrEnum):
    WAITING = "waiting"  # longest-waiting client first, answered ones last
    ACTIVITY = "activity"  # most recent message first
    AGE = "age"  # oldest dialog first


UNASSIGNED = 0


@dataclass
class DialogQuery:
    statuses: tuple[DialogStatus, ...] = (DialogStatus.OPEN,)
    # None = anyone; UNASSIGNED = nobody; otherwise an operator's id.
    assignee_id: int | None = None
    tags: tuple[str, ...] = ()
    channel_id: int | None = None
    sort: Sort = Sort.WAITING


async def find_dialogs(
    query: DialogQuery, offset: int = 0, limit: int = 10
) -> tuple[list[Dialog], int]:
    rows = Dialog.filter(status__in=list(query.statuses))
    if query.assignee_id == UNASSIGNED:
        rows = rows.filter(assignee_id=None)
    elif query.assignee_id is not None:
        rows = rows.filter(assignee_id=query.assignee_id)
    for name in query.tags:
        tagged = await Dialog.filter(tags__name=name).values_list("id", flat=True)
        rows = rows.filter(id__in=list(tagged))
    if query.channel_id is not None:
        rows = rows.filter(channel_id=query.channel_id)
    total = await rows.count()
    if query.sort is Sort.ACTIVITY:
        ordered = rows.order_by("-last_message_at", "-id")
    elif query.sort is Sort.AGE:
        ordered = rows.order_by("created_at", "id")
    else:
        # SQLite and PostgreSQL put NULLs on different ends: sort the waiting ones apart.
        waiting = await rows.filter(waiting_since__isnull=False).order_by("waiting_since", "id")
        answered = await rows.filter(waiting_since__isnull=True).order_by("-last_message_at", "-id")
        return (waiting + answered)[offset : offset + limit], total
    return list(await ordered.offset(offset).limit(limit)), total


async def other_dialogs(client_id: int, exclude_id: int, limit: int = 3) -> list[Dialog]:
    return list(
        await Dialog.filter(client_id=client_id)
        .exclude(id=exclude_id)
        .order_by("-last_message_at", "-id")
        .limit(limit)
    )


# Built once: read for every card (see core/prepared.py).
_COUNT_OTHER_DIALOGS = PreparedValues(
    Dialog,
    lambda client_id, exclude_id: Dialog.filter(client_id=client_id).exclude(id=exclude_id).count(),
    client_id=int,
    exclude_id=int,
)


async def count_other_dialogs(client_id: int, exclude_id: int) -> int:
    rows = await _COUNT_OTHER_DIALOGS.rows(client_id=client_id, exclude_id=exclude_id)
    return int(rows[0][0]) if rows else 0


async def last_message(dialog_id: int) -> Message | None:
    return (
        await Message.filter(dialog_id=dialog_id, kind__in=[MessageKind.IN, MessageKind.OUT])
        .order_by("-created_at", "-id")
        .first()
    )


async def client_history(client_id: int, limit: int = 15) -> list[Message]:
    """The client's latest messages across all their dialogs, oldest first."""
    latest = (
        await Message.filter(
            dialog__client_id=client_id, kind__in=[MessageKind.IN, MessageKind.OUT]
        )
        .order_by("-created_at", "-id")
        .limit(limit)
    )
    return list(reversed(latest))


async def tag_counts() -> list[tuple[str, int, int]]:
    """(tag, dialogs, open dialogs) for every tag, by name."""
    tags = await Tag.all().annotate(total=Count("dialogs")).order_by("name")
    result = []
    for tag in tags:
        open_count = await Dialog.filter(tags__id=tag.id, status=DialogStatus.OPEN).count()
        result.append((tag.name, int(tag.total), open_count))  # type: ignore[attr-defined]
    return result


# Built once: read for every card (see core/prepared.py).
_TAG_NAMES = PreparedValues(
    Tag,
    lambda dialog_id: Tag.filter(dialogs__id=dialog_id).values_list("name", flat=True),
    dialog_id=int,
)


async def tag_names(dialog_id: int) -> list[str]:
    return sorted(str(row[0]) for row in await _TAG_NAMES.rows(dialog_id=dialog_id))


# Built once: read for every new topic's title and every card (see core/prepared.py).
_WITH_CLIENT_AND_CHANNEL = PreparedSelect(
    Dialog,
    lambda dialog_id: Dialog.filter(id=dialog_id).select_related("client", "channel").limit(1),
    dialog_id=int,
)


async def client_and_channel(dialog: Dialog) -> tuple[Client, Channel]:
    """The dialog's client and channel, in one statement."""
    row = await _WITH_CLIENT_AND_CHANNEL.first(dialog_id=dialog.id)
    if row is None:
        raise DoesNotExist(Dialog)
    return row.client, row.channel


# Built once: read for every card (see core/prepared.py).
_DIALOG_BY_ID = PreparedSelect(
    Dialog, lambda dialog_id: Dialog.filter(id=dialog_id).limit(1), dialog_id=int
)
_CLIENT_CONTACTS = PreparedSelect(
    Contact, lambda client_id: Contact.filter(client_id=client_id).order_by("id"), client_id=int
)
_CLIENT_CHANNELS = PreparedSelect(
    Channel,
    lambda client_id: Channel.filter(dialogs__client_id=client_id).distinct(),
    client_id=int,
)
_OPEN_TASKS = PreparedSelect(
    Task,
    lambda client_id: Task.filter(client_id=client_id, done_at=None).order_by("id"),
    client_id=int,
)


async def dialog_by_id(dialog_id: int) -> Dialog:
    """`Dialog.get(id=…)`, prepared: the card's handler reads it for every card."""
    dialog = await _DIALOG_BY_ID.first(dialog_id=dialog_id)
    if dialog is None:
        raise DoesNotExist(Dialog)
    return dialog


async def client_contacts(client_id: int) -> list[Contact]:
    """The client's contacts, oldest first."""
    return await _CLIENT_CONTACTS.all(client_id=client_id)


async def client_channels(client_id: int) -> list[Channel]:
    """The channels the client has dialogs on, each once."""
    return await _CLIENT_CHANNELS.all(client_id=client_id)


async def open_tasks(client_id: int) -> list[Task]:
    """The client's tasks not done yet, oldest first."""
    return await _OPEN_TASKS.all(client_id=client_id)
