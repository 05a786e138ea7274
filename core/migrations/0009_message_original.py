from tortoise import fields, migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [('core', '0008_message_copies')]

    initial = False

    # A client's message keeps the subject it came with (a mail's, when it changes along a
    # thread) and, when its text shows less of it, the original as a blob reference.
    operations = [
        ops.AddField(
            model_name='Message',
            name='subject',
            field=fields.CharField(default='', db_default='', max_length=255),
        ),
        ops.AddField(
            model_name='Message',
            name='original',
            field=fields.JSONField(null=True),
        ),
    ]
