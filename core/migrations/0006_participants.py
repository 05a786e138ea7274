"""A dialog's participants: each a contact of a client (the client who wrote, and in client
groups or e-mail threads everyone else on the conversation). Existing dialogs get every
contact that wrote into them, as "from", when it first wrote."""

from tortoise import fields, migrations
from tortoise.fields.base import OnDelete
from tortoise.migrations import operations as ops

BACKFILL = (
    "INSERT INTO participant (dialog_id, contact_id, role, created_at) "
    "SELECT dialog_id, sender_contact_id, 'from', MIN(created_at) FROM message "
    "WHERE kind = 'in' AND sender_contact_id IS NOT NULL "
    "GROUP BY dialog_id, sender_contact_id"
)


class Migration(migrations.Migration):
    dependencies = [('core', '0005_outbox_lanes')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Participant',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('dialog', fields.ForeignKeyField('core.Dialog', source_field='dialog_id', db_constraint=True, to_field='id', related_name='participants', on_delete=OnDelete.CASCADE)),
                ('contact', fields.ForeignKeyField('core.Contact', source_field='contact_id', db_constraint=True, to_field='id', related_name='participations', on_delete=OnDelete.CASCADE)),
                ('role', fields.CharField(default='member', max_length=32)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'participant', 'app': 'core', 'unique_together': (('dialog', 'contact'),), 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.RunSQL(BACKFILL, reverse_sql=ops.RunSQL.noop),
    ]
