from django.core.management.base import BaseCommand
from django.test.utils import override_settings

from crm.demo import DEMO_PASSWORD, demo_logins, seed_cast

# The demo's writes notify people as real ones do (assignment emails, sequence emails): into an
# in-memory outbox, so seeding neither mails anyone nor floods the console.
QUIET_MAIL = "django.core.mail.backends.locmem.EmailBackend"


class Command(BaseCommand):
    help = "Load the demo companies, people and data. Safe to run again: a second run changes nothing."

    def add_arguments(self, parser):
        parser.add_argument("--quiet-logins", action="store_true", help="Do not print the demo logins.")

    def handle(self, *args, **options):
        from crm.signals import demo_seeded

        with override_settings(EMAIL_BACKEND=QUIET_MAIL):
            companies = seed_cast()
            for company in companies:
                for _receiver, summary in demo_seeded.send(sender=self.__class__, company=company):
                    if summary:
                        self.stdout.write(f"{company.slug}: {summary}")
        self.stdout.write(self.style.SUCCESS(f"Demo data ready for {', '.join(c.name for c in companies)}."))
        if options["quiet_logins"]:
            return
        self.stdout.write(f"\nDemo logins (password for all: {DEMO_PASSWORD}):")
        for email, what in demo_logins():
            self.stdout.write(f"  {email:<22} {what}")
