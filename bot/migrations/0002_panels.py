from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('bot', '0001_initial'), ('core', '0001_initial')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Panel',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('key', fields.CharField(unique=True, max_length=64)),
                ('chat_id', fields.BigIntField()),
                ('message_id', fields.BigIntField(null=True)),
                ('digest', fields.CharField(default='', max_length=64)),
                ('updated_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'panel', 'app': 'bot', 'pk_attr': 'id'},
            bases=['Model'],
        ),
    ]
