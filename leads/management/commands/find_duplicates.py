import json

from django.core.management.base import BaseCommand, CommandError

from crm.models import Company
from leads import dedup
from leads.dedup.tasks import ensure_schedule


class Command(BaseCommand):
    help = (
        "Scan a company's leads for duplicates (exact keys, then blocked fuzzy matching) and bring its "
        "review queue up to date. --json prints one object per candidate pair (both lead ids, score, "
        "reasons) instead of the summary; --dry-run leaves the queue alone. --schedule installs the "
        "nightly django-q2 scan of every company."
    )

    def add_arguments(self, parser):
        parser.add_argument("--company", metavar="SLUG", help="The company to scan.")
        parser.add_argument("--json", action="store_true", help="Print the pairs as a JSON list.")
        parser.add_argument("--dry-run", action="store_true", help="Find the pairs without touching the queue.")
        parser.add_argument("--schedule", action="store_true", help="Install the nightly scan schedule.")

    def handle(self, *args, **options):
        if options["schedule"]:
            schedule = ensure_schedule()
            self.stdout.write(f"nightly duplicate scan scheduled (next run {schedule.next_run:%Y-%m-%d %H:%M})")
            if not options["company"]:
                return
        if not options["company"]:
            raise CommandError("Give --company SLUG (or --schedule).")
        company = Company.objects.filter(slug=options["company"]).first()
        if company is None:
            raise CommandError(f"No company with slug {options['company']!r}.")
        if options["dry_run"]:
            timings: dict = {}
            pairs = dedup.find_candidates(company, timings=timings)
            created = removed = None
            leads, seconds = timings.get("leads", 0), sum(v for k, v in timings.items() if k != "leads")
        else:
            result = dedup.duplicates_scan(company=company)
            pairs, created, removed, leads, seconds = (result.pairs, result.created, result.removed, result.leads,
                                                       result.seconds)  # fmt: skip
        if options["json"]:
            self.stdout.write(json.dumps([pair.as_dict() for pair in pairs]))
            return
        self.stdout.write(f"scanned {leads} leads of {company.name} in {seconds:.1f} s: {len(pairs)} candidate pairs")
        if created is not None:
            self.stdout.write(f"review queue: {created} new pairs, {removed} no longer matching removed")
        for pair in pairs[:20]:
            reasons = ", ".join(r.label for r in pair.reasons)
            self.stdout.write(f"  #{pair.a} ~ #{pair.b}  {pair.score}  {reasons}")
        if len(pairs) > 20:
            self.stdout.write(f"  … and {len(pairs) - 20} more (see the review queue or use --json)")
