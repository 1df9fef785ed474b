from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.http import QueryDict

from crm.models import Company, Membership, Role
from leads.models import ExportFormat, ExportRunStatus
from leads.transfer.cells import RowReader
from leads.transfer.exports import export_run_start, finish_run, template_for
from leads.transfer.writers import write_file


class Command(BaseCommand):
    help = (
        "Export a company's leads to a file as CSV, XLSX or JSON. --filter takes the lead list's query string "
        "(e.g. 'status=3&country=GB&sort=-score'); --template names an export template. The export runs with "
        "the visibility of --as (a member's email; default: the company's first admin)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--company", required=True, metavar="SLUG")
        parser.add_argument("--format", choices=ExportFormat.values, default=ExportFormat.CSV)
        parser.add_argument("--filter", default="", metavar="QUERYSTRING")
        parser.add_argument("--template", default="", metavar="NAME")
        parser.add_argument("-o", "--output", required=True, metavar="FILE")
        parser.add_argument("--as", dest="as_email", metavar="EMAIL")

    def handle(self, *args, **options):
        company = Company.objects.filter(slug=options["company"]).first()
        if company is None:
            raise CommandError(f"No company with slug {options['company']!r}.")
        member = self._member(company, options["as_email"])
        try:
            template = template_for(company, options["template"])
            run, queryset, columns = export_run_start(
                membership=member,
                params=QueryDict(options["filter"]),
                file_format=options["format"],
                template=template,
                streamed=True,
            )
        except ValidationError as error:
            raise CommandError(" ".join(f"{k}: {m}" for k, ms in _dict(error).items() for m in ms)) from None
        except PermissionDenied:
            raise CommandError(f"{member.user.email} may not export leads.") from None
        try:
            rows = write_file(run.format, RowReader(columns), queryset, options["output"])
        except OSError as error:
            raise CommandError(f"Cannot write {options['output']}: {error.strerror}.") from None
        finish_run(run, rows, status=ExportRunStatus.STREAMED)
        self.stdout.write(f"exported {rows} leads of {company.name} as {run.format} to {options['output']}")

    def _member(self, company, email):
        members = Membership.objects.filter(company=company, is_active=True).select_related("user", "company")
        member = members.filter(user__email__iexact=email).first() if email else members.filter(role=Role.ADMIN).first()
        if member is None:
            raise CommandError(f"{email} is not an active member of {company.name}." if email else "No active admin.")
        return member


def _dict(error: ValidationError) -> dict:
    return error.message_dict if hasattr(error, "error_dict") else {"error": error.messages}
