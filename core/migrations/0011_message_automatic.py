from tortoise import fields, migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [('core', '0010_message_notices')]

    initial = False

    # A client's message a machine wrote (an auto-reply, a list, a bounce): nothing
    # automatic answers it.
    operations = [
        ops.AddField(
            model_name='Message',
            name='automatic',
            field=fields.BooleanField(default=False, db_default=False),
        ),
    ]
