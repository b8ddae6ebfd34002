"""Browser-test fixtures: Debian's headless Chromium (never a downloaded browser) and the real system
(simulator → poller → NATS → writer → PostgreSQL → api) running in this process."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from playwright.async_api import Browser, Locator, Page, async_playwright, expect

from tests.support.waiting import wait_for
from vosync.shared.settings import Settings
from vosync.sim.cluster import SimCluster

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).parent / "artifacts"

# Online status every second so a flip in the simulator reaches the page within a few seconds.
FAST_POLLS = {
    "GetGatewayMappingOnline": 1.0,
    "GetGatewayRoutingOnline": 1.0,
    "GetGatewayMapping": 2.0,
    "GetGatewayRouting": 2.0,
}
GatewayKey = tuple[str, str]  # (gateway_type, gateway_name)
GATEWAY_ROW = '[data-testid="gw-row"]'
WAIT_MS = 20_000  # for the page to show what the system already holds


async def poll_until(
    check: Callable[[], Awaitable[Any]], what: str, timeout_s: float = 30.0, every_s: float = 0.25
) -> Any:
    """Polls `check` until it returns something truthy; fails naming `what` after the deadline."""
    return await wait_for(check, timeout_s, what, interval_s=every_s)


@dataclass
class System:
    """The running system as the page sees it, plus the simulator's control API."""

    settings: Settings
    sim: SimCluster
    poller: Any  # the PollerService
    api: Any  # the ApiService serving the page
    api_url: str
    http: httpx.AsyncClient
    admin_headers: dict[str, str]

    async def register(self, index: int = 0) -> int:
        reply = await self.http.post(
            f"{self.api_url}/api/v1/instances",
            json={"name": f"sim-{index + 1}", "base_url": self.sim.urls[index]},
            headers=self.admin_headers,
        )
        assert reply.status_code == 201, reply.text
        instance_id: int = reply.json()["id"]
        return instance_id

    async def truth(self, index: int = 0) -> dict[GatewayKey, bool]:
        """What the simulator reports: (type, name) → online."""
        reply = await self.http.get(f"{self.sim.urls[index]}/_sim/gateways")
        reply.raise_for_status()
        data = reply.json()
        return {(t, g["name"]): bool(g["online"]) for t in ("mapping", "routing") for g in data[t]}

    async def set_online(self, gateway_type: str, name: str, online: bool, index: int = 0) -> None:
        reply = await self.http.post(
            f"{self.sim.urls[index]}/_sim/gateways/{gateway_type}/{name}/online", json={"online": online}
        )
        reply.raise_for_status()

    async def set_stats(self, gateway_type: str, name: str, index: int = 0, **figures: float) -> None:
        """Sets an online gateway's traffic figures in the simulator (concurrent_calls, asr, acd)."""
        url = f"{self.sim.urls[index]}/_sim/gateways/{gateway_type}/{quote(name, safe='')}/stats"
        reply = await self.http.post(url, json=figures)
        reply.raise_for_status()

    async def add_gateway(self, gateway_type: str, name: str, online: bool, index: int = 0) -> None:
        reply = await self.http.post(
            f"{self.sim.urls[index]}/_sim/gateways/{gateway_type}", json={"name": name, "online": online}
        )
        reply.raise_for_status()

    async def set_fault(self, body: dict[str, Any] | None, index: int = 0) -> None:
        url = f"{self.sim.urls[index]}/_sim/faults"
        reply = await (self.http.post(url, json=body) if body else self.http.delete(url))
        reply.raise_for_status()

    async def stored(self, instance_id: int) -> dict[GatewayKey, bool]:
        """What the api serves from the gateways table: (type, name) → online."""
        seen: dict[GatewayKey, bool] = {}
        for gateway_type in ("mapping", "routing"):
            offset = 0
            while True:
                reply = await self.http.get(
                    f"{self.api_url}/api/v1/instances/{instance_id}/gateways",
                    params={"type": gateway_type, "limit": 1000, "offset": offset},
                    headers=self.admin_headers,
                )
                reply.raise_for_status()
                page = reply.json()
                seen |= {(gateway_type, i["gateway_name"]): i["is_online"] for i in page["items"]}
                offset += len(page["items"])
                if not page["items"] or offset >= page["total"]:
                    break
        return seen

    async def wait_synced(
        self, instance_id: int, index: int = 0, timeout_s: float = 60.0
    ) -> dict[GatewayKey, bool]:
        """Waits until the api serves exactly the simulator's gateways and online flags."""

        async def same() -> dict[GatewayKey, bool] | None:
            truth = await self.truth(index)
            return truth if await self.stored(instance_id) == truth else None

        what = "the api to match the simulator"
        result: dict[GatewayKey, bool] = await poll_until(same, what, timeout_s, 0.5)
        return result

    async def register_synced(
        self, index: int = 0, timeout_s: float = 60.0
    ) -> tuple[int, dict[GatewayKey, bool]]:
        """Registers the simulator's instance and waits until the api serves its gateways: the
        instance id and what the simulator reports."""
        instance_id = await self.register(index)
        return instance_id, await self.wait_synced(instance_id, index, timeout_s)

    async def stop_polling(self) -> None:
        """Stops the poller: the data stays as it is (for measuring reads without ingest alongside)."""
        await _stop_poller(self.poller)


