from django.core.management.base import BaseCommand, CommandError

from crm.models import Company
from leads.assignment import pool_assign


class Command(BaseCommand):
    help = (
        "Run the company's assignment rules over the pool (open leads without an owner), oldest first. "
        "--dry-run shows where each lead would go, and why, without changing anything."
    )

    def add_arguments(self, parser):
        parser.add_argument("--company", required=True, metavar="SLUG", help="The company whose pool to assign.")
        parser.add_argument("--dry-run", action="store_true", help="Show the placements; write nothing.")
        parser.add_argument("--limit", type=int, metavar="N", help="Only the N oldest pool leads.")

    def handle(self, *args, company, dry_run, limit, verbosity, **options):
        found = Company.objects.filter(slug=company).first()
        if found is None:
            raise CommandError(f"No company with slug {company!r}.")
        if limit is not None and limit < 1:
            raise CommandError("--limit must be at least 1.")
        result = pool_assign(company=found, actor=None, dry_run=dry_run, limit=limit)
        if dry_run or verbosity > 1:
            for placement in result.placements:
                owner = placement.owner.display_name if placement.owner else "pool"
                self.stdout.write(
                    f"lead {placement.lead.pk} {placement.lead.display_name} → {owner}: {placement.reason}"
                )
        verb = "would assign" if dry_run else "assigned"
        self.stdout.write(
            f"{found.slug}: {verb} {result.assigned} of {result.total} pool leads; "
            f"{result.left_in_pool} left in the pool."
        )
        for owner, count in sorted(result.per_owner().items(), key=lambda item: item[0].display_name):
            self.stdout.write(f"  {owner.display_name}: {count}")
