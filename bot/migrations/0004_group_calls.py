from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('bot', '0003_panel_bot')]

    initial = False

    operations = [
        ops.CreateModel(
            name='GroupCall',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('bot_id', fields.BigIntField()),
                ('at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'groupcall', 'app': 'bot', 'indexes': [Index(fields=['bot_id', 'at'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
    ]
