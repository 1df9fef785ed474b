import sys

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from crm.models import Company, Membership
from leads.models import Campaign, DuplicatePolicy, ImportFormat, ImportStatus
from leads.transfer.jobs import import_job_create, import_job_start
from leads.transfer.mapping import ImportOptions

SHOWN_ERRORS = 50


class Command(BaseCommand):
    help = (
        "Import leads from a CSV, XLSX, JSON or JSON Lines file into a company, all or nothing: any invalid "
        "row imports nothing (each bad row is reported as 'row N, column C: value: reason') unless "
        "--skip-invalid is given, which imports the valid rows and writes the invalid ones to --errors-out. "
        "Headers are matched to lead fields automatically; --map 'Header=field' overrides, --ignore-unmatched "
        "drops columns that match nothing. Exits 1 when nothing could be imported."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", metavar="FILE")
        parser.add_argument("--company", required=True, metavar="SLUG")
        parser.add_argument("--campaign", metavar="NAME", help="Campaign of rows without a Campaign column.")
        parser.add_argument("--lead-source", default="", metavar="TEXT", help="Lead source of rows without one.")
        parser.add_argument("--format", choices=ImportFormat.values, help="Default: detected from the file.")
        parser.add_argument("--on-duplicate", choices=DuplicatePolicy.values, default=DuplicatePolicy.SKIP)
        parser.add_argument("--dry-run", action="store_true", help="Check everything, write nothing.")
        parser.add_argument("--skip-invalid", action="store_true", help="Import the valid rows only.")
        parser.add_argument("--errors-out", metavar="FILE", help="Write the invalid rows (with their errors) here.")
        parser.add_argument("--as", dest="as_email", metavar="EMAIL", help="Import as this member (default: system).")
        parser.add_argument("--map", action="append", default=[], metavar="HEADER=FIELD",
                            help="Map a column to a lead field ('' or 'ignore' to skip it); repeatable.")  # fmt: skip
        parser.add_argument("--ignore-unmatched", action="store_true", help="Ignore columns that match no field.")

    def handle(self, *args, **options):
        company = Company.objects.filter(slug=options["company"]).first()
        if company is None:
            raise CommandError(f"No company with slug {options['company']!r}.")
        actor = self._actor(company, options["as_email"])
        campaign_id = self._campaign(company, options["campaign"])
        job = self._create(company, actor, options, campaign_id)
        mapping = self._mapping(job, options)
        try:
            job = import_job_start(job=job, actor=actor, mapping=mapping, inline=True)
        except ValidationError as error:
            job.file.delete(save=False)
            job.delete()
            raise CommandError(" ".join(error.messages)) from None
        self._report(job, options)

    def _actor(self, company, email):
        if not email:
            return None
        actor = Membership.objects.filter(company=company, user__email__iexact=email, is_active=True).first()
        if actor is None:
            raise CommandError(f"{email} is not an active member of {company.name}.")
        return actor

    def _campaign(self, company, name):
        if not name:
            return None
        campaign = Campaign.objects.filter(company=company, name__iexact=name).first()
        if campaign is None:
            raise CommandError(f"No campaign named {name!r} in {company.name}.")
        return campaign.pk

    def _create(self, company, actor, options, campaign_id):
        settings = ImportOptions(
            on_duplicate=options["on_duplicate"],
            skip_invalid=options["skip_invalid"],
            dry_run=options["dry_run"],
            campaign_id=campaign_id,
            lead_source=options["lead_source"],
        )
        try:
            handle = open(options["file"], "rb")  # noqa: SIM115 — closed below
        except OSError as error:
            raise CommandError(f"Cannot read {options['file']}: {error.strerror}.") from None
        with handle:
            try:
                return import_job_create(
                    company=company, actor=actor, upload=handle, file_format=options["format"], options=settings
                )
            except ValidationError as error:
                raise CommandError(f"{options['file']}: {' '.join(error.messages)}") from None

    def _mapping(self, job, options):
        mapping = list(job.mapping)
        by_name = {header.strip().casefold(): i for i, header in reversed(list(enumerate(job.headers)))}
        for item in options["map"]:
            header, sep, target = item.partition("=")
            if not sep or header.strip().casefold() not in by_name:
                raise CommandError(f"--map {item!r}: name a column of the file as HEADER=FIELD.")
            target = target.strip()
            mapping[by_name[header.strip().casefold()]] = "" if target in ("", "ignore") else target
        if options["ignore_unmatched"]:
            mapping = ["" if target is None else target for target in mapping]
        return mapping

    def _report(self, job, options):
        self.stdout.write(
            f"import #{job.pk} {job.file_name}: {job.total_rows} rows; "
            f"{'would create' if job.status == ImportStatus.CHECKED else 'created'} {job.created_count}, "
            f"updated {job.updated_count}, skipped {job.skipped_count}, flagged {job.flagged_count}, "
            f"invalid {job.invalid_count}"
        )
        for error in job.errors[:SHOWN_ERRORS]:
            where = f"row {error['row']}" + (f", column {error['column']}" if error["column"] else "")
            value = f": {error['value']!r}" if error["value"] else ""
            self.stderr.write(f"{where}{value}: {error['message']}")
        if job.invalid_count > SHOWN_ERRORS:
            self.stderr.write(f"… and {job.invalid_count - SHOWN_ERRORS} more rows with errors.")
        if options["errors_out"] and job.errors_file:
            self._write_errors(job, options["errors_out"])
        if job.status == ImportStatus.FAILED:
            raise CommandError(job.error or "Nothing was imported.")
        if job.status == ImportStatus.CHECKED:
            self.stdout.write("dry run: nothing was written")
            if job.invalid_count and not options["skip_invalid"]:
                sys.exit(1)

    def _write_errors(self, job, path):
        try:
            with open(path, "wb") as out, job.errors_file.open("rb") as source:
                out.write(source.read())
        except OSError as error:
            raise CommandError(f"Cannot write {path}: {error.strerror}.") from None
        self.stdout.write(f"invalid rows written to {path}")
