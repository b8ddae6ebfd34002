"""The gateway page checked in headless Chromium against a running `vosync up` (used by the
launcher's end-to-end test, which already has the whole system up)."""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
from pathlib import Path

from playwright.sync_api import expect, sync_playwright

from tests.browser.conftest import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, GATEWAY_ROW


def chromium_available() -> bool:
    return CHROMIUM.exists()


def _flip(sim_url: str, gateway_type: str, name: str, online: bool) -> None:
    path = f"/_sim/gateways/{gateway_type}/{urllib.parse.quote(name, safe='')}/online"
    request = urllib.request.Request(
        sim_url + path,
        data=json.dumps({"online": online}).encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=5) as resp:
        assert resp.status == 200


def check_live_page(api_url: str, sim_url: str, truth: dict[str, bool]) -> Path:
    """Rows match the simulator; a gateway flipped offline changes its row without a reload."""
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1360, "height": 900})
            page.goto(f"{api_url}/#instance=1")
            expect(page.locator(GATEWAY_ROW).first).to_be_visible(timeout=20_000)
            expect(page.locator(GATEWAY_ROW)).to_have_count(len(truth), timeout=20_000)
            for name, online in truth.items():
                state = page.locator(f'{GATEWAY_ROW}[data-name="{name}"] [data-testid="gw-state"]')
                expect(state).to_contain_text("online" if online else "offline", timeout=20_000)
            name = next(n for n, online in truth.items() if online)
            page.evaluate("window.__notReloaded = true")
            _flip(sim_url, "mapping", name, online=False)
            state = page.locator(f'{GATEWAY_ROW}[data-name="{name}"] [data-testid="gw-state"]')
            expect(state).to_contain_text("offline", timeout=20_000)
            assert page.evaluate("window.__notReloaded === true"), "the page reloaded"
            ARTIFACTS.mkdir(exist_ok=True)
            shot = ARTIFACTS / "launcher-page.png"
            page.screenshot(path=str(shot), full_page=False)
            return shot
        finally:
            browser.close()
