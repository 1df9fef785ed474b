from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts, contacts and opportunities"

    def ready(self):
        from accounts import signals  # noqa: F401
        from accounts.conversion import register_bulk_operation

        register_bulk_operation()  # the managers' bulk conversion, a leads.bulk job
