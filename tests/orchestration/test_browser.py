"""The Dagster UI in a real headless Chromium (Debian's package), against the test deployment.

Saves screenshots to `test-artifacts/` (CI keeps them).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, sync_playwright

from headway_assets.testing.graphql import ALL_ASSETS
from tests.conftest import IN_CI, REPO_ROOT
from tests.orchestration.conftest import Deployment

pytestmark = pytest.mark.slow

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = REPO_ROOT / "test-artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
def page(deployment: Deployment) -> Iterator[Page]:
    """A Chromium page (Playwright driving the system browser; nothing is downloaded)."""
    if not Path(CHROMIUM).exists():
        if IN_CI:
            pytest.fail("chromium is required under CI=true (./dev installs Debian's package)", pytrace=False)
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1440, "height": 900})
        yield context.new_page()
        browser.close()


def _open(page: Page, url: str) -> str:
    """Open `url`, dismiss Dagster's first-visit dialog, and return the page's text."""
    page.goto(url, wait_until="networkidle")
    skip = page.get_by_role("button", name="Skip")
    if skip.count():
        skip.first.click()
    page.wait_for_timeout(1500)
    return page.inner_text("body")


def test_the_ui_shows_assets_partitions_schedules_and_sensors(deployment: Deployment, page: Page) -> None:
    base = deployment.webserver_url
    catalog = _open(page, f"{base}/assets")
    for asset in ALL_ASSETS:
        assert asset in catalog, f"{asset} missing from the asset catalog"
    assert "ingestion" in catalog and "ai" in catalog

    graph = _open(page, f"{base}/asset-groups")
    assert "ingestion" in graph and "ai" in graph
    page.screenshot(path=str(ARTIFACTS / "asset-graph.png"), full_page=True)

    partitions = _open(page, f"{base}/assets/raw_slack_messages?view=partitions")
    assert "Partitions" in partitions
    assert "2026-10-01" in partitions or "Partitions Selected" in partitions
    page.screenshot(path=str(ARTIFACTS / "raw-slack-partitions.png"), full_page=True)

    automation = _open(page, f"{base}/automation")
    sensors_and_schedules = (
        "periodic_sync",
        "daily_close",
        "sync_requests",
        "incomplete_partitions",
        "run_failures",
        "ai_automation",
    )
    for name in sensors_and_schedules:
        assert name in automation, f"{name} missing from the automation page"
    page.screenshot(path=str(ARTIFACTS / "automation.png"), full_page=True)
    assert (ARTIFACTS / "asset-graph.png").stat().st_size > 10_000
