"""The Phones 话机 tab in headless Chromium against the real system: the simulator's online phones
reach the tab with their details through poller, writer and api; a phone that drops changes its row
in place (SSE phone.online), one that registers appears, the counts follow, the page never reloads;
the gateway tabs still work beside it."""

from __future__ import annotations

import pytest
from playwright.async_api import Page, expect

from tests.browser.conftest import (
    FAST_POLLS,
    WAIT_MS,
    PageUnderTest,
    StartSystem,
    artifact,
    poll_until,
    wait_changed_in_place,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ROW = '[data-testid="phone-row"]'
POLLS = {**FAST_POLLS, "GetAllPhoneOnline": 1.0}


async def shown(page: Page) -> dict[str, bool]:
    cells: list[list[str]] = await page.eval_on_selector_all(
        ROW,
        """rows => rows.map(r => [r.dataset.e164,
                                  r.querySelector('[data-testid="phone-state"]').textContent])""",
    )
    result = {}
    for e164, state in cells:
        assert ("offline" in state) != ("online" in state), f"unclear state text {state!r}"
        result[e164] = "online" in state
    return result


async def counts(page: Page) -> dict[str, int]:
    el = page.get_by_test_id("count-phones")
    return {k: int(await el.get_attribute(f"data-{k}") or -1) for k in ("total", "online", "offline")}


async def test_phones_tab_shows_the_online_phones_and_changes_live(
    start_system: StartSystem, gateway_page: PageUnderTest
) -> None:
    system = await start_system(gateways=30, poll_intervals=POLLS)
    vos = system.sim.instances[0].state
    online = set(vos.online_phones())
    instance_id = await system.register()

    async def stored() -> bool:
        reply = await system.http.get(
            f"{system.api_url}/api/v1/instances/{instance_id}/phones",
            params={"online": "true", "limit": 1000},
        )
        items = reply.json()["items"]
        return {i["e164"] for i in items if i["product_id"]} == online

    await poll_until(stored, "the api to list the simulator's online phones with details")

    page = gateway_page.page
    await page.goto(f"{system.api_url}/#instance={instance_id}")
    await expect(page.locator('[data-testid="gw-row"]').first).to_be_visible(timeout=WAIT_MS)
    await page.get_by_test_id("tab-phones").click()
    await expect(page.locator(ROW)).to_have_count(len(online), timeout=WAIT_MS)
    await expect(page.get_by_test_id("gw-table")).to_be_hidden()
    assert await shown(page) == dict.fromkeys(online, True)
    assert await counts(page) == {"total": len(online), "online": len(online), "offline": 0}
    number = sorted(online)[0]
    entry = vos.phone_entry(number)
    assert entry is not None
    first = page.locator(f'{ROW}[data-e164="{number}"]')
    await expect(first.get_by_test_id("phone-ip")).to_have_text(entry["remoteIp"])
    await expect(first.get_by_test_id("phone-device")).to_have_text(entry["productId"])
    await expect(page.get_by_test_id("phones-live")).to_have_attribute("data-state", "open", timeout=WAIT_MS)

    # The phone drops in VOS: its row (the same DOM element) turns offline and flashes, no reload.
    await first.evaluate("r => { r.__sameRow = true; window.__sameDocument = true; }")
    vos.set_phone_online(number, False)
    await wait_changed_in_place(page, "phone-row", "e164", number, "phone-state", "offline")
    assert await counts(page) == {"total": len(online), "online": len(online) - 1, "offline": 1}
    await expect(first.get_by_test_id("phone-last-seen")).not_to_have_text("now 在线")

    # A new phone registers: it appears (the tab reloads its page once after the event).
    vos.set_phone_online("8613999999999", True)
    await expect(page.locator(f'{ROW}[data-e164="8613999999999"]')).to_be_visible(timeout=WAIT_MS)
    await expect(
        page.locator(f'{ROW}[data-e164="8613999999999"]').get_by_test_id("phone-state")
    ).to_contain_text("online")
    assert await counts(page) == {"total": len(online) + 1, "online": len(online), "offline": 1}
    assert await page.evaluate("window.__sameDocument === true")

    # Filters: offline only shows the dropped phone; search by number.
    await page.get_by_test_id("phones-filter-offline").click()
    await expect(page.locator(ROW)).to_have_count(1, timeout=WAIT_MS)
    await page.get_by_test_id("phones-filter-all").click()
    await page.get_by_test_id("phones-search").fill("8613999999999")
    await expect(page.locator(ROW)).to_have_count(1, timeout=WAIT_MS)
    await page.screenshot(path=artifact("phones-tab.png"))

    # Back to the gateways: their table again, the phones panel hidden.
    await page.get_by_test_id("tab-routing").click()
    await expect(page.get_by_test_id("gw-table")).to_be_visible()
    await expect(page.get_by_test_id("phones-panel")).to_be_hidden()
    await expect(page.locator('[data-testid="gw-row"][data-type="routing"]')).to_have_count(
        30, timeout=WAIT_MS
    )
    assert not gateway_page.errors
