"""Browser fixtures: Debian's Chromium (/usr/bin/chromium) driven by Playwright for Python, against a
real gunicorn (tests/live_server.py) whose provider is the loopback fake.

Without Chromium or the playwright package these tests are skipped, with a line saying how to install
them; with CI=true they fail instead (CI must run them: .ci/run installs Chromium).

One gunicorn for the package, one browser per module (a fresh user-data directory each), a new tab
per test (so a fresh sessionStorage), and every test ends by checking the page logged no error."""
import os
import re
import shutil
import tempfile

import pytest
from ..helpers import delete_rows, start_live_server

try:
    from playwright.sync_api import expect, sync_playwright
    expect.set_options(timeout=10_000)  # a loaded 2-core machine: seconds, not the default 5
except ImportError:  # pragma: no cover - depends on the machine
    sync_playwright = None

CHROMIUM = os.environ.get("PLAYGROUND_CHROMIUM", "/usr/bin/chromium")
# --headless: Debian's build is launched as is (no browser of Playwright's own is downloaded).
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
HOW_TO_INSTALL = "apt-get install -y chromium (as root), then make install (it brings the playwright package)"
IN_CI = os.environ.get("CI", "").lower() == "true"


def missing() -> str | None:
    if sync_playwright is None:
        return "the playwright package is not installed"
    if not os.access(CHROMIUM, os.X_OK):
        return f"{CHROMIUM} is not installed"
    return None


def require_browser() -> None:
    reason = missing()
    if reason:  # only reached with CI=true: elsewhere the tests are skipped at collection
        pytest.fail(f"CI=true and {reason}: the browser tests must run in CI ({HOW_TO_INSTALL})",
                    pytrace=False)


def pytest_collection_modifyitems(config, items):
    reason = missing()
    if reason and not IN_CI:
        skip = pytest.mark.skip(reason=f"browser tests need Chromium: {reason}; to run them: "
                                       f"{HOW_TO_INSTALL}")
        here = os.path.dirname(__file__)
        for item in items:
            if str(item.fspath).startswith(here):
                item.add_marker(skip)


@pytest.fixture(scope="package")
def server(live_database, fake_server, tmp_path_factory):
    """The real service (2 gevent workers) on an empty database, its provider the fake; provider
    answers are not cached, so a status check sees a change of the fake at once."""
    require_browser()  # before the seconds of starting a server for nothing
    log_path = tmp_path_factory.mktemp("playground") / "gunicorn.log"
    live = start_live_server(live_database(), fake_server.base_url, log_path, MODELS_CACHE_TTL="0")
    yield live
    live.stop()
    if live.env["DATABASE_URL"].startswith("postgresql"):  # shared with the other tests: leave it empty
        delete_rows(live.env["DATABASE_URL"])


@pytest.fixture(scope="module")
def browser_context():
    require_browser()
    profile = tempfile.mkdtemp(prefix="playground-chromium-")
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            profile, executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS,
            viewport={"width": 1100, "height": 760})
        context.set_default_timeout(10_000)
        yield context
        context.close()
    shutil.rmtree(profile, ignore_errors=True)


class ConsoleWatch:
    """Errors the page logged. Each test names the failed requests it causes on purpose."""

    def __init__(self, page):
        self.errors = []
        self.expected = []
        page.on("console", lambda message: message.type == "error" and self.errors.append(message.text))
        page.on("pageerror", lambda error: self.errors.append(f"uncaught: {error}"))

    def expect(self, pattern: str) -> None:
        self.expected.append(re.compile(pattern))

    def expect_status(self, *statuses: int) -> None:
        for status in statuses:
            self.expect(rf"^Failed to load resource: the server responded with a status of {status}\b")

    def unexpected(self) -> list[str]:
        return [error for error in self.errors if not any(p.search(error) for p in self.expected)]


@pytest.fixture
def page(server, browser_context, fake):
    """A new tab at the playground, the key's tenant emptied first; the tab must log no error."""
    assistants = server.request("GET", "/assistants?page_size=100").body
    for assistant in assistants:
        server.request("DELETE", f"/assistants/{assistant['id']}")
    tab = browser_context.new_page()
    tab.console_watch = ConsoleWatch(tab)
    tab.goto(server.url + "/")
    yield tab
    tab.close()
    assert tab.console_watch.unexpected() == [], "the page logged errors"


@pytest.fixture
def console(page):
    return page.console_watch
