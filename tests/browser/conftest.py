"""Browser fixtures: the test app served by waitress on a loopback port, driven by Debian's
chromium through Playwright (never a downloaded browser: `playwright install` is not used).

Without /usr/bin/chromium the browser tests are skipped, unless YANXIU_REQUIRE_BROWSER=1
(CI), in which case they fail. The server runs in a thread of the test process; the peewee
database proxy is shared and its connections are per thread, so the same fixtures serve SQLite
and the PostgreSQL of YANXIU_TEST_DATABASE_URL.
"""
import os
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.live_server import CHROMIUM, CHROMIUM_ARGS, serve_in_thread

SCREENSHOTS = Path(__file__).resolve().parents[1] / "screenshots"


def _require_chromium() -> None:
    if os.path.exists(CHROMIUM):
        return
    message = f"{CHROMIUM} not found: install Debian's chromium package (apt-get install chromium)"
    if os.environ.get("YANXIU_REQUIRE_BROWSER") == "1":
        pytest.fail(f"YANXIU_REQUIRE_BROWSER=1 but {message}", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def browser():
    """One headless chromium for the session (launching takes a second or two)."""
    _require_chromium()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:  # pragma: no cover - the dev extra installs it
        if os.environ.get("YANXIU_REQUIRE_BROWSER") == "1":
            pytest.fail("playwright is not installed (pip install -e '.[dev]')", pytrace=False)
        pytest.skip("playwright is not installed")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                             args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@dataclass
class LiveServer:
    url: str

    def __call__(self, path: str = "/") -> str:
        return self.url + path




@pytest.fixture
def live_server(app, tree, browser):
    """The test app with the fixture tree, served over HTTP for the length of one test."""
    url, stop = serve_in_thread(app)
    yield LiveServer(url)
    stop()


@pytest.fixture
def context(browser):
    """A fresh browser context (own cookies) at 1280×800, closed after the test."""
    ctx = browser.new_context(viewport={"width": 1280, "height": 800}, locale="zh-CN")
    ctx.set_default_timeout(5000)
    yield ctx
    ctx.close()


@pytest.fixture
def page(context):
    """A page that records console errors and uncaught exceptions in `page.problems`."""
    page = context.new_page()
    problems: list[str] = []

    def on_console(msg):
        if msg.type in ("error", "warning"):
            problems.append(f"console {msg.type}: {msg.text} ({msg.location.get('url', '')})")

    page.on("console", on_console)
    page.on("pageerror", lambda err: problems.append(f"pageerror: {err}"))
    page.on("response", lambda r: problems.append(f"HTTP {r.status}: {r.url}")
            if r.status >= 400 else None)
    page.problems = problems
    return page
