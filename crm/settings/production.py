"""Production: SECRET_KEY and SITE_URL are mandatory, HTTPS is assumed, static files are hashed and compressed."""

from crm.env import env_bool, env_int, env_str, env_url

from .base import *  # noqa: F403

SECRET_KEY = env_str("SECRET_KEY", required=True)
SITE_URL = env_url(
    "SITE_URL",
    required=True,
    hint="the address users open the CRM at, e.g. https://crm.example.com (emails link to it).",
)
DEBUG = env_bool("DEBUG", False)

SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
