"""Old dotted path of the duplicates tasks: django-q2 stores task paths in queued tasks and ``Schedule.func``."""

from leads.dedup.tasks import scan_all_companies, scan_company  # noqa: F401
