from tortoise import migrations


class Migration(migrations.Migration):
    dependencies = [("core", "0017_duty_sla")]

    initial = False

    # Placeholder in the chain: filled by helper C (see /work/notes/owners.md).
    operations: list = []
