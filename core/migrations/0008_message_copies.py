"""One table of a message's copies outside eadesk (MessageCopy), in place of four stores:

- MessageRef (the ids the client's chat gave an operator's reply) -> client-side copies;
- the Telegram side's ChatMessage (a client's message posted into its topic; a bot-app table,
  read here with plain SQL when it exists, dropped by bot migration 0005) -> team-side copies,
  with the posts of a long text (Message.meta "topic_parts") as their parts;
- Message.meta "team_message_ids"/"team_chat_id"/"team_bot_id"/"team_source" (an operator's
  own post in the topic) -> team-side copies; meta "sent" (what the client connector said
  for a later edit) -> the data of the first client-side copy;
- an operator message's `external_id = "team:<id>"` (its post in the topic) -> a team-side
  copy, and the external id empty.

Nothing is dropped: any other meta key ("via_inline", "template", ...) goes into the data of
the message's first team-side copy, or, when it has none, into an event "message.meta".
Then Message.meta and MessageRef go.

The conversion is written out here, not imported from the code of the day.
"""

from datetime import datetime
from typing import Any

from tortoise import fields, migrations
from tortoise.fields.base import OnDelete
from tortoise.indexes import Index
from tortoise.migrations import operations as ops

from core.models import CopySide

BATCH = 500
TEAM_KEYS = ("team_message_ids", "team_chat_id", "team_bot_id", "team_source")
TOPIC_PARTS = "topic_parts"
SENT = "sent"
# A team-side post that shows something else than the message (a template relayed with
# "{client}" unfilled): the client's copy was never copied from it.
DIFFERS = "differs"


async def _table_exists(client: Any, name: str) -> bool:
    if client.capabilities.dialect == "sqlite":
        sql = f"SELECT name FROM sqlite_master WHERE type = 'table' AND name = '{name}'"
    else:
        sql = (
            "SELECT table_name FROM information_schema.tables"
            f" WHERE table_schema = current_schema() AND table_name = '{name}'"
        )
    _, rows = await client.execute_query(sql)
    return bool(rows)


def _moment(value: Any, default: datetime) -> datetime:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            return default
    return default


class Copies:
    """The copies of one message, side by side and chat by chat, in order."""

    def __init__(self, row: dict[str, Any]) -> None:
        self.row = row
        self.rows: list[dict[str, Any]] = []

    def ids(self, side: str, chat: str) -> list[str]:
        return [r["external_id"] for r in self.rows if (r["side"], r["chat"]) == (side, chat)]

    def add(
        self,
        side: str,
        chat: str,
        external_id: Any,
        *,
        via: str = "",
        data: dict[str, Any] | None = None,
        dialog_id: int | None = None,
        at: datetime | None = None,
    ) -> None:
        external_id = str(external_id)[:255]
        had = self.ids(side, chat)
        if external_id in had:
            return
        self.rows.append(
            {
                "message_id": self.row["id"],
                "dialog_id": dialog_id or self.row["dialog_id"],
                "side": side,
                "chat": str(chat)[:64],
                "external_id": external_id,
                "position": len(had),
                "via": via[:64],
                "data": data or {},
                "created_at": at or self.row["created_at"],
            }
        )

    def first(self, side: str) -> dict[str, Any] | None:
        return next((r for r in self.rows if r["side"] == side), None)


async def move(apps: Any, schema_editor: Any) -> None:
    client = schema_editor.client
    message_model = apps.get_model("core", "Message")
    ref_model = apps.get_model("core", "MessageRef")
    copy_model = apps.get_model("core", "MessageCopy")
    event_model = apps.get_model("core", "Event")
    has_posts = await _table_exists(client, "chatmessage")
    topics: dict[int, str] = {}
    if await _table_exists(client, "topiclink"):
        _, links = await client.execute_query("SELECT dialog_id, chat_id FROM topiclink")
        topics = {int(link["dialog_id"]): str(link["chat_id"]) for link in links}
    last = 0
    while True:
        batch = (
            await message_model.filter(id__gt=last)
            .using_db(client)
            .order_by("id")
            .limit(BATCH)
            .values("id", "dialog_id", "kind", "external_id", "meta", "created_at")
        )
        if not batch:
            return
        last = batch[-1]["id"]
        ids = [row["id"] for row in batch]
        refs: dict[int, list[dict[str, Any]]] = {}
        for ref in (
            await ref_model.filter(message_id__in=ids)
            .using_db(client)
            .order_by("id")
            .values("message_id", "dialog_id", "external_id")
        ):
            refs.setdefault(ref["message_id"], []).append(ref)
        posts: dict[int, list[Any]] = {}
        if has_posts:
            _, found = await client.execute_query(
                "SELECT message_id, chat_id, tg_message_id, bot_id, created_at FROM chatmessage"
                f" WHERE message_id IN ({', '.join(str(int(i)) for i in ids)}) ORDER BY id"
            )
            for post in found:
                posts.setdefault(int(post["message_id"]), []).append(post)
        rows: list[dict[str, Any]] = []
        events: list[dict[str, Any]] = []
        cleared: list[int] = []
        for row in batch:
            copies = convert(row, refs.get(row["id"], []), posts.get(row["id"], []), topics)
            rows.extend(copies.rows)
            leftover = copies.row.get("leftover")
            if leftover:
                events.append(
                    {
                        "name": "message.meta",
                        "dialog_id": row["dialog_id"],
                        "actor_kind": "system",
                        "reason": "kept from Message.meta",
                        "data": {"message_id": row["id"], "meta": leftover},
                        "at": row["created_at"],
                    }
                )
            if copies.row.get("cleared"):
                cleared.append(row["id"])
        if rows:
            await copy_model.bulk_create([copy_model(**r) for r in rows], using_db=client)
        if events:
            await event_model.bulk_create([event_model(**e) for e in events], using_db=client)
        if cleared:
            await (
                message_model.filter(id__in=cleared).using_db(client).update(external_id=None)
            )