async def _stop_poller(poller: Any) -> None:
    if not poller.stopping:
        await poller.stop()


StartSystem = Callable[..., Awaitable[System]]


@pytest.fixture
async def start_system(
    make_settings: Callable[..., Settings],
    make_vos_sim: Callable[..., Awaitable[SimCluster]],
) -> AsyncIterator[StartSystem]:
    """`system = await start_system(gateways=30, poll_intervals=..., **settings)`: the simulator and
    the real writer, poller and api in this process, auth off unless settings say otherwise; all
    stopped after the test (api first, so no request outlives the services behind it)."""
    from tests.fixtures.api import api_running
    from tests.fixtures.services import writer_running
    from vosync.poller.service import PollerService

    async with contextlib.AsyncExitStack() as stack:

        async def start(
            *,
            gateways: int = 30,
            instances: int = 1,
            admin_key: str | None = None,
            **overrides: Any,
        ) -> System:
            values: dict[str, Any] = {"auth": "off", "poll_intervals": FAST_POLLS, "log_level": "WARNING"}
            values.update(overrides)
            settings = make_settings(**values)
            sim = await make_vos_sim(instances=instances, gateways=gateways)
            await stack.enter_async_context(writer_running(settings))
            poller = PollerService(settings)
            await poller.start()
            stack.push_async_callback(_stop_poller, poller)
            api = await stack.enter_async_context(api_running(settings))
            http = await stack.enter_async_context(httpx.AsyncClient(timeout=10))
            headers = {"X-API-Key": admin_key} if admin_key else {}
            return System(settings, sim, poller, api, api.url, http, headers)

        yield start


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    if not CHROMIUM.exists():
        pytest.skip(
            f"Debian's chromium is not installed at {CHROMIUM} "
            "(`make test` installs it with tests/browser/ensure_chromium.py; or `apt-get install chromium`)"
        )
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield launched
        finally:
            await launched.close()


@dataclass
class PageUnderTest:
    page: Page
    errors: list[str]  # uncaught JavaScript errors: a test fails if any happened


@pytest.fixture
async def gateway_page(browser: Browser) -> AsyncIterator[PageUnderTest]:
    context = await browser.new_context(viewport={"width": 1400, "height": 900}, locale="en-US")
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        yield PageUnderTest(page, errors)
    finally:
        await context.close()


def artifact(name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS / name


def gateway_row(page: Page, name: str) -> Locator:
    return page.locator(f'{GATEWAY_ROW}[data-name="{name}"]')


def first_online(truth: dict[GatewayKey, bool], gateway_type: str = "mapping") -> str:
    """The first online gateway of the type by name (the same one on every run)."""
    return sorted(n for (t, n), on in truth.items() if t == gateway_type and on)[0]


async def open_page(target: PageUnderTest, system: System, instance_id: int, fragment: str = "") -> Page:
    """The page on the instance (`fragment`: more of the URL's #... state), once its rows show."""
    page = target.page
    await page.goto(f"{system.api_url}/#instance={instance_id}{fragment}")
    await expect(page.locator(GATEWAY_ROW).first).to_be_visible(timeout=WAIT_MS)
    return page


async def wait_changed_in_place(
    page: Page, row_test_id: str, key: str, value: str, state_test_id: str, state: str
) -> None:
    """Waits until the row whose data-`key` is `value` flashes and its state cell says `state`, still
    the DOM element the test marked `__sameRow` before the change (a change never rebuilds it)."""
    await page.wait_for_function(
        """([rowTestId, key, value, stateTestId, state]) => {
            const r = document.querySelector(
                `[data-testid="${rowTestId}"][data-${key}="${CSS.escape(value)}"]`);
            return r && r.__sameRow === true && r.classList.contains("flash")
                && r.querySelector(`[data-testid="${stateTestId}"]`).textContent.includes(state);
        }""",
        arg=[row_test_id, key, value, state_test_id, state],
        timeout=WAIT_MS,
    )
