"""The stored domain. Time columns hold UTC; nothing here knows any channel's API."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from enum import Enum, StrEnum
from typing import Any

from tortoise import fields
from tortoise.models import Model
from tortoise.signals import Signals

from core.content import Content, attachments_from_json, spans_from_json
from core.lifecycle import DialogStatus


class ChannelKind(StrEnum):
    TELEGRAM = "telegram"
    TELEGRAM_BUSINESS = "telegram_business"
    EMAIL = "email"
    WEBCHAT = "webchat"
    WHATSAPP = "whatsapp"
    INSTAGRAM = "instagram"
    VK = "vk"
    TELEPHONY = "telephony"


class WindowKind(StrEnum):
    """Which reopen window (§2) a channel kind uses."""

    MESSENGER = "messenger"
    SOCIAL = "social"
    WEBCHAT = "webchat"
    TELEPHONY = "telephony"
    EMAIL = "email"


WINDOW_KIND: dict[ChannelKind, WindowKind] = {
    ChannelKind.TELEGRAM: WindowKind.MESSENGER,
    ChannelKind.TELEGRAM_BUSINESS: WindowKind.MESSENGER,
    ChannelKind.WHATSAPP: WindowKind.MESSENGER,
    ChannelKind.WEBCHAT: WindowKind.WEBCHAT,
    ChannelKind.INSTAGRAM: WindowKind.SOCIAL,
    ChannelKind.VK: WindowKind.SOCIAL,
    ChannelKind.TELEPHONY: WindowKind.TELEPHONY,
    ChannelKind.EMAIL: WindowKind.EMAIL,
}


class ContactKind(StrEnum):
    TELEGRAM = "telegram"
    EMAIL = "email"
    PHONE = "phone"
    WHATSAPP = "whatsapp"
    INSTAGRAM = "instagram"
    VK = "vk"
    WEBCHAT = "webchat"


class MessageKind(StrEnum):
    IN = "in"
    OUT = "out"
    COMMENT = "comment"
    NOTE = "note"
    EVENT = "event"
    CALL = "call"


class ActorKind(StrEnum):
    OPERATOR = "operator"
    CLIENT = "client"
    SYSTEM = "system"
    AUTOMATION = "automation"


class OutboxStatus(StrEnum):
    PENDING = "pending"
    # Its call is under way; a row found so at startup was cut off by a crash or a stop.
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"


class Channel(Model):
    id = fields.IntField(primary_key=True)
    key = fields.CharField(max_length=128, unique=True)
    kind = fields.CharEnumField(ChannelKind, max_length=32)
    name = fields.CharField(max_length=255)
    settings: dict = fields.JSONField(default=dict)
    created_at = fields.DatetimeField()

    @property
    def window_kind(self) -> WindowKind:
        return WINDOW_KIND[self.kind]


class Client(Model):
    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=255)
    description = fields.TextField(default="")
    avatar_ref = fields.CharField(max_length=255, null=True)
    banned = fields.BooleanField(default=False)
    merged_into: fields.ForeignKeyNullableRelation[Client] = fields.ForeignKeyField(
        "core.Client", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    created_at = fields.DatetimeField()


class Contact(Model):
    # One identity of a client on one channel kind; (kind, value) is unique.

    id = fields.IntField(primary_key=True)
    client: fields.ForeignKeyRelation[Client] = fields.ForeignKeyField(
        "core.Client", related_name="contacts", on_delete=fields.CASCADE
    )
    kind = fields.CharEnumField(ContactKind, max_length=32)
    value = fields.CharField(max_length=255)
    display = fields.CharField(max_length=255, default="")
    created_at = fields.DatetimeField()

    class Meta:
        unique_together = (("kind", "value"),)


class Operator(Model):
    # A member of the team: identified by their user id in the team messenger.

    id = fields.IntField(primary_key=True)
    user_id = fields.BigIntField(unique=True)
    username = fields.CharField(max_length=64, null=True)
    name = fields.CharField(max_length=255)
    language = fields.CharField(max_length=8, null=True)
    is_admin = fields.BooleanField(default=False)
    # The team bot may write to them privately only after they started it.
    can_message = fields.BooleanField(default=False)
    active = fields.BooleanField(default=True)
    created_at = fields.DatetimeField()
    # Takes new dialogs from automatic assignment (/duty on|off; on unless they stepped out).
    on_duty = fields.BooleanField(default=True, db_default=True)
    # When automatic assignment last chose them: round robin's turn (core.assignment).
    auto_assigned_at = fields.DatetimeField(null=True)


class Tag(Model):
    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=64, unique=True)


class Dialog(Model):
    id = fields.IntField(primary_key=True)
    client: fields.ForeignKeyRelation[Client] = fields.ForeignKeyField(
        "core.Client", related_name="dialogs", on_delete=fields.CASCADE
    )
    channel: fields.ForeignKeyRelation[Channel] = fields.ForeignKeyField(
        "core.Channel", related_name="dialogs", on_delete=fields.CASCADE
    )
    # The conversation's address on its channel (a chat id, a mail thread, a visitor id).
    chat_key = fields.CharField(max_length=255)
    subject = fields.CharField(max_length=255, default="")
    status = fields.CharEnumField(DialogStatus, max_length=16, default=DialogStatus.OPEN)
    # Snoozed with no moment = until the client writes ("forever").
    snoozed_until = fields.DatetimeField(null=True)
    closed_at = fields.DatetimeField(null=True)
    assignee: fields.ForeignKeyNullableRelation[Operator] = fields.ForeignKeyField(
        "core.Operator", related_name="assigned_dialogs", null=True, on_delete=fields.SET_NULL
    )
    tags: fields.ManyToManyRelation[Tag] = fields.ManyToManyField(
        "core.Tag", related_name="dialogs", through="dialog_tag"
    )
    # The client cannot be reached any more (blocked the bot, unsubscribed).
    unreachable = fields.BooleanField(default=False)
    created_at = fields.DatetimeField()
    last_message_at = fields.DatetimeField()
    # When the oldest unanswered client message arrived; None when answered.
    waiting_since = fields.DatetimeField(null=True)
    # Where the client writes from, as their channel tells it (a web page, the browser's
    # language, a time zone): [[key, value], ...] in the channel's order, shown on the card;
    # replaced when the channel tells something else. None: the channel tells nothing.
    context: list | None = fields.JSONField(null=True)

    episodes: fields.ReverseRelation[Episode]

    class Meta:
        unique_together = (("channel", "chat_key"),)


class Participant(Model):
    # Someone in a dialog's conversation, each a contact of a client: the client who wrote
    # first, and in a client group or an e-mail thread the others on it (members, To/Cc).
    # `role` is the one they had when first seen ("from", "to", "cc", "member").

    id = fields.IntField(primary_key=True)
    dialog: fields.ForeignKeyRelation[Dialog] = fields.ForeignKeyField(
        "core.Dialog", related_name="participants", on_delete=fields.CASCADE
    )
    contact: fields.ForeignKeyRelation[Contact] = fields.ForeignKeyField(
        "core.Contact", related_name="participations", on_delete=fields.CASCADE
    )
    role = fields.CharField(max_length=32, default="member")
    created_at = fields.DatetimeField()

    class Meta:
        unique_together = (("dialog", "contact"),)


class Episode(Model):
    # A dialog's life from its start or re-opening to its close (an "обращение").

    id = fields.IntField(primary_key=True)
    dialog: fields.ForeignKeyRelation[Dialog] = fields.ForeignKeyField(
        "core.Dialog", related_name="episodes", on_delete=fields.CASCADE
    )
    number = fields.IntField()
    started_at = fields.DatetimeField()
    closed_at = fields.DatetimeField(null=True)
    first_response_at = fields.DatetimeField(null=True)

    class Meta:
        unique_together = (("dialog", "number"),)


class Message(Model):
    id = fields.IntField(primary_key=True)
    dialog: fields.ForeignKeyRelation[Dialog] = fields.ForeignKeyField(
        "core.Dialog", related_name="messages", on_delete=fields.CASCADE
    )
    episode: fields.ForeignKeyNullableRelation[Episode] = fields.ForeignKeyField(
        "core.Episode", related_name="messages", null=True, on_delete=fields.SET_NULL
    )
    kind = fields.CharEnumField(MessageKind, max_length=16)
    author: fields.ForeignKeyNullableRelation[Operator] = fields.ForeignKeyField(
        "core.Operator", related_name="messages", null=True, on_delete=fields.SET_NULL
    )
    sender_contact: fields.ForeignKeyNullableRelation[Contact] = fields.ForeignKeyField(
        "core.Contact", related_name="messages", null=True, on_delete=fields.SET_NULL
    )
    sender_name = fields.CharField(max_length=255, default="")
    text = fields.TextField(default="")
    # Formatting of `text` (core.content.Span as JSON, offsets in code points):
    # [{"kind": "bold", "start": 0, "end": 3}, {"kind": "link", ..., "url": "https://…"}]
    spans: list = fields.JSONField(default=list, db_default=[])
    # core.content.Attachment as JSON: [{"kind": "photo", "name": ..., "mime": ..., "size": ...,
    # "blob": ..., "sources": {"telegram:<bot id>": {"file_id": ...}}, "data": {...}}]
    attachments: list = fields.JSONField(default=list)
    album_key = fields.CharField(max_length=64, null=True)
    # A client's message: its id on its channel; (dialog, external_id) makes ingest
    # idempotent. Where our messages are outside eadesk is in MessageCopy.
    external_id = fields.CharField(max_length=255, null=True)
    reply_to: fields.ForeignKeyNullableRelation[Message] = fields.ForeignKeyField(
        "core.Message", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    # The subject a client's message came with, on a channel that has subjects ("" else).
    subject = fields.CharField(max_length=255, default="", db_default="")
    # A client's message as its channel delivered it, when the text shows less of it (a
    # mail whole, with its quotes and headers): core.content.Attachment as JSON, or None.
    original: dict | None = fields.JSONField(null=True)
    # What the channel could not carry into the message (a part it could not read, a file
    # over the limit): [{"key": ..., "values": {...}}], each told in the topic; None: nothing.
    notices: list | None = fields.JSONField(null=True)
    # A client's message a machine wrote (an auto-reply, a mailing list, a bounce): shown,
    # and never answered by anything automatic, or two robots would answer each other.
    automatic = fields.BooleanField(default=False, db_default=False)
    created_at = fields.DatetimeField()
    edited_at = fields.DatetimeField(null=True)
    delivered_at = fields.DatetimeField(null=True)
    failed_reason = fields.CharField(max_length=255, null=True)

    class Meta:
        unique_together = (("dialog", "external_id"),)

    @property
    def content(self) -> Content:
        """What the message says, as the channel-neutral content."""
        return Content(
            text=self.text,
            spans=spans_from_json(self.spans or []),
            attachments=attachments_from_json(self.attachments or []),
        )


class CopySide(StrEnum):
    # The client's side of a dialog (its channel's chat: the dialog names it) or the team's.
    CLIENT = "client"
    TEAM = "team"


class MessageCopy(Model):
    # A message as it appears in a chat outside eadesk, one row per id there, in order: an
    # operator's reply in the client's chat (a long text's parts, an album's items), a
    # client's message posted into the team's topic, an operator's own post in the topic.
    # Several messages may share one id (texts coalesced into one post).

    id = fields.IntField(primary_key=True)
    message: fields.ForeignKeyRelation[Message] = fields.ForeignKeyField(
        "core.Message", related_name="copies", on_delete=fields.CASCADE
    )
    dialog: fields.ForeignKeyRelation[Dialog] = fields.ForeignKeyField(
        "core.Dialog", related_name=False, on_delete=fields.CASCADE
    )
    side = fields.CharEnumField(CopySide, max_length=8)
    # The team's chat on the team side; "" on the client side, where the dialog names it.
    chat = fields.CharField(max_length=64, default="")
    external_id = fields.CharField(max_length=255)
    # The order of the parts of one message in one chat, from 0.
    position = fields.IntField(default=0)
    # Who made it, in the form of an attachment's source ("telegram:<bot id>"): only that
    # bot may edit it (or copy it). An operator's own post: the bot that saw it.
    via = fields.CharField(max_length=64, default="")
    # Facts for later: what the connector said about the client's copy for an edit (which
    # ids hold the text, a caption or not), or that a post shows more than the message.
    data: dict = fields.JSONField(default=dict)
    created_at = fields.DatetimeField()

    class Meta:
        unique_together = (("message", "side", "chat", "position"),)
        indexes = (
            # The messages a post shows (a team post may show several); a client-side id
            # across a channel's dialogs joins the dialog from here (e-mail threading).
            ("side", "chat", "external_id"),
            # A client's reply names one of our copies in its dialog.
            ("dialog_id", "side", "external_id"),
        )


class Note(Model):
    # A personal note: visible to its author alone.

    id = fields.IntField(primary_key=True)
    author: fields.ForeignKeyRelation[Operator] = fields.ForeignKeyField(
        "core.Operator", related_name="notes", on_delete=fields.CASCADE
    )
    dialog: fields.ForeignKeyRelation[Dialog] = fields.ForeignKeyField(
        "core.Dialog", related_name="notes", on_delete=fields.CASCADE
    )
    text = fields.TextField()
    created_at = fields.DatetimeField()
    delivered_at = fields.DatetimeField(null=True)


class Template(Model):
    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=64, unique=True)
    text = fields.TextField(default="")
    # core.content.Attachment as JSON, as in Message.attachments.
    attachments: list = fields.JSONField(default=list)
    created_by: fields.ForeignKeyNullableRelation[Operator] = fields.ForeignKeyField(
        "core.Operator", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    created_at = fields.DatetimeField()

    @property
    def content(self) -> Content:
        """The template as written (its {client} and {operator} not filled in)."""
        return Content(text=self.text, attachments=attachments_from_json(self.attachments or []))


class Task(Model):
    id = fields.IntField(primary_key=True)
    title = fields.CharField(max_length=255)
    client: fields.ForeignKeyRelation[Client] = fields.ForeignKeyField(
        "core.Client", related_name="tasks", on_delete=fields.CASCADE
    )
    dialog: fields.ForeignKeyNullableRelation[Dialog] = fields.ForeignKeyField(
        "core.Dialog", related_name="tasks", null=True, on_delete=fields.SET_NULL
    )
    assignee: fields.ForeignKeyNullableRelation[Operator] = fields.ForeignKeyField(
        "core.Operator", related_name="tasks", null=True, on_delete=fields.SET_NULL
    )
    due_at = fields.DatetimeField(null=True)
    done_at = fields.DatetimeField(null=True)
    # When the assignee was reminded of the due moment (core.tasks: once, by a sweep).
    reminded_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField()
    # Who wrote the task and who marked it done (None: not done, or the operator is gone).
    author: fields.ForeignKeyNullableRelation[Operator] = fields.ForeignKeyField(
        "core.Operator", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    done_by: fields.ForeignKeyNullableRelation[Operator] = fields.ForeignKeyField(
        "core.Operator", related_name=False, null=True, on_delete=fields.SET_NULL
    )


class CrmDeals(Model):
    """A client's deals as an outside CRM (amoCRM) last told them (core/crm.py): the card
    shows these and never waits for the CRM; a restart keeps them."""

    id = fields.IntField(primary_key=True)
    client_id = fields.IntField(unique=True)
    # Each a core.crm.Deal as JSON, in the CRM's order (open deals first).
    deals: list = fields.JSONField(default=list)
    checked_at = fields.DatetimeField()


class Event(Model):
    # The event log: every change with who, when and why. Statistics read this.

    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=64, db_index=True)
    dialog: fields.ForeignKeyNullableRelation[Dialog] = fields.ForeignKeyField(
        "core.Dialog", related_name="events", null=True, on_delete=fields.CASCADE
    )
    episode: fields.ForeignKeyNullableRelation[Episode] = fields.ForeignKeyField(
        "core.Episode", related_name="events", null=True, on_delete=fields.SET_NULL
    )
    actor_kind = fields.CharEnumField(ActorKind, max_length=16)
    actor: fields.ForeignKeyNullableRelation[Operator] = fields.ForeignKeyField(
        "core.Operator", related_name="events", null=True, on_delete=fields.SET_NULL
    )
    reason = fields.CharField(max_length=255, default="")
    data: dict = fields.JSONField(default=dict)
    at = fields.DatetimeField(db_index=True)


class ReportKind(StrEnum):
    # An episode began: a dialog's first (OPENED) or a re-opening after the window (REOPENED).
    OPENED = "opened"
    REOPENED = "reopened"
    # A client wrote within the window after a close: the same episode goes on.
    CONTINUED = "continued"
    # The episode's first operator reply: value = episode start -> the reply.
    FIRST_RESPONSE = "first_response"
    # An operator reply to a waiting client: value = the oldest unanswered message -> reply.
    REPLY_TIME = "reply_time"
    # A close: value = episode start -> the close; operator = who closed (None: the system).
    RESOLVED = "resolved"
    # A snooze: value = how long it was set for (None: until the client writes).
    SNOOZED = "snoozed"
    # A client's satisfaction rating (core.csat): value = 1..5; operator = whom it rates.
    CSAT = "csat"


class ReportEvent(Model):
    # The reporting rows (core.reporting): one per event as it happened, written in the
    # transaction of the change, with its value; reports, SLA and digests read these, never
    # counters. Tags are read at report time from the dialog.

    id = fields.IntField(primary_key=True)
    kind = fields.CharEnumField(ReportKind, max_length=16)
    at = fields.DatetimeField()
    dialog: fields.ForeignKeyRelation[Dialog] = fields.ForeignKeyField(
        "core.Dialog", related_name=False, on_delete=fields.CASCADE
    )
    episode: fields.ForeignKeyNullableRelation[Episode] = fields.ForeignKeyField(
        "core.Episode", related_name=False, null=True, on_delete=fields.CASCADE
    )
    # The dialog's channel, kept here so that reports group by it without a join.
    channel_id = fields.IntField()
    operator: fields.ForeignKeyNullableRelation[Operator] = fields.ForeignKeyField(
        "core.Operator", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    # The operator's reply a response row measures (a withdrawn reply takes its rows away).
    message_id = fields.IntField(null=True)
    # Seconds, plain and within business hours (None: the event has no duration).
    value = fields.IntField(null=True)
    business_value = fields.IntField(null=True)
    # A response row: the SLA target in force then, in business seconds (core.sla); met when
    # business_value <= target. None: no target.
    target = fields.IntField(null=True)

    class Meta:
        table = "reportevent"
        indexes = (
            # Reports read a period's rows of some kinds from this index alone (it holds
            # every column they read: no lookup of the table's rows).
            ("kind", "at", "channel_id", "operator_id", "value", "business_value", "dialog_id"),
            # An episode's rows (the CSV, a withdrawn reply).
            ("episode_id", "kind"),
            # The share of responses within their SLA target (core.reporting.sla_shares),
            # from the index alone.
            ("kind", "at", "target", "business_value", "operator_id"),
        )


class InboxItem(Model):
    # A raw inbound event, stored before it is acknowledged and processed after.

    id = fields.IntField(primary_key=True)
    source = fields.CharField(max_length=64)
    key = fields.CharField(max_length=255)
    payload: dict = fields.JSONField()
    received_at = fields.DatetimeField()
    processed_at = fields.DatetimeField(null=True, db_index=True)
    attempts = fields.IntField(default=0)
    error = fields.TextField(null=True)

    class Meta:
        unique_together = (("source", "key"),)


class OutboxItem(Model):
    # Durable outbound work. A worker sends pending rows by priority and marks them.

    id = fields.IntField(primary_key=True)
    kind = fields.CharField(max_length=64)
    # Lower number = more urgent; see core.outbox.Priority.
    priority = fields.IntField(default=50)
    # Rows sharing a lane are sent strictly in order (a dialog's messages, one chat).
    lane = fields.CharField(max_length=128, default="")
    # Cosmetic work shares a key; a newer row replaces an older pending one.
    merge_key = fields.CharField(max_length=128, null=True, db_index=True)
    payload: dict = fields.JSONField(default=dict)
    status = fields.CharEnumField(OutboxStatus, max_length=16, default=OutboxStatus.PENDING)
    attempts = fields.IntField(default=0)
    not_before = fields.DatetimeField()
    created_at = fields.DatetimeField()
    # When the latest call began (the row turned `sending`).
    started_at = fields.DatetimeField(null=True)
    # How often a restart found this row `sending`: its call was cut off and its outcome is
    # unknown, so it was made again. Only such a row can have reached the other side twice.
    interrupted = fields.IntField(default=0, db_default=0)
    done_at = fields.DatetimeField(null=True)
    last_error = fields.TextField(null=True)
    result: dict = fields.JSONField(default=dict)

    class Meta:
        # The due rows in order, and the head of each lane (core.outbox.OutboxWorker.due).
        indexes = (("status", "priority", "id"), ("lane", "status", "id"))


class BlobSource(Model):
    # Where a blob already is on a channel, so that it goes there once: the file_id a
    # Telegram bot gave it ("telegram:<bot id>"); each bot has its own ids for one file.

    id = fields.IntField(primary_key=True)
    blob = fields.CharField(max_length=64)
    source = fields.CharField(max_length=64)
    ref: dict = fields.JSONField(default=dict)
    # The channel's own name of the file, the same for every bot (Telegram's
    # file_unique_id): finds the blob of a file that was downloaded before.
    key = fields.CharField(max_length=128, null=True, db_index=True)
    created_at = fields.DatetimeField()

    class Meta:
        unique_together = (("blob", "source"),)


# ---- strings that fit their columns -----------------------------------------------------------


def fit_key(value: str, max_length: int) -> str:
    """A key (an id from outside) that fits `max_length`: unchanged when it fits, else cut and
    ended by a digest of the whole, so two long keys with one prefix stay two keys. The same
    value always gives the same key: look it up through this too."""
    if len(value) <= max_length:
        return value
    digest = hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:16]
    return f"{value[: max_length - len(digest) - 1]}~{digest}"


def storable(value: str) -> str:
    """A text every database takes: no NUL (PostgreSQL refuses it), no lone surrogate."""
    if "\x00" in value:
        value = value.replace("\x00", "")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        value = value.encode("utf-8", "replace").decode("utf-8")
    return value


def storable_json(value: Any) -> Any:
    """`storable` through a JSON value (an update's payload, spans, a copy's data): PostgreSQL's
    jsonb refuses a NUL or a lone surrogate anywhere in it."""
    if isinstance(value, str):
        return storable(value)
    if isinstance(value, list):
        return [storable_json(item) for item in value]
    if isinstance(value, dict):
        return {storable(str(k)): storable_json(v) for k, v in value.items()}
    return value


# Per model, the columns a save fits: a string column with how many characters it holds
# (None: unlimited), or JSON.
JSON = "json"
_FITTED: dict[type[Model], dict[str, int | str | None]] = {}


def _fitted_columns(model: type[Model]) -> dict[str, int | str | None]:
    if model not in _FITTED:
        columns: dict[str, int | str | None] = {}
        for name, field in model._meta.fields_map.items():
            if isinstance(field, fields.CharField | fields.TextField):
                columns[name] = getattr(field, "max_length", None)
            elif isinstance(field, fields.JSONField):
                columns[name] = JSON
        _FITTED[model] = columns
    return _FITTED[model]


def fitted(model: type[Model], name: str, value: Any) -> Any:
    """`value` as it goes into the model's column `name` (see fit_to_columns)."""
    columns = _fitted_columns(model)
    if name not in columns or value is None:
        return value
    limit = columns[name]
    if limit == JSON:
        return storable_json(value)
    if not isinstance(value, str) or isinstance(value, Enum):
        return value
    value = storable(value)
    return value[:limit] if isinstance(limit, int) and len(value) > limit else value


