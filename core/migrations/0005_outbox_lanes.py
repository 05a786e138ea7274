from tortoise import migrations
from tortoise.indexes import Index
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [('core', '0004_content')]

    initial = False

    # The outbox picks its due rows in SQL (core.outbox.OutboxWorker.due): the pending rows
    # in the order they go (priority, then id: a scan that stops at the round's LIMIT), and
    # for each the probe "no pending or sending row of its lane before it".
    operations: list = [
        ops.RemoveIndex(model_name='OutboxItem', fields=['status', 'priority', 'not_before']),
        ops.AddIndex(model_name='OutboxItem', index=Index(fields=['status', 'priority', 'id'])),
        ops.AddIndex(model_name='OutboxItem', index=Index(fields=['lane', 'status', 'id'])),
    ]
