"""Browser tests: Debian's Chromium driven by Playwright's Python package (sync API) against
pytest-django's live_server. Mark them `browser`; run them alone with `pytest -m browser`."""

from pathlib import Path

import pytest
from django.db import connections

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
PHONE = {"width": 375, "height": 740}


@pytest.fixture
def _orm_beside_playwright(monkeypatch):
    # Playwright's sync API keeps an asyncio event loop running in the test's thread, and Django
    # refuses ORM calls from a thread with a running loop (SynchronousOnlyOperation). The test's
    # ORM calls are plain blocking calls made between browser steps, never inside the loop, so
    # the guard is lifted, and only while a browser test runs (monkeypatch undoes it after).
    # The live server answers from its own thread, where the guard never fires.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture
def browser(_orm_beside_playwright):
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `make chromium` installs Debian's package.")
    from playwright.sync_api import sync_playwright

    # One Chromium per test: a session-wide one would leave the event loop running (and the
    # ORM guard off) for every test after it.
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        yield browser
        browser.close()
        # While Playwright's loop runs, asgiref gives this thread's ORM calls connections of
        # their own (kept in a context variable, apart from the test's usual ones): close them
        # here, or they outlive the test and the test database cannot be dropped.
        connections.close_all()


def _open(browser, **options):
    context = browser.new_context(**options)
    context.set_default_timeout(10_000)
    return context


@pytest.fixture
def page(browser):
    context = _open(browser)
    yield context.new_page()
    context.close()


@pytest.fixture
def phone(browser):
    context = _open(browser, viewport=PHONE, is_mobile=True, has_touch=True)
    yield context
    context.close()
