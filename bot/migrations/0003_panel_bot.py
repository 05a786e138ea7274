from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('bot', '0002_panels')]

    initial = False

    operations = [
        ops.AddField(
            model_name='Panel',
            name='bot_id',
            field=fields.BigIntField(null=True),
        ),
    ]
