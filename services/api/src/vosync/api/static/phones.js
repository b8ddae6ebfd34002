// The Phones 话机 tab: the instance's phones (GET /instances/{id}/phones) with live registrations and
// drops (SSE /events/phone-online). A module of its own beside the gateway page (app.js): it adds
// its tab and panel to #view and switches between them and the gateway parts, reading the instance
// from the shared #instance-select.

import { ApiClient, loadKey } from "./api.js";
import { formatInt, formatText, formatTime } from "./format.js";

const PAGE_SIZE = 100;
const SEARCH_DEBOUNCE_MS = 250;
const RELOAD_AFTER_EVENT_MS = 500; // a phone not on the page changed: reload the page once, shortly
const EVENT_NAME = "phone.online";

const $ = (id) => document.getElementById(id);

function el(tag, attrs = {}, text = undefined) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (name === "class") node.className = value;
    else node.setAttribute(name, value);
  }
  if (text !== undefined) node.textContent = text;
  return node;
}

function buildPanel() {
  const panel = el("section", { id: "phones-panel", class: "phones-panel", "data-testid": "phones-panel" });
  panel.hidden = true;
  panel.innerHTML = `
    <div class="toolbar">
      <input id="phones-search" class="search" type="search" data-testid="phones-search" autocomplete="off"
             placeholder="Search number / IP 搜索号码或 IP" aria-label="Search phones">
      <div class="segmented" role="group" aria-label="Online filter" id="phones-filter">
        <button type="button" data-online="" data-testid="phones-filter-all" class="active">All 全部</button>
        <button type="button" data-online="true" data-testid="phones-filter-online">Online 在线</button>
        <button type="button" data-online="false" data-testid="phones-filter-offline">Offline 离线</button>
      </div>
      <div class="toolbar-spacer"></div>
      <span class="live" id="phones-live" data-testid="phones-live" data-state="off"
            title="Live phone registrations (Server-Sent Events)">
        <span class="dot" aria-hidden="true"></span><span class="live-text">Live 实时</span>
      </span>
    </div>
    <div class="meta"><span class="meta-item" id="phones-synced" data-testid="phones-synced"></span></div>
    <div class="table-wrap">
      <table class="grid" data-testid="phones-table">
        <thead>
          <tr>
            <th class="col-name">Number 号码</th>
            <th class="col-state">State 状态</th>
            <th class="col-ip">Remote IP 远端 IP</th>
            <th class="col-calls num">Calls 并发</th>
            <th>Registered 注册时间</th>
            <th>Device 设备</th>
            <th>Last seen 最后在线</th>
          </tr>
        </thead>
        <tbody id="phones-rows"></tbody>
      </table>
      <div id="phones-empty" class="table-empty" data-testid="phones-empty" hidden></div>
    </div>
    <footer class="pager">
      <span id="phones-range" class="range" data-testid="phones-range"></span>
      <div class="pager-controls">
        <button type="button" id="phones-prev" data-testid="phones-prev" aria-label="Previous page">‹</button>
        <button type="button" id="phones-next" data-testid="phones-next" aria-label="Next page">›</button>
      </div>
    </footer>`;
  return panel;
}

function buildTab() {
  const tab = el("button", { class: "tab phones-tab", role: "tab", type: "button", "data-testid": "tab-phones" });
  tab.append(el("span", { class: "tab-title" }, "Phones 话机"));
  tab.append(el("span", { class: "tab-counts", "data-testid": "count-phones" }));
  return tab;
}

function stateBadge(td, online) {
  const badge = el("span", { class: `badge ${online ? "on" : "off"}` }, online ? "online 在线" : "offline 离线");
  td.replaceChildren(badge);
}

class PhonesTab {
  constructor() {
    this.api = new ApiClient();
    this.view = { online: "", q: "", offset: 0 };
    this.rows = new Map(); // e164 → { tr, item }
    this.counts = null;
    this.active = false;
    this.instanceId = null;
    this.source = null;
    this.loading = null;
    this.reloadTimer = null;
    this.searchTimer = null;

    const tabs = document.querySelector("#view .tabs");
    this.tab = buildTab();
    tabs.append(this.tab);
    this.panel = buildPanel();
    tabs.after(this.panel);
    this.bind();
  }

