from tortoise import fields, migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [("core", "0018_csat")]

    initial = False

    # Digests (core.digests): which were decided due, and queued for whom; each once.
    operations = [
        ops.CreateModel(
            name="DigestMark",
            fields=[
                (
                    "id",
                    fields.IntField(generated=True, primary_key=True, unique=True, db_index=True),
                ),
                ("kind", fields.CharField(max_length=16)),
                ("day", fields.DateField()),
                ("recipient", fields.IntField(default=0)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={
                "table": "digestmark",
                "app": "core",
                "unique_together": (("kind", "day", "recipient"),),
                "pk_attr": "id",
            },
            bases=["Model"],
        ),
    ]
