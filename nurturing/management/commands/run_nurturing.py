from django.core.management.base import BaseCommand, CommandError

from crm.models import Company
from nurturing import sending, services
from nurturing.tasks import ensure_schedules


class Command(BaseCommand):
    help = (
        "Send every due nurturing step of a company (each (enrolment, step) at most once, whatever else "
        "runs at the same time). --sweep first enrols the company's new and contacted leads under its "
        "threshold into its default sequence. --schedule installs the django-q2 schedules (sending every "
        "minute, the nightly sweep and the nightly engagement decay)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--company", metavar="SLUG", help="The company to send for.")
        parser.add_argument("--sweep", action="store_true", help="Run the nightly sweep first.")
        parser.add_argument("--schedule", action="store_true", help="Install the django-q2 schedules.")

    def handle(self, *args, **options):
        if options["schedule"]:
            names = ", ".join(schedule.name for schedule in ensure_schedules())
            self.stdout.write(f"schedules installed: {names}")
            if not options["company"]:
                return
        if not options["company"]:
            raise CommandError("Give --company SLUG (or --schedule).")
        company = Company.objects.filter(slug=options["company"]).first()
        if company is None:
            raise CommandError(f"No company with slug {options['company']!r}.")
        if options["sweep"]:
            self.stdout.write(f"sweep: {services.nurture_sweep(company=company)} lead(s) enrolled")
        result = sending.send_due(company_id=company.pk)
        self.stdout.write(
            f"{company.slug}: {result.sent} sent, {result.bounced} bounced, {result.failed} failed, "
            f"{result.stopped} enrolment(s) stopped by a gate, {result.completed} completed, "
            f"{result.stale} stale claim(s) marked unknown"
        )
