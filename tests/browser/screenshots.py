"""The page's screenshots in docs/img/ (README): `.venv/bin/pytest -p no:cacheprovider
tests/browser/screenshots.py` (named so that the suite never collects it). The real system as in
the browser tests; one gateway is given a week of made-up history (transitions and per-minute
samples written straight into the history tables) so that the drawer has something to show."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
from playwright.async_api import expect

from tests.browser.conftest import PageUnderTest, StartSystem
from tests.support.postgres import plain_pg_url
from vosync.writer.history_partitions import ROLLUPS, SAMPLES, TRANSITIONS, Family, partition_of
from vosync.writer.history_sql import create_partition

DOCS_IMG = Path(__file__).resolve().parents[2] / "docs" / "img"
ROW = '[data-testid="gw-row"]'
WAIT_MS = 20_000


async def seed_week(database_url: str, instance_id: int, name: str, now: datetime) -> int:
    """A week of a gateway that drops now and then (more today), with daily traffic curves; returns
    the number of transitions written. The last one leaves it online, as the simulator has it."""
    rng = random.Random(20)
    conn = await asyncpg.connect(plain_pg_url(database_url))
    try:
        families = (Family(TRANSITIONS, "day", 90), Family(SAMPLES, "day", 30), Family(ROLLUPS, "month", 365))
        for family in families:
            for days in range(8):
                await conn.execute(create_partition(partition_of(family, now - timedelta(days=days))))
        gateway_id = await conn.fetchval(
            "SELECT id FROM gateways WHERE vos_instance_id = $1 AND gateway_type = 'mapping'"
            " AND gateway_name = $2",
            instance_id,
            name,
        )
        start = now - timedelta(days=7) + timedelta(minutes=10)  # inside the drawer's 7 d window
        cut = now - timedelta(minutes=3)  # the real first sighting comes after the made-up week
        rows: list[tuple[object, ...]] = [(instance_id, "mapping", name, True, None, start)]
        at = start
        down: list[tuple[datetime, datetime]] = []
        while True:
            gap = timedelta(hours=rng.uniform(2, 6) if at > now - timedelta(days=1) else rng.uniform(8, 30))
            at += gap
            outage = timedelta(minutes=rng.uniform(4, 70))
            if at + outage >= cut:
                break
            rows.append((instance_id, "mapping", name, False, True, at))
            rows.append((instance_id, "mapping", name, True, False, at + outage))
            down.append((at, at + outage))
            at += outage
        await conn.executemany(
            "INSERT INTO gateway_transitions"
            " (instance_id, gateway_type, name, is_online, previous, changed_at)"
            " VALUES ($1, $2, $3, $4, $5, $6)",
            rows,
        )
        samples = []
        minute = start.replace(second=0, microsecond=0) + timedelta(minutes=1)
        while minute < cut:
            if not any(a <= minute < b for a, b in down):
                hour = minute.hour + minute.minute / 60
                busy = 0.5 + 0.45 * math.sin((hour - 8) / 24 * 2 * math.pi)
                calls = max(0, round(90 * busy + rng.gauss(0, 6)))
                asr = min(95.0, max(5.0, 48 + 14 * busy + rng.gauss(0, 4)))
                samples.append((gateway_id, minute, calls, asr, float(rng.randint(60, 180))))
            minute += timedelta(minutes=1)
        await conn.executemany(
            "INSERT INTO gateway_samples (gateway_id, at, concurrent_calls, asr, acd)"
            " VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
            samples,
        )
        return len(rows)
    finally:
        await conn.close()


async def test_screenshots_of_the_new_views(start_system: StartSystem, gateway_page: PageUnderTest) -> None:
    system = await start_system(gateways=40, instances=2)
    first, second = await system.register(0), await system.register(1)
    truth = await system.wait_synced(first, 0)
    await system.wait_synced(second, 1)
    name = sorted(n for (t, n), on in truth.items() if t == "mapping" and on)[2]
    seeded = await seed_week(system.settings.require_database_url(), first, name, datetime.now(UTC))
    # A few real transitions for the event feed and the overview's worst gateways.
    flips = sorted(n for (t, n), on in truth.items() if t == "mapping" and on)[5:9]
    for flip in flips:
        await system.set_online("mapping", flip, False)
    await system.wait_synced(first, 0)
    await system.set_online("mapping", flips[0], True)
    await system.set_fault({"api": "GetGatewayRoutingOnline", "mode": "http_500"}, index=1)

    page = gateway_page.page
    DOCS_IMG.mkdir(parents=True, exist_ok=True)
    await page.goto(f"{system.api_url}/#instance={first}&view=overview")
    await expect(page.get_by_test_id("ov-instance")).to_have_count(2, timeout=WAIT_MS)
    await expect(page.locator('[data-testid="ov-vos"][data-state="error"]')).to_have_count(1, timeout=40_000)
    await page.screenshot(path=str(DOCS_IMG / "overview.png"))

    await page.get_by_test_id("nav-gateways").click()
    await expect(page.locator(ROW).first).to_be_visible(timeout=WAIT_MS)
    await page.locator(f'{ROW}[data-name="{name}"]').click()
    drawer = page.get_by_test_id("drawer")
    await expect(drawer.get_by_test_id("transition")).to_have_count(seeded + 1, timeout=WAIT_MS)
    await expect(drawer.get_by_test_id("chart-calls").locator("canvas")).to_have_count(1)
    await page.screenshot(path=str(DOCS_IMG / "drawer.png"))
    await drawer.get_by_test_id("range-7d").click()
    await expect(drawer.get_by_test_id("range-7d")).to_have_class("active")
    status = drawer.get_by_test_id("drawer-status")
    await expect(status).to_have_attribute("data-state", "ok", timeout=WAIT_MS)
    await page.screenshot(path=str(DOCS_IMG / "drawer-7d.png"))
    await drawer.get_by_test_id("drawer-close").click()

    await page.get_by_test_id("nav-events").click()
    await expect(page.get_by_test_id("event").first).to_be_visible(timeout=WAIT_MS)
    await system.set_online("mapping", flips[1], True)
    await expect(page.get_by_test_id("event").first).to_have_attribute("data-name", flips[1], timeout=WAIT_MS)
    await page.screenshot(path=str(DOCS_IMG / "events.png"))
    assert not gateway_page.errors
