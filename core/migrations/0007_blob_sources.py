from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from tortoise import fields


class Migration(migrations.Migration):
    dependencies = [('core', '0006_participants')]

    initial = False

    operations = [
        ops.CreateModel(
            name='BlobSource',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('blob', fields.CharField(max_length=64)),
                ('source', fields.CharField(max_length=64)),
                ('ref', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('key', fields.CharField(null=True, db_index=True, max_length=128)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'blobsource', 'app': 'core', 'unique_together': (('blob', 'source'),), 'pk_attr': 'id'},
            bases=['Model'],
        ),
    ]
