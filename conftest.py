import os

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright runs an event loop in the test thread
import contextlib
import shlex
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlencode

import pytest
from django.db import connection
from django_q.conf import Conf

from crm.testing.cast import build_cast
from crm.worker import worker_status


@pytest.fixture
def cast(db):
    return build_cast()


@pytest.fixture
def client_for(client):
    """Log the test client in as the given membership's user."""

    def login(membership):
        client.force_login(membership.user)
        return client

    return login


# --- browser tests ------------------------------------------------------------------------------

CHROMIUM = os.environ.get("CRM_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


def pytest_collection_modifyitems(config, items):
    """Browser tests need Debian's Chromium. Locally they skip with a visible reason when it is
    missing; in CI (CRM_REQUIRE_BROWSER=1) a missing browser is a failure, never a skip."""
    if shutil.which(CHROMIUM) or os.path.exists(CHROMIUM):
        return
    if os.environ.get("CRM_REQUIRE_BROWSER") == "1":
        raise pytest.UsageError(f"CRM_REQUIRE_BROWSER=1 but Chromium is missing at {CHROMIUM}")
    skip = pytest.mark.skip(reason=f"Chromium not installed at {CHROMIUM} (apt-get install chromium)")
    for item in items:
        if "browser" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS, "headless": True}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {**browser_context_args, "viewport": {"width": 1280, "height": 900}}


# --- a background worker as `make demo` runs it ------------------------------------------------

PROCFILE = Path(__file__).resolve().parent / "Procfile"
DEMO_SETTINGS = "crm.settings.dev"  # manage.py's default: what `make demo` and its worker run with
WORKER_START_TIMEOUT_S = 60
WORKER_STOP_TIMEOUT_S = 20


def procfile_command(process: str) -> list[str]:
    """The command line of one process of the Procfile, e.g. ``worker: python manage.py qcluster``."""
    for line in PROCFILE.read_text(encoding="utf-8").splitlines():
        name, colon, command = line.partition(":")
        if colon and not name.lstrip().startswith("#") and name.strip() == process:
            return shlex.split(command)
    raise LookupError(f"{PROCFILE} has no {process!r} process.")


def database_url(db: dict) -> str:
    """The ``DATABASE_URL`` (as ``crm.env.database_from_url`` reads it) of the database ``db`` names."""
    if db["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{Path(db['NAME']).resolve()}"
    user, password = quote(db["USER"] or "", safe=""), quote(db["PASSWORD"] or "", safe="")
    credentials = f"{user}:{password}@" if password else f"{user}@" if user else ""
    port = f":{db['PORT']}" if db["PORT"] else ""
    query = f"?{urlencode(db['OPTIONS'])}" if db["OPTIONS"] else ""
    return f"postgres://{credentials}{db['HOST'] or ''}{port}/{quote(db['NAME'], safe='')}{query}"


@dataclass
class ProcfileWorker:
    """The Procfile's ``worker`` process: ``start()`` runs it and returns once its heartbeat is seen
    (what the pages' "No background worker" warning reads); the fixture stops it at teardown."""

    command: list[str]
    env: dict[str, str]
    log_path: Path
    process: subprocess.Popen | None = None

    def start(self) -> None:
        assert self.process is None, "The worker is already running."
        with open(self.log_path, "wb") as log:  # the child keeps its own copy of the handle
            self.process = subprocess.Popen(  # noqa: S603 — our Procfile's command, our interpreter
                self.command,
                cwd=PROCFILE.parent,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + WORKER_START_TIMEOUT_S
        while not worker_status().alive:
            if time.monotonic() > deadline:
                pytest.fail(f"No heartbeat from `{self}` within {WORKER_START_TIMEOUT_S} s:\n{self.log()}")
            with contextlib.suppress(subprocess.TimeoutExpired):  # waiting on the process sees it die at once
                code = self.process.wait(timeout=0.25)
                pytest.fail(f"`{self}` exited with status {code}:\n{self.log()}")

    def stop(self) -> None:
        """SIGTERM (qcluster stops its workers and exits), then SIGKILL to whatever of its process
        group is left, so that no process holds the test database when it is flushed or dropped."""
        if self.process is None:
            return
        self.process.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=WORKER_STOP_TIMEOUT_S)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")[-4000:]

    def __str__(self) -> str:
        return shlex.join(self.command)


@pytest.fixture
def procfile_worker(transactional_db, settings, monkeypatch, tmp_path):
    """The Procfile's ``worker`` command run as ``make demo`` runs it: a separate process with the
    demo settings, pointed at this test's database, sharing the uploaded files and the cache
    (progress, heartbeats) with the test and its ``live_server``. Nothing runs until the test calls
    ``procfile_worker.start()``, so it can look at the pages without a worker first; it is stopped
    at teardown. The database must be committed (the fixture makes the test transactional) and a
    file or a server: a worker in another process cannot see an in-memory SQLite database."""
    db = connection.settings_dict
    if connection.vendor == "sqlite" and db["NAME"].startswith(("file:", ":memory:")):
        pytest.fail("The worker needs a file database shared with the test.")
    media, cache_dir = tmp_path / "media", tmp_path / "cache"
    settings.MEDIA_ROOT = str(media)
    settings.STORAGES = {**settings.STORAGES, "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"}}
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
                                   "LOCATION": str(cache_dir)}}  # fmt: skip
    monkeypatch.setattr(Conf, "SYNC", False)  # queue work for the worker instead of running it in the request
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": DEMO_SETTINGS,
        "DATABASE_URL": database_url(db),
        "SECRET_KEY": settings.SECRET_KEY,  # queued tasks and heartbeats are signed with it
        "MEDIA_ROOT": str(media),
        "CACHE_DIR": str(cache_dir),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",  # as `make demo`
    }
    env.pop("REDIS_URL", None)  # the test's broker is the database
    worker = ProcfileWorker(procfile_command("worker"), env, tmp_path / "worker.log")
    yield worker
    worker.stop()


# Register every app's URL object makers for the isolation walk.
import accounts.testing.factories  # noqa: E402, F401
import leads.testing.factories  # noqa: E402, F401
import nurturing.testing.factories  # noqa: E402, F401
