from django.core.management.base import BaseCommand, CommandError

from crm.models import Company
from leads.generate import MAX_DUPLICATES_RATIO, leads_generate, write_truth


class Command(BaseCommand):
    help = (
        "Create N realistic leads in a company, fast, for benchmarks and demos. The data is synthetic: "
        "leads are written in bulk, valid and with their match keys, but without history rows or "
        "status-change rows, scored by the company's rules, with skewed statuses, countries, campaigns and owners. "
        "--duplicates-ratio R makes round(N*R) of the N leads near-duplicates of earlier ones; "
        "--truth FILE lists those pairs as CSV original_id,duplicate_id,kind (typo, nickname, swapped names, …)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--company", required=True, metavar="SLUG", help="The company to fill.")
        parser.add_argument("--count", required=True, type=int, metavar="N", help="How many leads to create.")
        parser.add_argument(
            "--duplicates-ratio",
            type=float,
            default=0.0,
            metavar="R",
            help=f"Share of the N leads that are planted near-duplicates (0 to {MAX_DUPLICATES_RATIO}; default 0).",
        )
        parser.add_argument("--truth", metavar="FILE", help="Write the planted pairs to this CSV file.")
        parser.add_argument("--seed", type=int, help="Random seed; the same seed gives the same leads.")
        parser.add_argument("--batch", type=int, default=5000, metavar="ROWS", help="Rows per batch (default 5000).")

    def handle(self, *args, **options):
        company = Company.objects.filter(slug=options["company"]).first()
        if company is None:
            raise CommandError(f"No company with slug {options['company']!r}.")
        if options["count"] < 0:
            raise CommandError("--count cannot be negative.")
        if not 0 <= options["duplicates_ratio"] <= MAX_DUPLICATES_RATIO:
            raise CommandError(f"--duplicates-ratio must be between 0 and {MAX_DUPLICATES_RATIO}.")
        if options["batch"] < 1:
            raise CommandError("--batch must be at least 1.")
        truth = self._open(options["truth"]) if options["truth"] else None
        try:
            result = self._generate(company, options)
            if truth is not None:
                write_truth(result.pairs, truth)
        finally:
            if truth is not None:
                truth.close()
        self.stdout.write(f"created {result.created} leads in {result.seconds:.1f} s ({result.rate:,.0f} leads/s)")
        if result.duplicates:
            listed = f", listed in {truth.name}" if truth is not None else ""
            self.stdout.write(f"{result.duplicates} of them are planted duplicates{listed}")
        self.stdout.write(f"seed {result.seed}")

    def _generate(self, company, options):
        try:
            return leads_generate(
                company=company,
                count=options["count"],
                duplicates_ratio=options["duplicates_ratio"],
                seed=options["seed"],
                batch_size=options["batch"],
                progress=self._progress if options["verbosity"] > 1 else None,
            )
        except ValueError as error:  # the company cannot take leads (no open status)
            raise CommandError(str(error)) from None

    def _open(self, path: str):
        """Open the truth file before the run, so a bad path fails before any lead is written."""
        try:
            return open(path, "w", encoding="utf-8", newline="")  # noqa: SIM115 — closed in handle()
        except OSError as error:
            raise CommandError(f"Cannot write {path}: {error.strerror}.") from None

    def _progress(self, done: int) -> None:
        self.stderr.write(f"… {done} leads")
