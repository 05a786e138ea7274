"""ChatMessage goes: which post of the team's chat shows which message is core's MessageCopy
now, filled from this table by core migration 0008 (which therefore runs first)."""

from tortoise import migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [("bot", "0004_group_calls"), ("core", "0008_message_copies")]

    initial = False

    operations = [ops.DeleteModel(name="ChatMessage")]
