"""The sender in a process of its own, for tests that kill it mid-send. Started with "spawn", so it
shares nothing with the test process: a forked child inherits the parent's database sockets, and
one closed on either side breaks the other's connection."""

from __future__ import annotations

import os

# What the test process may have changed and the sender reads: the SMTP server, the site's address.
SETTINGS = (
    "EMAIL_BACKEND",
    "EMAIL_HOST",
    "EMAIL_PORT",
    "EMAIL_USE_TLS",
    "EMAIL_HOST_USER",
    "EMAIL_HOST_PASSWORD",
    "SITE_URL",
)


def send_due(settings_module: str, database_name: str, overrides: dict) -> None:
    """Run one ``nurturing.sending.send_due`` against ``database_name`` (the test database)."""
    os.environ["DJANGO_SETTINGS_MODULE"] = settings_module
    import django

    django.setup()
    from django.conf import settings
    from django.db import connection

    for name, value in overrides.items():
        setattr(settings, name, value)
    connection.settings_dict["NAME"] = database_name
    from nurturing import sending

    sending.send_due()
