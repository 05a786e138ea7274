"""Where a message is outside eadesk: its copies in each chat (core.models.MessageCopy).

The client's side: what the client's chat shows of an operator's reply (the ids its channel
gave, a long text's parts, an album's items), so that a client's reply to any of them finds
the message. The team's side: a client's message posted into its topic (a coalesced post
shows several messages), an operator's own post there (the message was written as it).

Ids are strings whatever the channel numbers them by; a chat is the team's chat on the team
side and "" on the client's, where the dialog names the chat.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tortoise.queryset import QuerySet

from core.models import CopySide, Message, MessageCopy, fit_key

CLIENT = CopySide.CLIENT
TEAM = CopySide.TEAM

# A copy's data: the post shows something else than the message (a template's "{client}"
# left unfilled): nothing is copied from it to the client.
DIFFERS = "differs"

_ID = MessageCopy._meta.fields_map["external_id"].max_length  # type: ignore[attr-defined]
_CHAT = MessageCopy._meta.fields_map["chat"].max_length  # type: ignore[attr-defined]


def _id(value: str | int) -> str:
    return fit_key(str(value), _ID)


def _chat(value: str | int) -> str:
    return fit_key(str(value), _CHAT)


@dataclass(frozen=True)
class Origin:
    """The team-side post an operator's message was written as: its chat, its ids there (an
    album's items), the source that saw it ("telegram:<bot id>") and facts about it."""

    chat: str
    ids: tuple[str, ...]
    via: str = ""
    data: dict[str, Any] = field(default_factory=dict)


async def record(
    message: Message,
    side: CopySide,
    ids: Sequence[str | int],
    *,
    at: datetime,
    chat: str | int = "",
    via: str = "",
    data: dict[str, Any] | None = None,
) -> None:
    """`message` is also at `ids` in `chat` on `side`, in this order, after what it had
    there already. `data` goes with the first of them. Ids it has there are not added again."""
    await record_all([(message, ids)], side, at=at, chat=chat, via=via, data=data)


async def record_all(
    shown: Sequence[tuple[Message, Sequence[str | int]]],
    side: CopySide,
    *,
    at: datetime,
    chat: str | int = "",
    via: str = "",
    new: bool = False,
    data: dict[str, Any] | None = None,
) -> None:
    """`record` for several messages at once (a coalesced post, an album): one read of what
    they have there already (none when `new`: they have no copy there yet, which the unique
    position keeps true), one insert. `data` goes with each message's first copy."""
    chat = _chat(chat)
    had: dict[int, list[MessageCopy]] = {}
    if not new:
        ids = [message.id for message, _ in shown]
        existing = MessageCopy.filter(message_id__in=ids, side=side, chat=chat)
        for copy in await existing.order_by("position"):
            had.setdefault(copy.message_id, []).append(copy)  # type: ignore[attr-defined]
    rows: list[MessageCopy] = []
    for message, values in shown:
        mine = had.get(message.id, [])
        known = {c.external_id for c in mine}
        position = mine[-1].position + 1 if mine else 0
        first = len(rows)
        for value in values:
            external_id = _id(value)
            if external_id in known:
                continue
            known.add(external_id)
            rows.append(
                MessageCopy(
                    message_id=message.id,
                    dialog_id=message.dialog_id,  # type: ignore[attr-defined]
                    side=side,
                    chat=chat,
                    external_id=external_id,
                    position=position,
                    via=via,
                    created_at=at,
                )
            )
            position += 1
        if data and mine:
            await keep_data(message.id, side, data, chat=chat)  # the facts go with the first
        elif data and len(rows) > first:
            rows[first].data = data
    if rows:
        await MessageCopy.bulk_create(rows)


async def replace(
    message: Message,
    side: CopySide,
    ids: Sequence[str | int],
    *,
    at: datetime,
    chat: str | int = "",
    via: str | None = None,
    data: dict[str, Any] | None = None,
) -> None:
    """`message` is now at exactly `ids` in `chat` on `side` (an edit added or removed parts;
    a post moved). Who made them and the first copy's facts stay unless given anew."""
    chat = _chat(chat)
    had = await of(message.id, side, chat)
    if [c.external_id for c in had] == [_id(i) for i in ids] and data is None and via is None:
        return
    via = via if via is not None else (had[0].via if had else "")
    data = data if data is not None else (had[0].data if had else {})
    await MessageCopy.filter(message_id=message.id, side=side, chat=chat).delete()
    await record(message, side, ids, at=at, chat=chat, via=via, data=data)


