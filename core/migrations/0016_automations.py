from tortoise import fields, migrations
from tortoise.fields.base import OnDelete
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [("core", "0015_crm_deals")]

    initial = False

    # The automations' time rules (core.automations): each firing for a dialog's wait,
    # recorded once, so a restart never repeats it.
    operations = [
        ops.CreateModel(
            name="AutomationFiring",
            fields=[
                (
                    "id",
                    fields.IntField(generated=True, primary_key=True, unique=True, db_index=True),
                ),
                ("rule", fields.CharField(max_length=255)),
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
                ("wait", fields.CharField(max_length=40)),
                ("at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={
                "table": "automationfiring",
                "app": "core",
                "unique_together": (("rule", "dialog", "wait"),),
                "pk_attr": "id",
            },
            bases=["Model"],
        ),
    ]
