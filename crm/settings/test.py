"""Test settings: fast hashing, in-memory email, django-q2 in sync mode."""

import os
import tempfile

from crm.env import q_cluster

from .base import *  # noqa: F403

DEBUG = False
SECRET_KEY = "test-secret-key-not-for-production-0123456789abcdefghijklmnopqrstuvwxyz"  # noqa: S105
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
Q_CLUSTER = q_cluster(None, sync=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
ALLOWED_HOSTS = ["testserver", "localhost", "127.0.0.1"]
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": LOG_FILTERS,  # noqa: F405
    "loggers": LOG_LOGGERS,  # noqa: F405
    "root": {"level": "WARNING"},
}

# SQLite tests use a per-process file (not :memory:) so that threads and django-q2 worker processes
# in concurrency tests share the test database; PostgreSQL is unaffected.
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["TEST"] = {"NAME": os.path.join(tempfile.gettempdir(), f"crm-test-{os.getpid()}.sqlite3")}
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

SITE_URL = "http://testserver"
# The test client's login() calls authenticate() without a request, which axes refuses; this
# backend lets those through unthrottled. Logins through the pages are throttled as in production.
AUTHENTICATION_BACKENDS = ["crm.testing.auth.RequestOptionalAxesBackend", "django.contrib.auth.backends.ModelBackend"]
# High enough that no test is throttled by accident; throttling tests lower them.
REST_FRAMEWORK = {
    **REST_FRAMEWORK,  # noqa: F405
    "DEFAULT_THROTTLE_RATES": {"user": "100000/minute", "anon": "100000/minute"},
}
PASSWORD_RESET_RATE = "100000/minute"  # noqa: S105 — a rate, not a password

# Tests of the lockout log in several times in a row; the slow-down has its own test that lowers this.
LOGIN_SLOW_AFTER = 1000
