from tortoise import fields, migrations
from tortoise.fields.base import OnDelete
from tortoise.indexes import Index
from tortoise.migrations import operations as ops

from core.models import ReportKind


class Migration(migrations.Migration):
    dependencies = [("core", "0013_tasks")]

    initial = False

    # The reporting rows (core.reporting): one per event with its value, for /stats, SLA
    # and digests. Rows begin with this version; nothing before it is recomputed.
    operations = [
        ops.CreateModel(
            name="ReportEvent",
            fields=[
                (
                    "id",
                    fields.IntField(generated=True, primary_key=True, unique=True, db_index=True),
                ),
                (
                    "kind",
                    fields.CharEnumField(
                        description="report kind", enum_type=ReportKind, max_length=16
                    ),
                ),
                ("at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
                (
                    "dialog",
                    fields.ForeignKeyField(
                        "core.Dialog",
                        source_field="dialog_id",
                        db_constraint=True,
                        to_field="id",
                        related_name=False,
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                (
                    "episode",
                    fields.ForeignKeyField(
                        "core.Episode",
                        source_field="episode_id",
                        null=True,
                        db_constraint=True,
                        to_field="id",
                        related_name=False,
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                ("channel_id", fields.IntField()),
                (
                    "operator",
                    fields.ForeignKeyField(
                        "core.Operator",
                        source_field="operator_id",
                        null=True,
                        db_constraint=True,
                        to_field="id",
                        related_name=False,
                        on_delete=OnDelete.SET_NULL,
                    ),
                ),
                ("message_id", fields.IntField(null=True)),
                ("value", fields.IntField(null=True)),
                ("business_value", fields.IntField(null=True)),
            ],
            options={
                "table": "reportevent",
                "app": "core",
                "indexes": [
                    Index(
                        fields=[
                            "kind",
                            "at",
                            "channel_id",
                            "operator_id",
                            "value",
                            "business_value",
                            "dialog_id",
                        ]
                    ),
                    Index(fields=["episode_id", "kind"]),
                ],
                "pk_attr": "id",
            },
            bases=["Model"],
        ),
    ]
