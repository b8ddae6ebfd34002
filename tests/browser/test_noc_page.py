"""The page a NOC lives in, in headless Chromium against the real system: live figures (ASR, ACD and
calls change as online polls land, driven by the writer's change notes), the overview of all
instances, the gateway drawer with its uptime bars, transitions and charts, the event feed and the
CSV export of the current view."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from playwright.async_api import expect

from tests.browser.conftest import (
    GATEWAY_ROW,
    WAIT_MS,
    PageUnderTest,
    StartSystem,
    artifact,
    first_online,
    gateway_row,
    open_page,
    poll_until,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]


async def test_live_figures_change_in_place_when_the_simulator_changes_them(
    start_system: StartSystem, gateway_page: PageUnderTest
) -> None:
    system = await start_system(gateways=20)
    instance_id, truth = await system.register_synced()
    page = await open_page(gateway_page, system, instance_id)
    name = first_online(truth)
    other = sorted(n for (t, n), on in truth.items() if t == "mapping" and on)[1]
    await gateway_row(page, name).evaluate("r => { r.__sameRow = true; window.__sameDocument = true; }")
    await expect(page.get_by_test_id("live")).to_have_attribute("data-state", "open", timeout=WAIT_MS)

    # No on/off flip: only the figures move, and the row (the same element) shows them.
    await system.set_stats("mapping", name, concurrent_calls=7, asr=12.34, acd=99)
    await system.set_stats("mapping", other, asr=77.7)
    await expect(gateway_row(page, name).get_by_test_id("gw-asr")).to_have_text("12.3 %", timeout=WAIT_MS)
    await expect(gateway_row(page, name).get_by_test_id("gw-acd")).to_have_text("99 s", timeout=WAIT_MS)
    await expect(gateway_row(page, name).get_by_test_id("gw-calls")).to_contain_text("7", timeout=WAIT_MS)
    await expect(gateway_row(page, other).get_by_test_id("gw-asr")).to_have_text("77.7 %", timeout=WAIT_MS)
    assert await gateway_row(page, name).evaluate("r => r.__sameRow === true")
    assert await page.evaluate("window.__sameDocument === true")

    # Again, a second change of the same gateway lands too.
    await system.set_stats("mapping", name, concurrent_calls=3, asr=55.5)
    await expect(gateway_row(page, name).get_by_test_id("gw-asr")).to_have_text("55.5 %", timeout=WAIT_MS)
    await expect(gateway_row(page, name).get_by_test_id("gw-calls")).to_contain_text("3", timeout=WAIT_MS)
    assert await gateway_row(page, name).evaluate("r => r.__sameRow === true")
    assert not gateway_page.errors


async def test_overview_shows_every_instance_its_counts_vos_state_and_worst_gateways(
    start_system: StartSystem, gateway_page: PageUnderTest
) -> None:
    system = await start_system(gateways=12, instances=2)
    first, second = await system.register(0), await system.register(1)
    await system.wait_synced(first, 0)
    truth_b = await system.wait_synced(second, 1)
    down = first_online(truth_b, "routing")
    await system.set_online("routing", down, False, index=1)
    truth_b[("routing", down)] = False
    await system.wait_synced(second, 1)
    truth_a = await system.truth(0)

    page = await open_page(gateway_page, system, first)
    await page.get_by_test_id("nav-overview").click()
    assert "view=overview" in page.url
    cards = page.get_by_test_id("ov-instance")
    await expect(cards).to_have_count(2, timeout=WAIT_MS)
    for instance_id, truth in ((first, truth_a), (second, truth_b)):
        card = page.locator(f'[data-testid="ov-instance"][data-instance="{instance_id}"]')
        for gateway_type in ("mapping", "routing"):
            of_type = [on for (t, _), on in truth.items() if t == gateway_type]
            count = card.get_by_test_id(f"ov-count-{gateway_type}")
            await expect(count).to_have_attribute("data-online", str(sum(of_type)), timeout=WAIT_MS)
            await expect(count).to_have_attribute("data-total", str(len(of_type)))
        await expect(card.get_by_test_id("ov-vos")).to_have_attribute("data-state", "ok", timeout=WAIT_MS)
        await expect(card.get_by_test_id("ov-age")).to_contain_text(" s")
        # The worst gateways: every offline one of the instance (at most 5 per type) is listed.
        offline = {(t, n) for (t, n), on in truth.items() if not on}
        listed = await card.get_by_test_id("ov-worst-item").evaluate_all(
            "items => items.map(i => [i.dataset.type, i.dataset.name])"
        )
        for gateway_type in ("mapping", "routing"):
            down_of_type = {n for t, n in offline if t == gateway_type}
            shown_of_type = [n for t, n in listed if t == gateway_type]
            assert set(shown_of_type) <= down_of_type, (instance_id, gateway_type, listed)
            assert len(shown_of_type) == min(5, len(down_of_type)), (instance_id, gateway_type, listed)
    totals = page.get_by_test_id("ov-totals")
    everything = list(truth_a.values()) + list(truth_b.values())
    await expect(totals).to_have_attribute("data-online", str(sum(everything)))
    await expect(totals).to_have_attribute("data-total", str(len(everything)))
    await page.screenshot(path=artifact("overview.png"))

    # The second VOS stops answering: its card says so, the first stays fine.
    await system.set_fault({"api": "*", "mode": "http_500"}, index=1)
    bad = page.locator(f'[data-testid="ov-instance"][data-instance="{second}"] [data-testid="ov-vos"]')

    async def reported() -> bool:
        await page.get_by_test_id("nav-overview").click()
        return await bad.get_attribute("data-state") == "error"

    await poll_until(reported, "the overview to report the failing VOS", timeout_s=40, every_s=1.0)
    await expect(bad).to_contain_text("VOS not answering")
    good = page.locator(f'[data-testid="ov-instance"][data-instance="{first}"] [data-testid="ov-vos"]')
    await expect(good).to_have_attribute("data-state", "ok")
    await page.screenshot(path=artifact("overview-vos-down.png"))

    # A worst gateway opens the drawer on its instance's gateways view.
    await system.set_fault(None, index=1)
    card = page.locator(f'[data-testid="ov-instance"][data-instance="{second}"]')
    item = card.locator(f'[data-testid="ov-worst-item"][data-name="{down}"] button')
    await item.click()
    drawer = page.get_by_test_id("drawer")
    await expect(drawer).to_be_visible()
    await expect(drawer.get_by_test_id("drawer-title")).to_have_text(down)
    await expect(drawer.get_by_test_id("drawer-state")).to_contain_text("offline")
    assert f"instance={second}" in page.url and "type=routing" in page.url
    assert not gateway_page.errors


async def test_csv_export_holds_every_gateway_of_the_view_quoted_with_a_bom(
    start_system: StartSystem, gateway_page: PageUnderTest
) -> None:
    system = await start_system(gateways=1100)
    awkward = ['客户 "甲", 北京', "line\nbreak", "plain-名"]
    for name in awkward:
        await system.add_gateway("mapping", name, online=True)
    instance_id, truth = await system.register_synced(timeout_s=90)
    page = await open_page(gateway_page, system, instance_id, "&sort=-asr&limit=50")
    await expect(page.get_by_test_id("range")).to_have_text("1–50 of 1,103", timeout=WAIT_MS)

    async with page.expect_download(timeout=60_000) as info:
        await page.get_by_test_id("export-csv").click()
    download = await info.value
    raw = (await download.path()).read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf"), raw[:10]
    assert download.suggested_filename.endswith(".csv") and "mapping" in download.suggested_filename
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"), newline="")))
    mapping = {n: on for (t, n), on in truth.items() if t == "mapping"}
    assert len(rows) == len(mapping) == 1103  # all pages, not the 50 shown
    assert {r["name"]: r["online"] == "true" for r in rows} == mapping
    for name in awkward:
        assert name in {r["name"] for r in rows}
    asr = [float(r["asr"]) for r in rows if r["asr"]]
    assert asr == sorted(asr, reverse=True)  # the view's sort
    assert b'"\xe5\xae\xa2\xe6\x88\xb7 ""\xe7\x94\xb2"", \xe5\x8c\x97\xe4\xba\xac"' in raw  # quoting

    # The view's filter applies too: offline only.
    await page.get_by_test_id("filter-offline").click()
    offline = sorted(n for n, on in mapping.items() if not on)
    await expect(page.get_by_test_id("range")).to_contain_text(f"of {len(offline):,}", timeout=WAIT_MS)
    async with page.expect_download(timeout=60_000) as info:
        await page.get_by_test_id("export-csv").click()
    raw = (await (await info.value).path()).read_bytes()
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"), newline="")))
    assert sorted(r["name"] for r in rows) == offline
    assert {r["online"] for r in rows} == {"false"}
    assert not gateway_page.errors


async def test_the_drawer_shows_uptime_transitions_and_charts_of_a_gateway(
    start_system: StartSystem, gateway_page: PageUnderTest
) -> None:
    system = await start_system(gateways=10)
    instance_id, truth = await system.register_synced()
    page = await open_page(gateway_page, system, instance_id)
    name = first_online(truth)
    await system.set_stats("mapping", name, concurrent_calls=5, asr=40.0)
    await expect(gateway_row(page, name).get_by_test_id("gw-asr")).to_have_text("40.0 %", timeout=WAIT_MS)
    # Down for a moment and back: two transitions, some downtime.
    await system.set_online("mapping", name, False)
    await expect(gateway_row(page, name).get_by_test_id("gw-state")).to_contain_text(
        "offline", timeout=WAIT_MS
    )
    await system.set_online("mapping", name, True)
    await expect(gateway_row(page, name).get_by_test_id("gw-state")).to_contain_text(
        "online", timeout=WAIT_MS
    )

    await gateway_row(page, name).get_by_test_id("gw-name").click()
    drawer = page.get_by_test_id("drawer")
    await expect(drawer).to_be_visible()
    await expect(drawer.get_by_test_id("drawer-title")).to_have_text(name)
    await expect(drawer.get_by_test_id("drawer-state")).to_contain_text("online")
    status = drawer.get_by_test_id("drawer-status")
    await expect(status).to_have_attribute("data-state", "ok", timeout=WAIT_MS)

    reply = await system.http.get(
        f"{system.api_url}/api/v1/instances/{instance_id}/gateway-history/mapping/{name}"
    )
    assert reply.status_code == 200, reply.text
    history = reply.json()
    transitions = drawer.get_by_test_id("transition")
    await expect(transitions).to_have_count(len(history["transitions"]))
    states = await transitions.evaluate_all("items => items.map(i => i.dataset.online)")
    assert states[:2] == ["true", "false"]  # newest first: back online, after going down
    uptime = float(await drawer.get_by_test_id("uptime-24h").get_attribute("data-value") or "nan")
    assert 0 < uptime < 1 and uptime == pytest.approx(history["uptime"]["24h"], abs=0.05)
    assert await drawer.get_by_test_id("uptime-7d").locator(".seg.off").count() >= 1
    flaps = drawer.get_by_test_id("drawer-flaps")
    assert int(await flaps.get_attribute("data-value") or -1) == history["flaps_24h"] >= 2

    # Charts of calls and ASR from the samples (uPlot draws a canvas per chart).
    for chart in ("chart-calls", "chart-asr"):
        box = drawer.get_by_test_id(chart)
        await expect(box.locator("canvas")).to_have_count(1, timeout=WAIT_MS)
        assert int(await box.get_attribute("data-points") or 0) >= 1
    await page.screenshot(path=artifact("drawer.png"))
    await drawer.get_by_test_id("range-7d").click()
    await expect(drawer.get_by_test_id("chart-asr").locator("canvas")).to_have_count(1, timeout=WAIT_MS)
    await drawer.get_by_test_id("drawer-close").click()
    await expect(drawer).to_be_hidden()

    # The list's uptime and flaps columns: the first click on uptime shows the worst first.
    await page.locator('th[data-sort="uptime_24h"]').click()
    await expect(page.locator('th[data-sort="uptime_24h"]')).to_have_attribute("aria-sort", "ascending")
    assert "sort=uptime_24h" in page.url
    listed = await system.http.get(
        f"{system.api_url}/api/v1/instances/{instance_id}/gateways",
        params={"type": "mapping", "sort": "uptime_24h"},
    )
    order = [item["gateway_name"] for item in listed.json()["items"]]

    async def sorted_rows() -> bool:
        names: list[str] = await page.eval_on_selector_all(
            GATEWAY_ROW, "rows => rows.map(r => r.dataset.name)"
        )
        return names == order

    await poll_until(sorted_rows, "the rows in the api's uptime order")
    texts = await page.locator('[data-testid="gw-uptime"]').all_text_contents()
    known = [float(t.split()[0]) for t in texts if t.strip() != "–"]
    assert known and known == sorted(known), texts
    unknown = [t.strip() == "–" for t in texts]
    assert unknown == sorted(unknown), texts  # gateways without observed time last
    row_flaps = await gateway_row(page, name).get_by_test_id("gw-flaps").text_content()
    assert row_flaps is not None and int(row_flaps) == history["flaps_24h"]
    assert not gateway_page.errors


async def test_the_event_feed_shows_live_events_and_pages_older_ones(
    start_system: StartSystem, gateway_page: PageUnderTest
) -> None:
    system = await start_system(gateways=40)
    instance_id, truth = await system.register_synced()
    # Enough transitions for more than one page of the feed (50 a page).
    names = sorted(n for (t, n), _ in truth.items() if t == "mapping")[:30]
    for name in names:
        await system.set_online("mapping", name, not truth[("mapping", name)])
    await system.wait_synced(instance_id)
    for name in names:
        await system.set_online("mapping", name, truth[("mapping", name)])
    await system.wait_synced(instance_id)

    async def logged() -> list[dict[str, Any]] | None:
        items: list[dict[str, Any]] = []
        params: dict[str, Any] = {"instance_id": instance_id, "limit": 200}
        while True:
            reply = await system.http.get(f"{system.api_url}/api/v1/events", params=params)
            assert reply.status_code == 200, reply.text
            body = reply.json()
            items += body["items"]
            if not body["next"]:
                break
            params["before"] = body["next"]
        return items if len(items) >= 60 else None

    log = await poll_until(logged, "the event log to hold the flips")
    page = gateway_page.page
    await page.goto(f"{system.api_url}/#instance={instance_id}&view=events")
    feed = page.get_by_test_id("event")
    await expect(feed).to_have_count(50, timeout=WAIT_MS)
    shown = await feed.evaluate_all("items => items.map(i => i.dataset.id)")
    assert shown == [str(item["id"]) for item in log[:50]]  # newest first, as the log pages them
    older = page.get_by_test_id("events-older")
    while await older.is_visible():
        count = await feed.count()
        await older.click()
        await expect(feed).not_to_have_count(count, timeout=WAIT_MS)
        await page.wait_for_function("() => !document.querySelector('[data-testid=events-older]').disabled")
    shown = await feed.evaluate_all("items => items.map(i => i.dataset.id)")
    assert shown == [str(item["id"]) for item in log]

    # A live transition goes on top, without a reload.
    await page.evaluate("window.__sameDocument = true")
    await expect(page.get_by_test_id("live")).to_have_attribute("data-state", "open", timeout=WAIT_MS)
    name = first_online(truth)
    await system.set_online("mapping", name, False)
    top = feed.first
    await expect(top).to_have_attribute("data-name", name, timeout=WAIT_MS)
    await expect(top).to_have_attribute("data-online", "false")
    assert await page.evaluate("window.__sameDocument === true")
    await page.screenshot(path=artifact("events.png"))
    # Its name opens the drawer.
    await top.locator("button").click()
    await expect(page.get_by_test_id("drawer-title")).to_have_text(name)
    assert not gateway_page.errors


async def test_the_page_helpers_quote_csv_and_cut_periods_exactly(
    start_system: StartSystem, gateway_page: PageUnderTest
) -> None:
    """The pure parts the views stand on, run in the browser as the page loads them."""
    system = await start_system(gateways=2)
    page = gateway_page.page
    await page.goto(system.api_url + "/")
    result = await page.evaluate(
        """async () => {
            const csv = await import("/static/csv.js");
            const tl = await import("/static/timeline.js");
            const t = (s) => new Date(Date.UTC(2026, 0, 1, 0, 0, s)).toISOString();
            const from = Date.UTC(2026, 0, 1, 0, 0, 0), to = from + 100_000;
            return {
                fields: ["a", 'say "hi"', "x,y", "two\\nlines", null, 12.5, "客户"].map(csv.csvField),
                periods: tl.periods(
                    [{ is_online: true, previous: false, changed_at: t(80) },
                     { is_online: false, previous: true, changed_at: t(30) },
                     { is_online: true, previous: null, changed_at: t(10) }],
                    true, from, to,
                ).map((p) => [(p.start - from) / 1000, (p.end - from) / 1000, p.state]),
                before: tl.periods(
                    [{ is_online: false, previous: true, changed_at: t(-50) }], false, from, to,
                ).map((p) => [(p.start - from) / 1000, (p.end - from) / 1000, p.state]),
                head: csv.toCsv([]),
            };
        }"""
    )
    assert result["fields"] == ["a", '"say ""hi"""', '"x,y"', '"two\nlines"', "", "12.5", "客户"]
    # Newest first in, oldest first out; before the first sighting (previous null): unknown.
    assert result["periods"] == [[0, 10, None], [10, 30, True], [30, 80, False], [80, 100, True]]
    # A transition before the window: the whole window in the state it entered.
    assert result["before"] == [[0, 100, False]]
    assert result["head"].startswith("\ufefftype,name,") and result["head"].endswith("\r\n")
    assert not gateway_page.errors
