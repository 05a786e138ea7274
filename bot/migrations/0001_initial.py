from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('core', '0001_initial')]

    initial = True

    operations = [
        ops.CreateModel(
            name='ChatMessage',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('message', fields.ForeignKeyField('core.Message', source_field='message_id', db_constraint=True, to_field='id', related_name='chat_copies', on_delete=OnDelete.CASCADE)),
                ('chat_id', fields.BigIntField()),
                ('tg_message_id', fields.BigIntField()),
                ('bot_id', fields.BigIntField()),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'chatmessage', 'app': 'bot', 'unique_together': (('message', 'chat_id'),), 'indexes': [Index(fields=['chat_id', 'tg_message_id'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Once',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('key', fields.CharField(unique=True, max_length=191)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'once', 'app': 'bot', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='TopicLink',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('dialog', fields.OneToOneField('core.Dialog', source_field='dialog_id', db_constraint=True, to_field='id', related_name='topic', on_delete=OnDelete.CASCADE)),
                ('chat_id', fields.BigIntField()),
                ('thread_id', fields.BigIntField()),
                ('title', fields.CharField(max_length=128)),
                ('shown_status', fields.CharField(default='open', max_length=16)),
                ('closed', fields.BooleanField(default=False)),
                ('card_message_id', fields.BigIntField(null=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'topiclink', 'app': 'bot', 'unique_together': (('chat_id', 'thread_id'),), 'pk_attr': 'id'},
            bases=['Model'],
        ),
    ]
