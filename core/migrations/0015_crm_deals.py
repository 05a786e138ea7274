from tortoise import fields, migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [("core", "0014_reporting")]

    initial = False

    # The client's deals as amoCRM last told them (core/crm.py): the card reads these.
    operations = [
        ops.CreateModel(
            name="CrmDeals",
            fields=[
                (
                    "id",
                    fields.IntField(generated=True, primary_key=True, unique=True, db_index=True),
                ),
                ("client_id", fields.IntField(unique=True, db_index=True)),
                ("deals", fields.JSONField(default=list)),
                ("checked_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={"table": "crmdeals", "app": "core", "pk_attr": "id"},
            bases=["Model"],
        ),
    ]
