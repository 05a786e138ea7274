from tortoise import migrations


class Migration(migrations.Migration):
    dependencies = [("core", "0016_automations")]

    initial = False

    # Placeholder in the chain: filled by helper D (see /work/notes/owners.md).
    operations: list = []