  bind() {
    this.tab.addEventListener("click", () => this.show());
    for (const tab of document.querySelectorAll("#view .tab[data-type]")) {
      tab.addEventListener("click", () => this.hide());
    }
    $("instance-select").addEventListener("change", () => this.instanceChanged());
    $("phones-search").addEventListener("input", (e) => {
      clearTimeout(this.searchTimer);
      this.searchTimer = setTimeout(() => this.changeView({ q: e.target.value.trim(), offset: 0 }), SEARCH_DEBOUNCE_MS);
    });
    for (const button of $("phones-filter").querySelectorAll("button")) {
      button.addEventListener("click", () => this.changeView({ online: button.dataset.online, offset: 0 }));
    }
    $("phones-prev").addEventListener("click", () =>
      this.changeView({ offset: Math.max(0, this.view.offset - PAGE_SIZE) }),
    );
    $("phones-next").addEventListener("click", () => this.changeView({ offset: this.view.offset + PAGE_SIZE }));
    // The gateway page fills the instance list after it loads; follow it until a value is there.
    new MutationObserver(() => this.instanceChanged()).observe($("instance-select"), { childList: true });
  }

  currentInstance() {
    const value = Number.parseInt($("instance-select").value || "", 10);
    return Number.isFinite(value) ? value : null;
  }

  instanceChanged() {
    const id = this.currentInstance();
    if (id === this.instanceId) return;
    this.instanceId = id;
    this.view.offset = 0;
    this.counts = null;
    this.connect();
    this.load();
  }

  show() {
    this.active = true;
    document.body.classList.add("phones-mode");
    this.tab.classList.add("phones-active");
    this.tab.setAttribute("aria-selected", "true");
    this.panel.hidden = false;
    this.instanceId = this.currentInstance();
    this.connect();
    this.load();
  }

  hide() {
    this.active = false;
    document.body.classList.remove("phones-mode");
    this.tab.classList.remove("phones-active");
    this.tab.setAttribute("aria-selected", "false");
    this.panel.hidden = true;
  }

  changeView(change) {
    Object.assign(this.view, change);
    for (const button of $("phones-filter").querySelectorAll("button")) {
      button.classList.toggle("active", button.dataset.online === this.view.online);
    }
    this.load();
  }

  async load() {
    if (this.instanceId === null) return;
    this.loading?.abort();
    const controller = new AbortController();
    this.loading = controller;
    this.api.key = loadKey(); // the gateway page's key dialog may have saved a new one
    const query = { limit: PAGE_SIZE, offset: this.view.offset, online: this.view.online, q: this.view.q };
    let page;
    try {
      page = await this.api.request("GET", `/instances/${encodeURIComponent(this.instanceId)}/phones`, {
        query,
        signal: controller.signal,
      });
    } catch (err) {
      if (err?.name === "AbortError" || controller !== this.loading) return;
      $("phones-empty").hidden = false;
      $("phones-empty").textContent = `Phones could not be loaded 加载失败: ${err?.message || err}`;
      return;
    } finally {
      if (controller === this.loading) this.loading = null;
    }
    if (controller.signal.aborted) return;
    this.render(page);
  }

  render(page) {
    this.counts = { ...page.counts };
    this.renderCounts();
    this.rows.clear();
    const fragment = document.createDocumentFragment();
    for (const item of page.items) {
      const tr = this.buildRow(item);
      this.rows.set(item.e164, { tr, item: { ...item } });
      fragment.append(tr);
    }
    $("phones-rows").replaceChildren(fragment);
    const empty = $("phones-empty");
    empty.hidden = page.items.length > 0;
    empty.textContent = page.total === 0 && !this.view.q && !this.view.online
      ? "No phones yet 暂无话机 — they appear after the next GetAllPhoneOnline poll."
      : "No phones match 没有匹配的话机";
    const first = page.items.length ? page.offset + 1 : 0;
    $("phones-range").textContent = `${formatInt(first)}–${formatInt(page.offset + page.items.length)} of ${formatInt(page.total)}`;
    $("phones-prev").disabled = page.offset === 0;
    $("phones-next").disabled = page.offset + page.items.length >= page.total;
    $("phones-synced").textContent = page.synced_at
      ? `VOS listed the online phones at ${formatTime(page.synced_at)}`
      : "VOS has not listed the phones yet";
  }