async def fit_to_columns(
    model: type[Model], instance: Model, using_db: Any, update_fields: Iterable[str] | None
) -> None:
    """Before any save: every string cut to what its column holds, so no input (a 300-char
    name, a hostile title) makes a save fail. Keys that must stay distinct are fitted where
    they are looked up (`fit_key`); this is the net for everything else. A save of some
    fields (`update_fields`) fits those only: the others are not written."""
    only = set(update_fields) if update_fields is not None else None
    for name in _fitted_columns(model):
        if only is not None and name not in only:
            continue
        value = getattr(instance, name, None)
        fit = fitted(model, name, value)
        if fit is not value:
            setattr(instance, name, fit)


def fit_every_model(models: Iterable[type[Model]]) -> None:
    """Install `fit_to_columns` on these models (every app's, once the ORM is set up)."""
    for model in models:
        model.register_listener(Signals.pre_save, fit_to_columns)


class SlaMark(Model):
    """One SLA warning or breach of one wait (core.sla), written once: the row is the
    compare-and-set (unique), so a restart or a second sweep never tells it twice."""

    id = fields.IntField(primary_key=True)
    dialog: fields.ForeignKeyRelation[Dialog] = fields.ForeignKeyField(
        "core.Dialog", related_name=False, on_delete=fields.CASCADE
    )
    # "first" (first response) or "next" (next response).
    target = fields.CharField(max_length=8)
    # "warning" (80% of the target used) or "breach".
    stage = fields.CharField(max_length=8)
    # Which wait: its start in UTC, as text ("2026-11-28T09:00:00+00:00").
    wait = fields.CharField(max_length=40)
    at = fields.DatetimeField()

    class Meta:
        table = "slamark"
        unique_together = (("dialog", "target", "stage", "wait"),)


