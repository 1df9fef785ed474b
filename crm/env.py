"""Typed, fail-loud readers for settings that come from the environment.

Every helper raises ``ConfigError`` with one line that names the variable, so a bad value stops
startup with a message an operator can act on instead of a stack trace.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


class ConfigError(ImproperlyConfigured):
    """A setting read from the environment is missing or invalid."""


def env_str(name: str, default: str | None = None, *, required: bool = False) -> str | None:
    value = os.environ.get(name)
    if value is None or value == "":
        if required:
            raise ConfigError(f"{name} is required but not set.")
        return default
    return value


def env_bool(name: str, default: bool = False) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ConfigError(f"{name} must be a boolean (true/false/1/0), got {raw!r}.")


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be an integer, got {raw!r}.") from None


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return list(default)
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_url(name: str, default: str | None = None, *, required: bool = False, hint: str = "") -> str | None:
    """An absolute ``http(s)://host[:port][/path]`` URL without a trailing slash (``None`` when unset
    and not required). ``hint`` ends the "required" message: what the URL is for."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        if required:
            raise ConfigError(f"{name} is required but not set{': ' + hint if hint else '.'}")
        return default
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise ConfigError(f"{name} must be an absolute http(s) URL such as https://crm.example.com, got {raw!r}.")
    return raw.rstrip("/")


_RATE_PERIODS = {"s", "sec", "second", "m", "min", "minute", "h", "hour", "d", "day"}


def env_rate(name: str, default: str) -> str:
    """A request rate as Django REST framework reads it: ``<count>/<second|minute|hour|day>``."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    count, _, period = raw.partition("/")
    if not count.isdigit() or int(count) < 1 or period not in _RATE_PERIODS:
        raise ConfigError(f"{name} must be a rate such as 100/minute (count/second|minute|hour|day), got {raw!r}.")
    return raw


SQLITE_BUSY_TIMEOUT_S = 20


def sqlite_database(path: str) -> dict:
    """SQLite tuned for a web app: WAL, IMMEDIATE write transactions and a busy timeout."""
    return {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": path,
        "OPTIONS": {
            "transaction_mode": "IMMEDIATE",
            "timeout": SQLITE_BUSY_TIMEOUT_S,
            "init_command": (
                "PRAGMA journal_mode=WAL;"
                "PRAGMA synchronous=NORMAL;"
                f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_S * 1000};"
                "PRAGMA foreign_keys=ON;"
                "PRAGMA cache_size=-64000;"
                "PRAGMA temp_store=MEMORY;"
            ),
        },
    }


def database_from_url(url: str, *, base_dir: Path) -> dict:
    """Parse ``sqlite:///relative.db``, ``sqlite:////abs.db`` or ``postgres://user@host/db``."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme == "sqlite":
        raw_path = unquote(parts.path)
        if raw_path in ("", "/"):
            raise ConfigError(f"DATABASE_URL {url!r} names no SQLite file (use sqlite:///db.sqlite3).")
        name = raw_path[1:] if raw_path.startswith("/") else raw_path
        if name != ":memory:" and not Path(name).is_absolute():
            name = str(base_dir / name)
        return sqlite_database(name)
    if scheme in ("postgres", "postgresql", "pgsql"):
        db_name = unquote(parts.path.lstrip("/"))
        if not db_name:
            raise ConfigError(f"DATABASE_URL {url!r} names no PostgreSQL database.")
        try:
            port = parts.port
        except ValueError:
            raise ConfigError(f"DATABASE_URL {url!r} has an invalid port.") from None
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": db_name,
            "USER": unquote(parts.username or ""),
            "PASSWORD": unquote(parts.password or ""),
            "HOST": parts.hostname or "",
            "PORT": str(port or ""),
            "CONN_MAX_AGE": 60,
            "CONN_HEALTH_CHECKS": True,
            "OPTIONS": dict(parse_qsl(parts.query)),
        }
    raise ConfigError(
        f"DATABASE_URL has unsupported scheme {scheme or '(none)'!r}: use sqlite:///FILE or postgres://USER@HOST/DB."
    )


def q_cluster(redis_url: str | None, *, sync: bool = False) -> dict:
    """django-q2 settings: the ORM broker by default, Redis when ``REDIS_URL`` is set."""
    config = {
        "name": "crm",
        "workers": env_int("Q_WORKERS", 2),
        "timeout": 600,
        "retry": 900,
        "max_attempts": 1,
        "catch_up": False,
        "sync": sync,
        "orm": "default",
        "save_limit": 1000,
        "ack_failures": True,
    }
    if redis_url:
        parts = urlsplit(redis_url)
        if parts.scheme not in ("redis", "rediss"):
            raise ConfigError(f"REDIS_URL must start with redis:// or rediss://, got {redis_url!r}.")
        config.pop("orm")
        config["redis"] = redis_url
    return config