  buildRow(item) {
    const tr = el("tr", { "data-testid": "phone-row", "data-e164": item.e164 });
    tr.append(
      el("td", { class: "col-name", "data-testid": "phone-e164" }, item.e164),
      el("td", { class: "col-state", "data-testid": "phone-state" }),
      el("td", { class: "col-ip", "data-testid": "phone-ip" }, formatText(item.remote_ip)),
      el("td", { class: "col-calls num", "data-testid": "phone-calls" }),
      el("td", { "data-testid": "phone-registered" }, formatTime(item.register_time)),
      el("td", { "data-testid": "phone-device" }, formatText(item.product_id)),
      el("td", { "data-testid": "phone-last-seen" }),
    );
    this.fillLive(tr, item);
    return tr;
  }

  fillLive(tr, item) {
    tr.dataset.online = item.is_online ? "true" : "false";
    tr.classList.toggle("is-offline", !item.is_online);
    const cells = tr.children;
    stateBadge(cells[1], item.is_online);
    cells[3].textContent = formatInt(item.concurrent_calls);
    cells[6].textContent = item.is_online ? "now 在线" : formatTime(item.last_seen_at);
  }

  renderCounts() {
    const target = this.tab.querySelector('[data-testid="count-phones"]');
    const c = this.counts;
    if (!c) {
      target.replaceChildren();
      return;
    }
    for (const key of ["total", "online", "offline"]) target.dataset[key] = String(c[key]);
    target.replaceChildren(
      el("span", { class: "count-total" }, formatInt(c.total)),
      el("span", { class: "count-on" }, `● ${formatInt(c.online)}`),
      el("span", { class: "count-off" }, `○ ${formatInt(c.offline)}`),
    );
  }

  // -- live ------------------------------------------------------------------------------------

  connect() {
    this.source?.close();
    this.source = null;
    if (this.instanceId === null) return;
    const url = new URL("/api/v1/events/phone-online", location.origin);
    url.searchParams.set("instance_id", String(this.instanceId));
    const key = loadKey();
    if (key) url.searchParams.set("api_key", key);
    const source = new EventSource(url);
    this.source = source;
    const status = (state) => ($("phones-live").dataset.state = state);
    status("connecting");
    source.onopen = () => status("open");
    source.onerror = () => status(source.readyState === EventSource.CLOSED ? "off" : "retrying");
    source.addEventListener(EVENT_NAME, (message) => {
      let event;
      try {
        event = JSON.parse(message.data);
      } catch {
        return;
      }
      if (event && event.instance_id === this.instanceId && typeof event.e164 === "string") this.onEvent(event);
    });
  }

  onEvent(event) {
    const row = this.rows.get(event.e164);
    const before = row ? Boolean(row.item.is_online) : typeof event.previous === "boolean" ? event.previous : null;
    if (this.counts && before !== event.is_online) {
      if (before === null) this.counts.total += 1;
      else this.counts[before ? "online" : "offline"] -= 1;
      this.counts[event.is_online ? "online" : "offline"] += 1;
      this.renderCounts();
    }
    if (!row) {
      // Not on this page (or new): the page may have to show it; one reload for a burst of events.
      clearTimeout(this.reloadTimer);
      if (this.active) this.reloadTimer = setTimeout(() => this.load(), RELOAD_AFTER_EVENT_MS);
      return;
    }
    const item = row.item;
    if (!event.is_online && item.is_online) item.last_seen_at = event.changed_at;
    item.is_online = event.is_online;
    if (!event.is_online) item.concurrent_calls = 0;
    this.fillLive(row.tr, item);
    row.tr.classList.remove("flash");
    void row.tr.offsetWidth; // restart the animation when a row changes twice in a row
    row.tr.classList.add("flash");
  }
}

if (document.querySelector("#view .tabs")) window.vosyncPhones = new PhonesTab();
