"""A client's merged history: every message of every dialog they have (and of the clients merged
into them), newest last, with the asking operator's own notes and nobody else's.

A page is counted back from a snapshot (the newest message and note when the history was first
asked for), so that paging stays put while new messages arrive. Each message is shown once:
one stored row per message, read once (its copies, and the posts that show several messages,
are not messages); a merge moves dialogs, never copies their messages.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from tortoise.queryset import QuerySet

from core.models import Client, Dialog, Message, MessageKind, Note

# What a history shows of the messages: never events, never another operator's notes.
SHOWN_KINDS = (MessageKind.IN, MessageKind.OUT, MessageKind.COMMENT, MessageKind.CALL)


@dataclass(frozen=True)
class Snapshot:
    """The newest message and note a history shows (0: none)."""

    message_id: int
    note_id: int


@dataclass(frozen=True)
class Entry:
    """One line of a history: a message, or the asker's own note (`note` set)."""

    at: datetime
    dialog_id: int
    kind: str  # a MessageKind value ("note" for a personal note)
    message: Message | None = None
    note: Note | None = None

    @property
    def key(self) -> str:
        """ "m<id>" for a message, "n<id>" for a note."""
        if self.message is not None:
            return f"m{self.message.id}"
        assert self.note is not None
        return f"n{self.note.id}"

    @property
    def order(self) -> tuple[datetime, int, int]:
        # Notes after messages of the same moment; ids keep the rest stable.
        if self.message is not None:
            return (self.at, 0, self.message.id)
        assert self.note is not None
        return (self.at, 1, self.note.id)


@dataclass(frozen=True)
class Page:
    entries: list[Entry]  # oldest first
    number: int  # 0: the newest page
    size: int
    total: int

    @property
    def has_older(self) -> bool:
        return (self.number + 1) * self.size < self.total

    @property
    def last(self) -> int:
        """The number of the oldest page."""
        return max((self.total - 1) // self.size, 0)


async def root_client(client_id: int) -> int:
    """The client `client_id` was merged into (through any chain), or itself."""
    seen = {client_id}
    current = client_id
    while True:
        row = await Client.filter(id=current).values_list("merged_into_id", flat=True)
        target = row[0] if row else None
        if target is None or target in seen:
            return current
        seen.add(int(target))  # type: ignore[call-overload]
        current = int(target)  # type: ignore[call-overload]


async def client_family(client_id: int) -> list[int]:
    """The client (as merged: its root) and every client merged into it."""
    root = await root_client(client_id)
    family, frontier = {root}, [root]
    while frontier:
        merged = await Client.filter(merged_into_id__in=frontier).values_list("id", flat=True)
        frontier = [int(i) for i in merged if int(i) not in family]  # type: ignore[call-overload]
        family.update(frontier)
    return sorted(family)


async def dialog_ids(client_id: int) -> list[int]:
    family = await client_family(client_id)
    return [int(i) for i in await Dialog.filter(client_id__in=family).values_list("id", flat=True)]  # type: ignore[call-overload]


async def snapshot(client_id: int, operator_id: int) -> Snapshot:
    """The newest message and note the history of `client_id` shows `operator_id` now."""
    dialogs = await dialog_ids(client_id)
    message = (
        await Message.filter(dialog_id__in=dialogs, kind__in=SHOWN_KINDS).order_by("-id").first()
    )
    note = await Note.filter(dialog_id__in=dialogs, author_id=operator_id).order_by("-id").first()
    return Snapshot(message.id if message else 0, note.id if note else 0)


def _messages(dialogs: list[int], upto: Snapshot) -> QuerySet[Message]:
    return Message.filter(dialog_id__in=dialogs, kind__in=SHOWN_KINDS, id__lte=upto.message_id)


def _notes(dialogs: list[int], operator_id: int, upto: Snapshot) -> QuerySet[Note]:
    # Only the asker's: another operator's note is never read for a history.
    return Note.filter(dialog_id__in=dialogs, author_id=operator_id, id__lte=upto.note_id)


def _merged(messages: list[Message], notes: list[Note]) -> list[Entry]:
    found = [
        Entry(m.created_at, m.dialog_id, m.kind.value, message=m)  # type: ignore[attr-defined]
        for m in messages
    ]
    found += [
        Entry(n.created_at, n.dialog_id, MessageKind.NOTE.value, note=n)  # type: ignore[attr-defined]
        for n in notes
    ]
    found.sort(key=lambda e: e.order)
    return found


async def entries(client_id: int, operator_id: int, upto: Snapshot) -> list[Entry]:
    """The whole history up to `upto`, oldest first (the transcript)."""
    dialogs = await dialog_ids(client_id)
    messages = await _messages(dialogs, upto).order_by("created_at", "id")
    notes = await _notes(dialogs, operator_id, upto).order_by("created_at", "id")
    return _merged(list(messages), list(notes))


async def count(client_id: int, operator_id: int, upto: Snapshot) -> int:
    dialogs = await dialog_ids(client_id)
    return await _messages(dialogs, upto).count() + await _notes(dialogs, operator_id, upto).count()


async def page(
    client_id: int, operator_id: int, upto: Snapshot, number: int, size: int = 10
) -> Page:
    """Page `number` counted back from the newest (0), oldest first within it. Reads only the
    newest (number + 1) * size of each kind: the page's rows are among them."""
    dialogs = await dialog_ids(client_id)
    messages, notes = _messages(dialogs, upto), _notes(dialogs, operator_id, upto)
    total = await messages.count() + await notes.count()
    wanted = (number + 1) * size
    newest = _merged(
        list(await messages.order_by("-created_at", "-id").limit(wanted)),
        list(await notes.order_by("-created_at", "-id").limit(wanted)),
    )[-wanted:]
    shown = newest[: max(len(newest) - number * size, 0)]
    return Page(shown[-size:] if shown else [], number, size, total)
