#!/usr/bin/env python
"""Django's command-line utility. A configuration error stops it with one clear line."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm.settings.dev")
    from django.conf import settings
    from django.core.management import execute_from_command_line

    from crm.env import ConfigError

    try:
        settings.INSTALLED_APPS  # noqa: B018 — load settings now so errors surface here
    except ConfigError as error:
        sys.exit(f"Configuration error: {error}")
    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
