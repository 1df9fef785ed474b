import os

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright runs an event loop in the test thread
import shutil

import pytest

from crm.testing.cast import build_cast


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


# Register every app's URL object makers for the isolation walk.
import accounts.testing.factories  # noqa: E402, F401
import leads.testing.factories  # noqa: E402, F401
import nurturing.testing.factories  # noqa: E402, F401