class DigestMark(Model):
    # A digest decided due (core.digests): recipient 0 is the team's mark (the digest's time
    # came), an operator's id that it was queued for them. Unique: each once, across restarts.

    id = fields.IntField(primary_key=True)
    kind = fields.CharField(max_length=16)
    # The first day of the digest's period (in TIMEZONE).
    day = fields.DateField()
    recipient = fields.IntField(default=0)
    created_at = fields.DatetimeField()

    class Meta:
        table = "digestmark"
        unique_together = (("kind", "day", "recipient"),)


class SurveyStatus(StrEnum):
    PENDING = "pending"  # the ask is queued, not sent yet
    ASKED = "asked"
    RATED = "rated"
    SKIPPED = "skipped"  # not asked (`reason` says why); a later close of the episode may ask


class CsatSurvey(Model):
    # The satisfaction survey of one episode (core.csat): asked once, rated once (a change of
    # mind within a day replaces the score). Its id is signed into the links and buttons.

    id = fields.IntField(primary_key=True)
    episode: fields.OneToOneRelation[Episode] = fields.OneToOneField(
        "core.Episode", related_name=False, on_delete=fields.CASCADE
    )
    dialog: fields.ForeignKeyRelation[Dialog] = fields.ForeignKeyField(
        "core.Dialog", related_name=False, on_delete=fields.CASCADE
    )
    client_id = fields.IntField(db_index=True)
    # Whom the rating counts for in /stats: the assignee at the close, else who closed.
    operator: fields.ForeignKeyNullableRelation[Operator] = fields.ForeignKeyField(
        "core.Operator", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    language = fields.CharField(max_length=8, default="")
    status = fields.CharEnumField(SurveyStatus, max_length=8, default=SurveyStatus.PENDING)
    reason = fields.CharField(max_length=32, default="")
    score = fields.IntField(null=True)
    # What the channel said about the ask (its ids on the client's side, for an edit).
    data: dict = fields.JSONField(default=dict)
    created_at = fields.DatetimeField()
    asked_at = fields.DatetimeField(null=True)
    rated_at = fields.DatetimeField(null=True)


class AutomationFiring(Model):
    # A time rule of the automations file (core.automations) fired for a dialog's wait: each
    # once per wait, across restarts (the unique key is the compare-and-set).

    id = fields.IntField(primary_key=True)
    rule = fields.CharField(max_length=255)
    dialog: fields.ForeignKeyRelation[Dialog] = fields.ForeignKeyField(
        "core.Dialog", related_name=False, on_delete=fields.CASCADE
    )
    # Which wait: its start in UTC, as text ("2026-11-28T09:00:00+00:00").
    wait = fields.CharField(max_length=40)
    at = fields.DatetimeField()

    class Meta:
        table = "automationfiring"
        unique_together = (("rule", "dialog", "wait"),)
