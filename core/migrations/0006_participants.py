from tortoise import migrations


class Migration(migrations.Migration):
    dependencies = [('core', '0005_outbox_lanes')]

    initial = False

    operations: list = []
