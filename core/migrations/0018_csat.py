from tortoise import fields, migrations
from tortoise.fields.base import OnDelete
from tortoise.migrations import operations as ops

from core.models import SurveyStatus


class Migration(migrations.Migration):
    dependencies = [("core", "0017_duty_sla")]

    initial = False

    # The satisfaction surveys (core.csat): one per episode, asked once; each rating is also a
    # reporting row (ReportKind.CSAT, a new value of its kind column: no schema change there).
    operations = [
        ops.CreateModel(
            name="CsatSurvey",
            fields=[
                (
                    "id",
                    fields.IntField(generated=True, primary_key=True, unique=True, db_index=True),
                ),
                (
                    "episode",
                    fields.OneToOneField(
                        "core.Episode",
                        source_field="episode_id",
                        db_constraint=True,
                        to_field="id",
                        related_name=False,
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                (
                    "dialog",
                    fields.ForeignKeyField(
                        "core.Dialog",
                        source_field="dialog_id",
                        db_constraint=True,
                        to_field="id",
                        related_name=False,
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                ("client_id", fields.IntField(db_index=True)),
                (
                    "operator",
                    fields.ForeignKeyField(
                        "core.Operator",
                        source_field="operator_id",
                        null=True,
                        db_constraint=True,
                        to_field="id",
                        related_name=False,
                        on_delete=OnDelete.SET_NULL,
                    ),
                ),
                ("language", fields.CharField(default="", max_length=8)),
                (
                    "status",
                    fields.CharEnumField(
                        default=SurveyStatus.PENDING,
                        enum_type=SurveyStatus,
                        max_length=8,
                    ),
                ),
                ("reason", fields.CharField(default="", max_length=32)),
                ("score", fields.IntField(null=True)),
                ("data", fields.JSONField(default=dict)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ("asked_at", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ("rated_at", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={"table": "csatsurvey", "app": "core", "pk_attr": "id"},
            bases=["Model"],
        ),
    ]
