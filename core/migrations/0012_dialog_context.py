from tortoise import fields, migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [("core", "0011_message_automatic")]

    initial = False

    # Where the client writes from, as their channel tells it (a website visitor's page,
    # language, time zone): shown on the card.
    operations = [
        ops.AddField(
            model_name="Dialog",
            name="context",
            field=fields.JSONField(null=True),
        ),
    ]
