"""/docs and /redoc in a real headless Chromium (Debian's package) with no network but the API's.

The API runs as `./dev api` runs it (uvicorn, a real port); every request the pages make to any
other host is aborted and recorded, so a page that still needs a CDN fails here as it would
offline. Saves screenshots to `test-artifacts/` (CI keeps them).
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import Page, Route, sync_playwright

from headway_assets.core.warehouse.database import migrate
from tests.api.support import JWT_SECRET
from tests.conftest import IN_CI, REPO_ROOT
from tests.orchestration.conftest import VENV_BIN, free_port, stop_process
from tests.orchestration.test_browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS

pytestmark = pytest.mark.slow

START_TIMEOUT = 60.0


@pytest.fixture
def api_url(tmp_path: Path) -> Iterator[str]:
    """The read API served by uvicorn on a free local port over an empty, migrated SQLite warehouse."""
    url = f"sqlite:///{tmp_path / 'warehouse.db'}"
    migrate(url)
    port = free_port()
    env = {
        **os.environ,
        "HEADWAY_DATABASE_URL": url,
        "HEADWAY_DATA_DIR": str(tmp_path),
        "JWT_SECRET_KEY": JWT_SECRET,
    }
    log = (tmp_path / "uvicorn.log").open("wb")
    process = subprocess.Popen(
        [str(VENV_BIN / "uvicorn"), "headway_api.main:app", "--host", "127.0.0.1", "--port", str(port)],
        cwd=REPO_ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group, so stop_process ends it and nothing else
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            assert process.poll() is None, (tmp_path / "uvicorn.log").read_text()
            try:
                if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the API did not start: " + (tmp_path / "uvicorn.log").read_text()
            time.sleep(0.2)
        yield base
    finally:
        stop_process(process)
        log.close()


@pytest.fixture
def offline_page(api_url: str) -> Iterator[tuple[Page, list[str], list[str]]]:
    """A Chromium page that may reach only the API: (the page, URLs it tried elsewhere, console errors)."""
    if not Path(CHROMIUM).exists():
        if IN_CI:
            pytest.fail("chromium is required under CI=true (./dev installs Debian's package)", pytrace=False)
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    ARTIFACTS.mkdir(exist_ok=True)
    local = urlsplit(api_url).netloc
    elsewhere: list[str] = []

    def only_the_api(route: Route) -> None:
        if urlsplit(route.request.url).netloc == local:
            route.continue_()
        else:
            elsewhere.append(route.request.url)
            route.abort("internetdisconnected")

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1440, "height": 900})
        context.route("**/*", only_the_api)
        page = context.new_page()
        errors: list[str] = []
        page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
        yield page, elsewhere, errors
        browser.close()


def test_docs_and_redoc_render_with_no_network_but_the_api(
    api_url: str, offline_page: tuple[Page, list[str], list[str]]
) -> None:
    page, elsewhere, errors = offline_page
    document = httpx.get(f"{api_url}/openapi.json", timeout=10).json()
    operations = sum(len(methods) for methods in document["paths"].values())
    assert operations > 10

    page.goto(f"{api_url}/docs", wait_until="networkidle")
    page.wait_for_selector(".opblock", timeout=30_000)
    # One block per operation: Swagger UI read the whole schema and rendered it.
    assert page.locator(".opblock").count() == operations
    assert "Headway API" in page.inner_text(".info .title")
    assert page.locator(".opblock-summary-path", has_text="/v1/insights/{insight_id}").count() == 1
    page.screenshot(path=str(ARTIFACTS / "api-docs-swagger.png"), full_page=False)

    page.goto(f"{api_url}/redoc", wait_until="networkidle")
    page.wait_for_selector("h1", timeout=30_000)
    assert "Headway API" in page.inner_text("h1")
    menu = page.locator("[role=menuitem], li[data-item-id] label")
    assert menu.count() >= operations
    assert "List period insights" in page.inner_text("body")
    page.screenshot(path=str(ARTIFACTS / "api-docs-redoc.png"), full_page=False)

    assert elsewhere == [], f"the docs pages tried to reach other hosts: {elsewhere}"
    # The one thing the pages' Content-Security-Policy refuses is ReDoc's badge logo (then hidden).
    refused = [error for error in errors if "Content Security Policy" in error]
    assert all("cdn.redoc.ly/redoc/logo-mini.svg" in error for error in refused), refused
    assert not [error for error in errors if error not in refused], errors
    for name in ("api-docs-swagger.png", "api-docs-redoc.png"):
        assert (ARTIFACTS / name).stat().st_size > 20_000, name
