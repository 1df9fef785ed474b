from django.core.management.base import BaseCommand, CommandError

from crm.models import Company
from leads.scoring import leads_rescore


class Command(BaseCommand):
    help = (
        "Rescore every lead of a company from the current scoring rules, engagement events and "
        "thresholds, in batches (each batch its own transaction). Prints how many scores changed."
    )

    def add_arguments(self, parser):
        parser.add_argument("--company", required=True, metavar="SLUG", help="The company to rescore.")
        parser.add_argument("--batch", type=int, default=2000, metavar="ROWS", help="Leads per batch (default 2000).")

    def handle(self, *args, company, batch, verbosity, **options):
        found = Company.objects.filter(slug=company).first()
        if found is None:
            raise CommandError(f"No company with slug {company!r}.")
        if batch < 1:
            raise CommandError("--batch must be at least 1.")
        progress = (lambda done: self.stderr.write(f"… {done} leads")) if verbosity > 1 else None
        result = leads_rescore(company=found, batch_size=batch, progress=progress)
        self.stdout.write(
            f"{found.slug}: rescored {result.scanned} leads in {result.seconds:.1f} s "
            f"({result.rate:,.0f} leads/s); {result.changed} changed."
        )
