from django.core.management.base import BaseCommand, CommandError

from accounts.generate import accounts_generate
from crm.models import Company


class Command(BaseCommand):
    help = (
        "Create N realistic accounts (each with a primary contact, some with more) and M opportunities "
        "spread over the company's pipeline stages with their stage history, fast, for benchmarks. The data "
        "is synthetic: written in bulk, valid and keyed, but without history rows or activities."
    )

    def add_arguments(self, parser):
        parser.add_argument("--company", required=True, metavar="SLUG", help="The company to fill.")
        parser.add_argument("--accounts", required=True, type=int, metavar="N", help="How many accounts to create.")
        parser.add_argument("--opportunities", type=int, default=0, metavar="M",
                            help="How many opportunities to create (default 0).")  # fmt: skip
        parser.add_argument("--seed", type=int, help="Random seed; the same seed gives the same rows.")
        parser.add_argument("--batch", type=int, default=5000, metavar="ROWS", help="Rows per batch (default 5000).")

    def handle(self, *args, **options):
        company = Company.objects.filter(slug=options["company"]).first()
        if company is None:
            raise CommandError(f"No company with slug {options['company']!r}.")
        try:
            result = accounts_generate(
                company=company, accounts=options["accounts"], opportunities=options["opportunities"],
                seed=options["seed"], batch_size=options["batch"],
                progress=self._progress if options["verbosity"] > 1 else None,
            )  # fmt: skip
        except ValueError as error:
            raise CommandError(str(error)) from None
        self.stdout.write(
            f"created {result.accounts} accounts, {result.contacts} contacts, {result.opportunities} opportunities "
            f"and {result.stage_changes} stage changes in {result.seconds:.1f} s ({result.rate:,.0f} rows/s)"
        )
        self.stdout.write(f"seed {result.seed}")

    def _progress(self, what: str, done: int) -> None:
        self.stderr.write(f"… {done} {what}")
