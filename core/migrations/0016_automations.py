from tortoise import migrations


class Migration(migrations.Migration):
    dependencies = [("core", "0015_crm_deals")]

    initial = False

    # Placeholder in the chain: filled by helper A (see /work/notes/owners.md).
    operations: list = []