async def replace_all(
    messages: Sequence[Message],
    side: CopySide,
    ids: Sequence[str | int],
    *,
    at: datetime,
    chat: str | int = "",
    via: str = "",
) -> None:
    """Each of `messages` is now at exactly `ids` in `chat` on `side` (one post shows them
    all: the pinned card). Two statements for them all; the facts kept with their earlier
    copies (`data`) go with those."""
    if not messages:
        return
    chat = _chat(chat)
    await MessageCopy.filter(message_id__in=[m.id for m in messages], side=side, chat=chat).delete()
    await record_all(
        [(message, ids) for message in messages], side, at=at, chat=chat, via=via, new=True
    )


async def keep_data(
    message_id: int, side: CopySide, data: dict[str, Any], *, chat: str | int = ""
) -> None:
    """New facts about the message's copies (what a send or an edit said): with its first."""
    first = (
        await MessageCopy.filter(message_id=message_id, side=side, chat=_chat(chat))
        .order_by("position")
        .first()
    )
    if first is not None and first.data != data:
        first.data = data
        await first.save(update_fields=["data"])


async def of(message_id: int, side: CopySide, chat: str | int | None = None) -> list[MessageCopy]:
    """The message's copies on `side` (in one chat, or in every one), in order."""
    query = MessageCopy.filter(message_id=message_id, side=side)
    if chat is not None:
        query = query.filter(chat=_chat(chat))
    return list(await query.order_by("chat", "position"))


async def ids_of(message_id: int, side: CopySide, chat: str | int | None = None) -> list[str]:
    """The ids of the message's copies on `side`, in order."""
    return [c.external_id for c in await of(message_id, side, chat)]


async def data_of(message_id: int, side: CopySide, chat: str | int = "") -> dict[str, Any]:
    """The facts kept with the message's copies on `side` (what its send said)."""
    first = (
        await MessageCopy.filter(message_id=message_id, side=side, chat=_chat(chat))
        .order_by("position")
        .first()
    )
    return dict(first.data) if first is not None else {}


async def shown_at(side: CopySide, chat: str | int, external_id: str | int) -> list[int]:
    """The ids of the messages a post shows (several when texts were coalesced), in order."""
    rows = MessageCopy.filter(side=side, chat=_chat(chat), external_id=_id(external_id))
    return sorted(set(await rows.values_list("message_id", flat=True)))  # type: ignore[arg-type]


async def posted(dialog_id: int, side: CopySide, chat: str | int, *, since: int = 0) -> set[int]:
    """The ids of the dialog's messages (from message id `since` on) with a copy in `chat`."""
    rows = posted_query(dialog_id, side, chat, since=since).values_list("message_id", flat=True)
    return set(await rows)  # type: ignore[arg-type]


def posted_query(
    dialog_id: int, side: CopySide, chat: str | int, *, since: int = 0
) -> QuerySet[MessageCopy]:
    """`posted`'s rows as a query, to be part of another (a Subquery of their message_id)."""
    return MessageCopy.filter(
        dialog_id=dialog_id, side=side, chat=_chat(chat), message_id__gte=since
    )


async def find(
    side: CopySide, chat: str | int, external_id: str | int, *, dialog_id: int | None = None
) -> Message | None:
    """The message a post is a copy of (of a coalesced post, its first); in `dialog_id`'s
    dialog only, when given. None: no message is shown there."""
    query = Message.filter(
        copies__side=side, copies__chat=_chat(chat), copies__external_id=_id(external_id)
    )
    if dialog_id is not None:
        query = query.filter(copies__dialog_id=dialog_id)
    return await query.order_by("id").first()


async def find_in_dialog(dialog_id: int, external_id: str | int) -> Message | None:
    """The message of ours a client names by an id their chat gave it (a reply's target)."""
    return (
        await Message.filter(
            copies__dialog_id=dialog_id, copies__side=CLIENT, copies__external_id=_id(external_id)
        )
        .order_by("id")
        .first()
    )


async def find_in_channel(channel_id: int, external_id: str | int) -> Message | None:
    """The message of ours a client names by its id on a channel, in whichever dialog of the
    channel it went (e-mail threading: a Message-ID in In-Reply-To). One indexed query."""
    return (
        await Message.filter(
            copies__side=CLIENT,
            copies__chat="",
            copies__external_id=_id(external_id),
            dialog__channel_id=channel_id,
        )
        .order_by("id")
        .first()
    )


async def in_dialog(dialog_id: int, side: CopySide, chat: str | int = "") -> list[MessageCopy]:
    """Every copy of the dialog's messages on `side` in `chat`, oldest first (a mail thread's
    Message-IDs, with what each send or arrival kept about it)."""
    query = MessageCopy.filter(dialog_id=dialog_id, side=side, chat=_chat(chat))
    return list(await query.order_by("id"))