def convert(
    row: dict[str, Any], refs: list[dict[str, Any]], posts: list[Any], topics: dict[int, str]
) -> Copies:
    """One message's copies from what its time stored of it. What fits nowhere else is left
    in `row["leftover"]`; `row["cleared"]` when its "team:" external id became a copy."""
    copies = Copies(row)
    meta = row["meta"] if isinstance(row["meta"], dict) else {}
    rest = dict(meta)
    # The client's side: the ids its chat gave an operator's reply, in the order given.
    for ref in refs:
        copies.add(CopySide.CLIENT, "", ref["external_id"], dialog_id=ref["dialog_id"])
    first_client = copies.first(CopySide.CLIENT)
    if first_client is not None and isinstance(rest.get(SENT), dict):
        first_client["data"] = rest.pop(SENT)
    # The team's side: a client's message posted into the topic (a long text in parts).
    for post in posts:
        chat = str(post["chat_id"])
        via = f"telegram:{post['bot_id']}"
        at = _moment(post["created_at"], row["created_at"])
        parts = rest.get(TOPIC_PARTS)
        shown = [post["tg_message_id"]]
        if isinstance(parts, list) and parts and str(parts[0]) == str(post["tg_message_id"]):
            shown = parts
            rest.pop(TOPIC_PARTS)
        for external_id in shown:
            copies.add(CopySide.TEAM, chat, external_id, via=via, at=at)
    # An operator's own post in the topic.
    team_chat = str(meta.get("team_chat_id") or topics.get(row["dialog_id"], ""))
    via = str(meta.get("team_source") or "")
    if not via and meta.get("team_bot_id"):
        via = f"telegram:{meta['team_bot_id']}"
    own = meta.get("team_message_ids")
    if isinstance(own, list) and own:
        for external_id in own:
            copies.add(CopySide.TEAM, team_chat, external_id, via=via)
        for key in TEAM_KEYS:
            rest.pop(key, None)
    external = row["external_id"]
    if isinstance(external, str) and external.startswith("team:") and row["kind"] != "in":
        post_id = external[len("team:") :]
        if post_id not in copies.ids(CopySide.TEAM, team_chat):
            # Not among the ids the client's copy was made from: never copied from.
            data = {DIFFERS: True} if row["kind"] == "out" else {}
            copies.add(CopySide.TEAM, team_chat, post_id, via=via, data=data)
        row["cleared"] = True
    if rest:
        first_team = copies.first(CopySide.TEAM)
        if first_team is not None:
            first_team["data"] = {**rest, **first_team["data"]}
        else:
            row["leftover"] = rest
    return copies


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
    dependencies = [("core", "0007_blob_sources")]

    initial = False

    operations = [
        ops.CreateModel(
            name="MessageCopy",
            fields=[
                ("id", fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ("message", fields.ForeignKeyField("core.Message", source_field="message_id", db_constraint=True, to_field="id", related_name="copies", on_delete=OnDelete.CASCADE)),
                ("dialog", fields.ForeignKeyField("core.Dialog", source_field="dialog_id", db_constraint=True, to_field="id", related_name=False, on_delete=OnDelete.CASCADE)),
                ("side", fields.CharEnumField(description="CLIENT: client\nTEAM: team", enum_type=CopySide, max_length=8)),
                ("chat", fields.CharField(default="", max_length=64)),
                ("external_id", fields.CharField(max_length=255)),
                ("position", fields.IntField(default=0)),
                ("via", fields.CharField(default="", max_length=64)),
                ("data", fields.JSONField(default=dict)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={
                "table": "messagecopy",
                "app": "core",
                "unique_together": (("message", "side", "chat", "position"),),
                "indexes": [
                    Index(fields=["side", "chat", "external_id"]),
                    Index(fields=["dialog_id", "side", "external_id"]),
                ],
                "pk_attr": "id",
            },
            bases=["Model"],
        ),
        ops.RunPython(move),
        ops.DeleteModel(name="MessageRef"),
        DropColumn(model_name="Message", name="meta"),
    ]
