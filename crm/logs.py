"""Logging filters named in ``settings.LOGGING``."""

import logging


class ClientErrorsWithoutTraceback(logging.Filter):
    """Keep one line for a 4xx (a 403 raised as ``PermissionDenied``, a 400, a request for a host
    not in ``ALLOWED_HOSTS``) but drop the traceback Django attaches and log it as a WARNING at most:
    the client erred, the server did not, and the log stays readable."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "status_code", 500) < 500:
            record.exc_info = None
            record.exc_text = None
            if record.levelno > logging.WARNING:
                record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True
