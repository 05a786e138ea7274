from tortoise import migrations


class Migration(migrations.Migration):
    dependencies = [('core', '0003_message_refs')]

    initial = False

    operations: list = []
