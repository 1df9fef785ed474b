import os
import subprocess
import sys
from pathlib import Path

import pytest

from crm.env import ConfigError, database_from_url, env_bool, env_int, q_cluster

BASE = Path("/srv/app")
ROOT = Path(__file__).resolve().parents[2]


def test_a_relative_sqlite_url_lives_in_the_project_with_wal_and_immediate_transactions():
    db = database_from_url("sqlite:///db.sqlite3", base_dir=BASE)
    assert db["ENGINE"] == "django.db.backends.sqlite3"
    assert db["NAME"] == "/srv/app/db.sqlite3"
    assert db["OPTIONS"]["transaction_mode"] == "IMMEDIATE"
    assert db["OPTIONS"]["timeout"] == 20
    assert "PRAGMA journal_mode=WAL;" in db["OPTIONS"]["init_command"]
    assert "PRAGMA busy_timeout=20000;" in db["OPTIONS"]["init_command"]


def test_an_absolute_sqlite_url_is_kept():
    assert database_from_url("sqlite:////var/lib/crm.db", base_dir=BASE)["NAME"] == "/var/lib/crm.db"


def test_a_postgres_url_switches_to_postgresql():
    db = database_from_url("postgres://crm:s%40cret@db.internal:6432/crm_prod?sslmode=require", base_dir=BASE)
    assert (db["ENGINE"], db["NAME"], db["USER"], db["PASSWORD"], db["HOST"], db["PORT"]) == (
        "django.db.backends.postgresql",
        "crm_prod",
        "crm",
        "s@cret",
        "db.internal",
        "6432",
    )
    assert db["OPTIONS"] == {"sslmode": "require"}


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mysql://root@localhost/crm", "DATABASE_URL has unsupported scheme 'mysql'"),
        ("localhost/crm", "DATABASE_URL has unsupported scheme '(none)'"),
        ("postgres://localhost", "names no PostgreSQL database"),
        ("sqlite://", "names no SQLite file"),
        ("postgres://localhost:notaport/crm", "has an invalid port"),
    ],
)
def test_a_bad_database_url_says_what_is_wrong(url, message):
    with pytest.raises(ConfigError) as error:
        database_from_url(url, base_dir=BASE)
    assert message in str(error.value)


def test_booleans_and_integers_fail_loudly(monkeypatch):
    monkeypatch.setenv("DEBUG", "maybe")
    monkeypatch.setenv("Q_WORKERS", "two")
    with pytest.raises(ConfigError) as bool_error:
        env_bool("DEBUG")
    with pytest.raises(ConfigError) as int_error:
        env_int("Q_WORKERS", 2)
    assert str(bool_error.value) == "DEBUG must be a boolean (true/false/1/0), got 'maybe'."
    assert str(int_error.value) == "Q_WORKERS must be an integer, got 'two'."


def test_django_q_uses_the_orm_broker_unless_redis_is_configured():
    assert q_cluster(None)["orm"] == "default"
    redis = q_cluster("redis://127.0.0.1:6379/1")
    assert redis["redis"] == "redis://127.0.0.1:6379/1"
    assert "orm" not in redis
    with pytest.raises(ConfigError):
        q_cluster("http://127.0.0.1:6379")


def test_test_settings_are_fast_and_offline(settings):
    assert settings.PASSWORD_HASHERS == ["django.contrib.auth.hashers.MD5PasswordHasher"]
    assert settings.EMAIL_BACKEND == "django.core.mail.backends.locmem.EmailBackend"
    assert settings.Q_CLUSTER["sync"] is True


def run_manage(env_overrides: dict, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "DATABASE_URL", "DJANGO_SETTINGS_MODULE")}
    env.update(env_overrides)
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )


def test_production_without_secret_key_stops_with_one_clear_line():
    result = run_manage({"DJANGO_SETTINGS_MODULE": "crm.settings.production"}, "check")
    assert result.returncode == 1
    assert result.stderr == "Configuration error: SECRET_KEY is required but not set.\n"


def test_a_bad_database_url_stops_startup_with_one_clear_line():
    result = run_manage({"DATABASE_URL": "mysql://root@localhost/crm"}, "check")
    assert result.returncode == 1
    assert result.stderr == (
        "Configuration error: DATABASE_URL has unsupported scheme 'mysql': "
        "use sqlite:///FILE or postgres://USER@HOST/DB.\n"
    )
