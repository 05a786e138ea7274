from tortoise import migrations


class Migration(migrations.Migration):
    dependencies = [('core', '0006_participants')]

    initial = False

    operations: list = []
