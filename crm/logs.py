"""Logging filters named in ``settings.LOGGING``."""

import logging


class ClientErrorsWithoutTraceback(logging.Filter):
    """Keep django.request's one line for a 4xx (a 403 raised as ``PermissionDenied``, a 400) but drop
    the traceback Django attaches: the client erred, the server did not, and the log stays readable."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "status_code", 500) < 500:
            record.exc_info = None
            record.exc_text = None
        return True
