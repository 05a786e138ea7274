"""Stored content becomes channel-neutral (core.content): formatting as spans in code points
instead of Telegram's entities in UTF-16 units, attachments with their Telegram file ids
under a per-bot source instead of bare `file_id`/`bot_id` keys.

The conversion is written out here, not imported from the code of the day: a migration must
turn the rows of its time into the shape of its time whatever the code later becomes. Only
the UTF-16 arithmetic is shared (core.content.Utf16).
"""

from typing import Any

from tortoise import fields, migrations
from tortoise.migrations import operations as ops

from core.content import Utf16

BATCH = 500

# Telegram entity type -> span kind; the rest (hashtags, commands, custom emoji, ...) are
# found again by Telegram on its own and carry nothing of the sender's.
KINDS = {
    "bold": "bold",
    "italic": "italic",
    "underline": "underline",
    "strikethrough": "strike",
    "spoiler": "spoiler",
    "code": "code",
    "pre": "pre",
    "text_link": "link",
    "url": "link",
    "text_mention": "mention",
    "mention": "mention",
    "blockquote": "quote",
    "expandable_blockquote": "quote",
}


def spans_of(text: str, entities: Any) -> list[dict[str, Any]]:
    index = Utf16(text)
    spans = []
    for entity in entities if isinstance(entities, list) else []:
        if not isinstance(entity, dict) or entity.get("type") not in KINDS:
            continue
        try:
            start, end = index.span_range(int(entity["offset"]), int(entity["length"]))
        except (KeyError, TypeError, ValueError):
            continue
        if end <= start:
            continue
        kind = entity["type"]
        span: dict[str, Any] = {"kind": KINDS[kind], "start": start, "end": end}
        if kind == "text_link":
            span["url"] = entity.get("url")
        elif kind == "url":
            span["url"] = text[start:end]
        elif kind == "text_mention":
            user = entity.get("user") or {}
            span["url"] = f"tg://user?id={user['id']}" if user.get("id") else None
        elif kind == "pre":
            span["language"] = entity.get("language")
        if span["kind"] == "link" and not span.get("url"):
            continue
        spans.append({k: v for k, v in span.items() if v not in (None, "")})
    return spans


def attachment_of(old: Any) -> Any:
    """One attachment in the new shape; one that is no old one (already new, or unknown) is
    kept as it is."""
    if not isinstance(old, dict) or "kind" not in old:
        return old
    kind = old["kind"]
    if kind == "location" and "latitude" in old:
        return {
            "kind": kind,
            "data": {"latitude": old["latitude"], "longitude": old.get("longitude")},
        }
    if kind == "contact" and "phone_number" in old:
        data = {
            "phone": old["phone_number"],
            "first_name": old.get("first_name") or "",
            "last_name": old.get("last_name") or "",
        }
        return {"kind": kind, "data": {k: v for k, v in data.items() if v}}
    if "file_id" not in old:
        return old
    new: dict[str, Any] = {"kind": kind}
    for was, now in (("file_name", "name"), ("mime_type", "mime"), ("size", "size")):
        if old.get(was) not in (None, ""):
            new[now] = old[was]
    ref = {k: old[k] for k in ("file_id", "file_unique_id") if old.get(k)}
    # A file_id is valid for the bot that received it; one without a bot is kept all the same.
    owner = old.get("bot_id")
    new["sources"] = {f"telegram:{owner}" if owner is not None else "telegram": ref}
    return new


def attachments_of(old: Any) -> list[Any]:
    return [attachment_of(a) for a in old] if isinstance(old, list) else []


async def _rows(model: Any, client: Any, names: tuple[str, ...]) -> Any:
    last = 0
    while True:
        batch = (
            await model.filter(id__gt=last)
            .using_db(client)
            .order_by("id")
            .limit(BATCH)
            .values("id", *names)
        )
        if not batch:
            return
        for row in batch:
            yield row
        last = batch[-1]["id"]


async def convert(apps: Any, schema_editor: Any) -> None:
    client = schema_editor.client
    message = apps.get_model("core", "Message")
    async for row in _rows(message, client, ("text", "entities", "attachments")):
        spans = spans_of(row["text"] or "", row["entities"])
        attachments = attachments_of(row["attachments"])
        if spans or attachments != (row["attachments"] or []):
            await (
                message.filter(id=row["id"])
                .using_db(client)
                .update(spans=spans, attachments=attachments)
            )
    template = apps.get_model("core", "Template")
    async for row in _rows(template, client, ("attachments",)):
        attachments = attachments_of(row["attachments"])
        if attachments != (row["attachments"] or []):
            await template.filter(id=row["id"]).using_db(client).update(attachments=attachments)


class DropColumn(ops.RemoveField):
    # The column goes in place. On SQLite tortoise would rebuild the whole table for it
    # (and lose what it does not recreate, as its indexes).
    async def database_forward(self, app_label, old_state, new_state, state_editor=None):  # type: ignore[no-untyped-def]
        if not state_editor:
            return
        model = old_state.apps.get_model(f"{app_label}.{self.model_name}")
        table = state_editor._qualify_table_name(model._meta.db_table, model._meta.schema)
        await state_editor._run_sql(
            state_editor.DELETE_FIELD_TEMPLATE.format(table=table, column=self.name)
        )


class Migration(migrations.Migration):
    dependencies = [("core", "0003_message_refs")]

    initial = False

    operations = [
        ops.AddField(
            model_name="Message",
            name="spans",
            field=fields.JSONField(default=list, db_default=[]),
        ),
        ops.RunPython(convert),
        DropColumn(model_name="Message", name="entities"),
    ]
