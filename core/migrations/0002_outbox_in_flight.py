from tortoise import migrations
from tortoise.migrations import operations as ops
from core.models import OutboxStatus
from tortoise import fields


class AlterDescription(ops.AlterField):
    # Only the enum's description changes (a new `sending` status): nothing to do in the
    # database. On SQLite tortoise would rebuild the table for it and lose its indexes.
    async def database_forward(self, app_label, old_state, new_state, state_editor=None):
        return None

    async def database_backward(self, app_label, old_state, new_state, state_editor=None):
        return None


class Migration(migrations.Migration):
    dependencies = [('core', '0001_initial')]

    initial = False

    operations = [
        AlterDescription(
            model_name='OutboxItem',
            name='status',
            field=fields.CharEnumField(default=OutboxStatus.PENDING, description='PENDING: pending\nSENDING: sending\nSENT: sent\nFAILED: failed', enum_type=OutboxStatus, max_length=16),
        ),
        ops.AddField(
            model_name='OutboxItem',
            name='interrupted',
            field=fields.IntField(default=0, db_default=0),
        ),
        ops.AddField(
            model_name='OutboxItem',
            name='started_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
    ]
