import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from crm.models import Company
from leads.models import Campaign
from leads.profiles import lead_create_from_profile


@dataclass
class Tally:
    created: int = 0
    skipped: int = 0
    failed: int = 0

    def __str__(self) -> str:
        return f"created {self.created}, skipped {self.skipped}, failed {self.failed}"


class Command(BaseCommand):
    help = (
        "Import scraped profiles from a JSON Lines file (one JSON object per line) as leads of a "
        "campaign. Blank lines are skipped; a bad line is reported as 'line N: field: message' and the "
        "others are still imported, unless --atomic is given: then any bad line imports nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", metavar="FILE.jsonl", help="The profiles, one JSON object per line.")
        parser.add_argument("--company", required=True, metavar="SLUG", help="The company the leads belong to.")
        parser.add_argument("--campaign", required=True, metavar="NAME", help="The company's campaign (by name).")
        parser.add_argument("--source", default="", metavar="TEXT", help="Lead source for every line.")
        parser.add_argument("--atomic", action="store_true", help="All lines or nothing.")

    def handle(self, *args, **options):
        company = Company.objects.filter(slug=options["company"]).first()
        if company is None:
            raise CommandError(f"No company with slug {options['company']!r}.")
        campaign = Campaign.objects.filter(company=company, name=options["campaign"]).first()
        if campaign is None:
            raise CommandError(f"No campaign named {options['campaign']!r} in {company.name}.")
        lines = self._lines(options["file"])
        if options["atomic"]:
            with transaction.atomic():
                tally = self._import(lines, company, campaign, options["source"])
                if tally.failed:
                    transaction.set_rollback(True)
            if tally.failed:
                self.stdout.write(str(Tally(skipped=tally.skipped, failed=tally.failed)))
                raise CommandError(f"{tally.failed} bad line(s): nothing was imported (--atomic).")
        else:
            tally = self._import(lines, company, campaign, options["source"])
        self.stdout.write(str(tally))

    def _lines(self, path: str) -> Iterator[bytes]:
        """The file's lines, read as they are imported; opened now so a bad path fails first."""
        try:
            handle = open(path, "rb")  # noqa: SIM115 — closed by the generator below
        except OSError as error:
            raise CommandError(f"Cannot read {path}: {error.strerror}.") from None

        def read() -> Iterator[bytes]:
            with handle:
                yield from handle

        return read()

    def _import(self, lines: Iterable[bytes], company, campaign, source: str) -> Tally:
        tally = Tally()
        for number, raw in enumerate(lines, start=1):
            if not raw.strip():
                tally.skipped += 1
                continue
            try:
                with transaction.atomic():
                    profile = _parse(raw, first=number == 1)
                    lead_create_from_profile(
                        company=company, actor=None, profile=profile, campaign=campaign, lead_source=source
                    )
            except ValidationError as error:
                tally.failed += 1
                for field, message in _messages(error):
                    self.stderr.write(f"line {number}: {field}: {message}")
            else:
                tally.created += 1
        return tally


def _parse(raw: bytes, *, first: bool):
    """One line → the decoded JSON value; undecodable text or bad JSON is a ``profile`` error."""
    try:
        text = raw.decode("utf-8-sig" if first else "utf-8").rstrip("\r\n")
    except UnicodeDecodeError:
        raise ValidationError({"profile": "The line is not UTF-8 text."}) from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise ValidationError({"profile": f"Not valid JSON: {error.msg} at column {error.colno}."}) from None


def _messages(error: ValidationError):
    if not hasattr(error, "error_dict"):
        return [("profile", message) for message in error.messages]
    return [
        ("profile" if field == NON_FIELD_ERRORS else field, message)
        for field, messages in error.message_dict.items()
        for message in messages
    ]
