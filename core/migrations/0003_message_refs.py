from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields


class Migration(migrations.Migration):
    dependencies = [('core', '0002_outbox_in_flight')]

    initial = False

    operations = [
        ops.CreateModel(
            name='MessageRef',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('message', fields.ForeignKeyField('core.Message', source_field='message_id', db_constraint=True, to_field='id', related_name='refs', on_delete=OnDelete.CASCADE)),
                ('dialog', fields.ForeignKeyField('core.Dialog', source_field='dialog_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('external_id', fields.CharField(max_length=255)),
            ],
            options={'table': 'messageref', 'app': 'core', 'unique_together': (('dialog', 'external_id'),), 'pk_attr': 'id'},
            bases=['Model'],
        ),
    ]
