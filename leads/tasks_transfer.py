"""Old dotted path of the transfer tasks: django-q2 stores task paths in queued tasks and ``Schedule.func``."""

from leads.transfer.tasks import revert_import, run_export, run_import, run_scheduled_export  # noqa: F401
