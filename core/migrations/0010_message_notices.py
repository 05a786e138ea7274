from tortoise import fields, migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [('core', '0009_message_original')]

    initial = False

    # What a client's channel could not carry into a message (a mail's part it could not
    # read, a file over the limit), each a key and its values: told in the topic.
    operations = [
        ops.AddField(
            model_name='Message',
            name='notices',
            field=fields.JSONField(null=True),
        ),
    ]
