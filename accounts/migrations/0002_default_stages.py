"""The guide's default pipeline stages for every company that existed before this app did."""

from django.db import migrations

DEFAULT_STAGES = (
    ("Prospect", 10, False, False),
    ("Qualified", 25, False, False),
    ("Proposal sent", 50, False, False),
    ("Negotiation", 75, False, False),
    ("Closed won", 100, True, False),
    ("Closed lost", 0, False, True),
)  # frozen copy of accounts.services.stages.DEFAULT_STAGES: migrations never import app code


def create_stages(apps, schema_editor):
    Company = apps.get_model("crm", "Company")
    Stage = apps.get_model("accounts", "Stage")
    for company in Company.objects.exclude(pipeline_stages__isnull=False):
        Stage.objects.bulk_create(
            Stage(company=company, name=name, order=order * 10, probability=probability, is_won=won, is_lost=lost)
            for order, (name, probability, won, lost) in enumerate(DEFAULT_STAGES, start=1)
        )


class Migration(migrations.Migration):
    dependencies = [("accounts", "0001_initial")]

    operations = [migrations.RunPython(create_stages, migrations.RunPython.noop)]
