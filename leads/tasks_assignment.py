"""Old dotted path of the assignment tasks: django-q2 stores task paths in queued tasks and ``Schedule.func``."""

from leads.assignment.tasks import assign_pool, notify_assignments, rescore_company  # noqa: F401
