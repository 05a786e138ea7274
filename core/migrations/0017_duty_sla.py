from tortoise import fields, migrations
from tortoise.fields.base import OnDelete
from tortoise.indexes import Index
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [("core", "0016_automations")]

    initial = False

    # /duty (Operator.on_duty, on unless they stepped out), round robin's turn
    # (Operator.auto_assigned_at), the SLA target in force on the response rows
    # (ReportEvent.target, with an index that /stats reads the share met from) and the durable SLA warnings and breaches (SlaMark).
    operations = [
        ops.AddField(
            model_name="Operator",
            name="on_duty",
            field=fields.BooleanField(default=True, db_default=True),
        ),
        ops.AddField(
            model_name="Operator",
            name="auto_assigned_at",
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name="ReportEvent",
            name="target",
            field=fields.IntField(null=True),
        ),
        ops.AddIndex(
            model_name="ReportEvent",
            index=Index(fields=["kind", "at", "target", "business_value", "operator_id"]),
        ),
        ops.CreateModel(
            name="SlaMark",
            fields=[
                (
                    "id",
                    fields.IntField(generated=True, primary_key=True, unique=True, db_index=True),
                ),
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
                ("target", fields.CharField(max_length=8)),
                ("stage", fields.CharField(max_length=8)),
                ("wait", fields.CharField(max_length=40)),
                ("at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={
                "table": "slamark",
                "app": "core",
                "unique_together": (("dialog", "target", "stage", "wait"),),
                "pk_attr": "id",
            },
            bases=["Model"],
        ),
    ]
