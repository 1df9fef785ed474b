"""Settings shared by every environment. Values that differ between machines come from the
environment through ``crm.env`` and fail loudly when malformed."""

from datetime import timedelta
from pathlib import Path

from csp.constants import NONE, SELF

from crm.env import database_from_url, env_bool, env_int, env_list, env_rate, env_str, env_url, q_cluster

BASE_DIR = Path(__file__).resolve().parent.parent.parent

SECRET_KEY = env_str("SECRET_KEY", "dev-only-insecure-key-change-me")
DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost"])
# Where users open the CRM: emails (written by workers, with no request at hand) link to SITE_URL + path.
SITE_URL = env_url("SITE_URL", "http://127.0.0.1:8000")
# How many reverse proxies in front of the app append to X-Forwarded-For: the client address used by
# login lockouts and API throttles is the one the outermost of them saw. 0: REMOTE_ADDR.
NUM_PROXIES = env_int("NUM_PROXIES", 0)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_filters",
    "import_export",
    "simple_history",
    "django_q",
    "rest_framework",
    "drf_spectacular",
    "axes",
    "csp",
    "crm",
    "leads",
    "accounts",
    "nurturing",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    "crm.middleware.TenantMiddleware",
    # Last, as django-axes asks: turns a locked-out login into its 429 response.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "crm.urls"
WSGI_APPLICATION = "crm.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "crm.context_processors.tenant",
            ],
        },
    },
]

DATABASES = {"default": database_from_url(env_str("DATABASE_URL", "sqlite:///db.sqlite3"), base_dir=BASE_DIR)}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "crm.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # refuses a locked-out login before the password is checked
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "media/"
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(BASE_DIR / "media")))

EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "crm@localhost")
# A sequence email claimed longer ago than this and never recorded is marked "unknown" (never re-sent).
NURTURING_STALE_CLAIM_MINUTES = env_int("NURTURING_STALE_CLAIM_MINUTES", 15)

# --- Leads: imports, bulk jobs, assignment e-mails -----------------------------------------------
# An uploaded import file larger than this many bytes, or with more data rows, is refused whole.
IMPORT_MAX_BYTES = env_int("IMPORT_MAX_BYTES", 32 * 1024 * 1024)
IMPORT_MAX_ROWS = env_int("IMPORT_MAX_ROWS", 250_000)
# An .xlsx is a zip: its unpacked size is capped too, so a small "zip bomb" cannot fill memory.
IMPORT_MAX_XLSX_UNPACKED_BYTES = env_int("IMPORT_MAX_XLSX_UNPACKED_BYTES", 256 * 1024 * 1024)
# Bulk operations on at most this many leads run in the request; larger ones go to a worker.
CRM_BULK_INLINE_LIMIT = env_int("CRM_BULK_INLINE_LIMIT", 2_000)
# Send "leads assigned to you" e-mails from a worker instead of the request that assigned them.
ASSIGNMENT_NOTIFY_ASYNC = env_bool("ASSIGNMENT_NOTIFY_ASYNC", False)

REDIS_URL = env_str("REDIS_URL")
# The cache carries live progress of long jobs between worker and web processes: Redis when
# configured, otherwise files (shared by every process on one machine).
CACHES = {
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
        if REDIS_URL
        else {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": env_str("CACHE_DIR", str(BASE_DIR / "var" / "cache")),
        }
    )
}
Q_CLUSTER = q_cluster(REDIS_URL)

# --- Login throttling (django-axes) --------------------------------------------------------------
# LOGIN_FAILURE_LIMIT wrong passwords for one email, or from one address, lock both out for
# LOGIN_LOCKOUT_MINUTES, counted from the last failure; the login page says how long is left.
# Both login pages (the app's and the admin's) go through it; a password reset lifts the lock
# on that email (the address lock stays).
AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5)
# From the LOGIN_SLOW_AFTER-th failure on, each further try waits 2, 4, 8 … (at most 60) seconds
# after the last failure; a try refused for that is not counted and never reaches the password check.
LOGIN_SLOW_AFTER = env_int("LOGIN_SLOW_AFTER", 3)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("LOGIN_LOCKOUT_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_USERNAME_FORM_FIELD = "username"  # the login forms post the email as "username"
AXES_USERNAME_CALLABLE = "crm.security.login_username"
AXES_CLIENT_IP_CALLABLE = "crm.security.client_ip"
AXES_LOCKOUT_CALLABLE = "crm.security.lockout_response"
# Attempts made while locked out do not restart the clock, so the minutes shown are the truth.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_HTTP_RESPONSE_CODE = 429
# Password-reset requests: per address and per email (DRF's throttle history, in the cache).
PASSWORD_RESET_RATE = env_rate("PASSWORD_RESET_RATE", "5/hour")

# --- Content-Security-Policy (django-csp) ---------------------------------------------------------
# Everything is served from here (static/ holds the vendored htmx, Pico CSS and Swagger UI); no
# inline script or style anywhere. data: images are the SVG icons inside Pico's and Swagger UI's CSS.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "frame-ancestors": [NONE],
        "form-action": [SELF],
    }
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "crm.api_auth.ApiTokenAuthentication",  # members' named, hashed tokens (profile page)
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    # Per user (all their tokens together) and per address for anonymous calls; 429 with Retry-After.
    "DEFAULT_THROTTLE_CLASSES": ["crm.throttling.UserRateThrottle", "crm.throttling.AnonRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {
        "user": env_rate("API_RATE_USER", "600/minute"),
        "anon": env_rate("API_RATE_ANON", "60/minute"),
    },
    "NUM_PROXIES": NUM_PROXIES,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "CRM API",
    "DESCRIPTION": (
        "Leads, statuses, comments and activities, per company. Authenticate with "
        "`Authorization: Token <key>` (or the browser session). Errors are JSON: "
        '`{"field": ["message", ...]}` for bad input (400; `non_field_errors` for the record as a whole), '
        '`{"detail": "..."}` otherwise.'
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Neither the schema nor its docs page is public.
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    # Swagger UI is vendored (static/vendor/swagger-ui): the docs page works with no network.
    "SWAGGER_UI_DIST": "/static/vendor/swagger-ui",
    "SWAGGER_UI_FAVICON_HREF": "/static/vendor/swagger-ui/favicon-32x32.png",
    # Choice sets that several schemas share get one name instead of a hash-suffixed guess.
    "ENUM_NAME_OVERRIDES": {"ExportFormatEnum": "leads.models.ExportFormat"},
}

SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False  # htmx reads the token from the page, not the cookie
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"

# A 403 or 404 is a client's mistake: django.request logs one line for it, never a traceback; so
# is a request for a host not in ALLOWED_HOSTS (a 400: one WARNING line, not an ERROR with a traceback).
# crm.security logs lockouts and refused password resets (WARNING); axes itself only its warnings.
LOG_FILTERS = {"client_errors_without_traceback": {"()": "crm.logs.ClientErrorsWithoutTraceback"}}
LOG_LOGGERS = {
    "django.request": {"filters": ["client_errors_without_traceback"]},
    "django.security.DisallowedHost": {"filters": ["client_errors_without_traceback"]},
    "axes": {"level": "WARNING"},
}
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": LOG_FILTERS,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": LOG_LOGGERS,
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
}
