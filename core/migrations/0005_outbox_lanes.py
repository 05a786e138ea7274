from tortoise import migrations


class Migration(migrations.Migration):
    dependencies = [('core', '0004_content')]

    initial = False

    operations: list = []
