"""A real browser for the web chat's tests: Debian's Chromium driven by Playwright.

No browser is downloaded: Playwright launches the system's Chromium (`apt-get install
chromium`; `.ci/run` installs it). EADESK_CHROMIUM points at another binary.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Browser, async_playwright

CANDIDATES = ("chromium", "chromium-browser", "/usr/lib/chromium/chromium")


def chromium_path() -> str | None:
    """The Chromium binary to drive, or None when the machine has none."""
    configured = os.environ.get("EADESK_CHROMIUM")
    if configured:
        usable = os.path.isfile(configured) and os.access(configured, os.X_OK)
        return configured if usable else None
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


@contextlib.asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    """Headless Chromium; the test is skipped when the machine has no Chromium binary."""
    path = chromium_path()
    if path is None:
        pytest.skip("no Chromium binary on this machine (apt-get install chromium)")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=path,
            headless=True,
            # As root (CI) Chromium refuses its sandbox; /dev/shm is small in containers.
            args=["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"],
        )
        try:
            yield browser
        finally:
            await browser.close()
