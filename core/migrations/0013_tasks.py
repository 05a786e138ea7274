from tortoise import fields, migrations
from tortoise.fields.base import OnDelete
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [("core", "0012_dialog_context")]

    initial = False

    # A task's author and who marked it done (/task, /tasks and their buttons).
    operations = [
        ops.AddField(
            model_name="Task",
            name="author",
            field=fields.ForeignKeyField("core.Operator", source_field="author_id", null=True, db_constraint=True, to_field="id", related_name=False, on_delete=OnDelete.SET_NULL),
        ),
        ops.AddField(
            model_name="Task",
            name="done_by",
            field=fields.ForeignKeyField("core.Operator", source_field="done_by_id", null=True, db_constraint=True, to_field="id", related_name=False, on_delete=OnDelete.SET_NULL),
        ),
    ]
