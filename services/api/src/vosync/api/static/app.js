// The gateway page: wires the api client, the view state, the table, live events and notices, and
// the overview, event feed and gateway drawer.

import { ApiClient, ApiError, ApiUnreachable, AuthRequired } from "./api.js";
import { ChangeFeed } from "./changes.js";
import { download, fetchAll, toCsv } from "./csv.js";
import { GatewayDrawer } from "./drawer.js";
import { EventFeed } from "./events.js";
import { formatAge, formatInt, formatTime } from "./format.js";
import { Freshness, GATEWAY_APIS, cacheEntry, isFailing } from "./freshness.js";
import { KeyDialog } from "./keydialog.js";
import { Notices } from "./notices.js";
import { Overview } from "./overview.js";
import { LiveFeed } from "./sse.js";
import { PAGES, TYPES, gatewayQuery, nextSort, viewFromHash, writeHash } from "./state.js";
import { GatewayTable } from "./table.js";

const $ = (id) => document.getElementById(id);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

const RETRY_FIRST_MS = 1000;
const RETRY_MAX_MS = 30_000;
const EMPTY_POLL_MS = 5000;
const SEARCH_DEBOUNCE_MS = 250;
const REFRESH_CATCH_UP_MS = 5000; // how long to wait for the writer to apply a refreshed reply
const PROBE_EVERY_MS = 3000; // while the event stream is down, how often to check the api itself
const STATUS_POLL_MS = 10_000; // how often to re-read when VOS was last fetched (and if it failed)
// A change note reloads the shown page at most this often: one poll of 10,000 gateways may commit in
// several batches, each with its note; one reload shows them all.
const LIVE_RELOAD_MIN_MS = 2000;
const OVERVIEW_POLL_MS = 30_000; // up to 1 + 5 requests per detailed instance each time

class GatewayPage {
  constructor() {
    this.api = new ApiClient();
    this.view = viewFromHash();
    this.instances = [];
    this.page = null; // the last gateways reply
    this.counts = null; // its counts, kept current by live events
    this.loading = null; // AbortController of the gateways request in flight
    this.retryTimer = null;
    this.retryDelay = RETRY_FIRST_MS;
    this.emptyTimer = null;
    this.refreshing = false;
    this.liveState = "off";
    this.probedAt = 0;
    this.liveReload = { timer: null, last: 0, pending: false, count: 0 };
    this.eventsFor = null; // the instance the event feed was loaded for

    this.notices = new Notices($("banners"));
    this.freshness = new Freshness({ ageEl: $("age"), sourceEl: $("source") });
    this.keyDialog = new KeyDialog($("key-dialog"));
    this.table = new GatewayTable({
      tbody: $("rows"),
      thead: document.querySelector(".grid thead"),
      emptyEl: $("table-empty"),
      onSort: (column) => this.changeView({ sort: nextSort(this.view.sort, column), offset: 0 }),
    });
    this.live = new LiveFeed({
      onEvent: (event) => this.onLiveEvent(event),
      onStatus: (state, detail) => this.onLiveStatus(state, detail),
      onResume: () => this.loadGateways({ quiet: true }), // events may have been missed meanwhile
    });
    this.changes = new ChangeFeed((note) => this.onChangeNote(note));
    const onError = (err) => this.handleError(err, () => {});
    const openGateway = (instanceId, type, name, item) => this.openGateway(instanceId, type, name, item);
    this.drawer = new GatewayDrawer({ root: $("drawer"), api: this.api, onError });
    this.overview = new Overview({
      root: $("overview"),
      api: this.api,
      onOpenGateway: openGateway,
      onOpenInstance: (id) => this.changeView({ page: "gateways", instanceId: id, offset: 0 }),
      onError: (err) => this.handleError(err, () => this.loadOverview()),
    });
    this.eventFeed = new EventFeed({ root: $("events"), api: this.api, onOpenGateway: openGateway, onError });
    this.bindControls();
    setInterval(() => this.loadCacheStatus(), STATUS_POLL_MS);
    setInterval(() => this.view.page === "overview" && !document.hidden && this.loadOverview(), OVERVIEW_POLL_MS);
  }

  // -- loading -------------------------------------------------------------------------------

  async loadInstances() {
    clearTimeout(this.emptyTimer);
    let reply;
    try {
      reply = await this.api.instances();
    } catch (err) {
      this.handleError(err, () => this.loadInstances());
      return;
    }
    this.apiReachable();
    this.instances = Array.isArray(reply?.items) ? reply.items : [];
    if (this.instances.length === 0) {
      this.showEmpty();
      return;
    }
    const wanted = this.instances.find((i) => i.id === this.view.instanceId);
    const chosen = wanted || this.instances.find((i) => i.enabled) || this.instances[0];
    this.fillInstanceSelect();
    $("empty").hidden = true;
    this.changeView({ instanceId: chosen.id, offset: wanted ? this.view.offset : 0 });
  }

  /** Loads the page of gateways the view names; resolves with the reply or null. */
  async loadGateways({ quiet = false } = {}) {
    if (this.view.instanceId === null) return null;
    this.loading?.abort();
    const controller = new AbortController();
    this.loading = controller;
    if (!quiet) this.table.setBusy(true);
    try {
      const page = await this.api.gateways(this.view.instanceId, gatewayQuery(this.view), controller.signal);
      if (controller !== this.loading) return null; // a newer request replaced this one
      this.apiReachable();
      if (page.items.length === 0 && page.total > 0 && this.view.offset > 0) {
        // The page ran past the end (filter or data changed): show the last page instead.
        this.view.offset = Math.floor((page.total - 1) / this.view.limit) * this.view.limit;
        writeHash(this.view);
        return this.loadGateways({ quiet });
      }
      this.page = page;
      this.counts = structuredClone(page.counts || {});
      // A quiet reload (live figures, catch-up) keeps the rows' elements when the rows did not move.
      if (!(quiet && this.table.update(page.items, this.view.type))) {
        this.table.render(page.items, this.view.type, this.emptyTableText());
      }
      document.body.classList.toggle("has-history", page.items.some((i) => "uptime_24h" in i));
      if (this.drawer.isOpen && this.drawer.target?.instanceId === this.view.instanceId) {
        const shownItem = this.table.item(this.drawer.target.type, this.drawer.target.name);
        if (shownItem) this.drawer.updateItem(shownItem);
      }
      this.renderCounts();
      this.renderPager();
      this.freshness.update(page);
      return page;
    } catch (err) {
      if (controller === this.loading) this.handleError(err, () => this.loadGateways());
      return null;
    } finally {
      if (controller === this.loading) {
        this.table.setBusy(false);
        this.loading = null;
      }
    }
  }

  /**
   * Reads when the poller last fetched the shown tab's VOS APIs and whether the latest attempt
   * failed (VOS down); quiet on errors, which the gateways loads already report.
   */
  async loadCacheStatus() {
    const id = this.view.instanceId;
    if (id === null || $("view").hidden) return null;
    let status;
    try {
      status = await this.api.cacheStatus(id);
    } catch {
      return null;
    }
    if (id !== this.view.instanceId) return null;
    const apis = GATEWAY_APIS[this.view.type];
    const online = cacheEntry(status, apis.online);
    const config = cacheEntry(status, apis.config);
    this.freshness.updateCache(online, config);
    this.reportVosHealth([online, config].filter(Boolean));
    return status;
  }

  reportVosHealth(entries) {
    const failing = entries.filter(isFailing);
    if (failing.length === 0) {
      this.notices.clear("vos-health");
      return;
    }
    const goodAge = failing[0].synced_at ? this.freshness.ageOf(Date.parse(failing[0].synced_at)) : null;
    this.notices.show("vos-health", {
      level: "warn",
      title: "VOS not answering 无法连接 VOS",
      text:
        failing
          .map((e) => {
            const why = [e.error_kind, e.error_message].filter(Boolean).join(": ") || "failed";
            return `${e.api_name}: ${why} (last attempt ${formatTime(e.last_error_at)})`;
          })
          .join("; ") +
        (goodAge === null ? "" : ` — showing the last good data, fetched ${formatAge(goodAge)} ago`),
    });
  }

  // -- errors and retries --------------------------------------------------------------------

  handleError(err, retry) {
    if (err?.name === "AbortError") return;
    if (err instanceof AuthRequired) {
      this.askKey(`The api answered 401: ${err.message}. Enter an X-API-Key; it is kept in this browser only.`)
        .then((saved) => saved && retry());
      return;
    }
    if (err instanceof ApiUnreachable) {
      this.scheduleRetry(retry, "vosync api unreachable 无法连接 API", err.message);
      return;
    }
    if (err instanceof ApiError && err.status === 404 && this.view.instanceId !== null) {
      this.notices.show("api", {
        level: "warn",
        title: "Instance not found 实例不存在",
        text: `instance ${this.view.instanceId} is gone; showing the list again.`,
        autoHideMs: 8000,
      });
      this.view.instanceId = null;
      this.loadInstances();
      return;
    }
    if (err instanceof ApiError && err.status >= 500) {
      this.scheduleRetry(retry, `vosync api error ${err.status}`, err.message);
      return;
    }
    this.notices.show("api", { level: "error", title: "Request failed 请求失败", text: String(err?.message || err) });
  }

  scheduleRetry(retry, title, detail) {
    clearTimeout(this.retryTimer);
    const delay = this.retryDelay;
    this.retryDelay = Math.min(RETRY_MAX_MS, this.retryDelay * 2);
    const runNow = () => {
      clearTimeout(this.retryTimer);
      this.retryTimer = null;
      retry();
    };
    this.notices.show("api", {
      level: "error",
      title,
      text: `${detail} — retrying in ${Math.round(delay / 1000)} s 正在重试`,
      action: { label: "Retry now 立即重试", run: runNow },
    });
    this.retryTimer = setTimeout(runNow, delay);
  }

  apiReachable() {
    clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.retryDelay = RETRY_FIRST_MS;
    this.notices.clear("api");
  }

  async askKey(reason) {
    const key = await this.keyDialog.ask(reason, this.api.key);
    if (key === null) return false;
    this.api.setKey(key);
    if (this.view.instanceId !== null) {
      this.live.connect(this.api.eventsUrl(this.view.instanceId));
      this.changes.connect(this.api.changesUrl(this.view.instanceId));
    }
    return true;
  }

  // -- view changes --------------------------------------------------------------------------

  changeView(patch) {
    const instanceChanged = patch.instanceId !== undefined && patch.instanceId !== this.view.instanceId;
    Object.assign(this.view, patch);
    writeHash(this.view);
    this.syncControls();
    if (instanceChanged) this.freshness.clear();
    const eventsUrl = this.api.eventsUrl(this.view.instanceId);
    if (this.live.url !== eventsUrl) this.live.connect(eventsUrl);
    const changesUrl = this.api.changesUrl(this.view.instanceId);
    if (this.changes.url !== changesUrl) this.changes.connect(changesUrl);
    this.showPage();
    if (this.view.page === "overview") this.loadOverview();
    if (this.view.page === "events" && this.eventsFor !== this.view.instanceId) {
      this.eventsFor = this.view.instanceId;
      this.eventFeed.reset(this.view.instanceId);
    }
    this.loadGateways();
    this.loadCacheStatus();
  }

  showPage() {
    const { page } = this.view;
    $("view").hidden = page !== "gateways";
    $("overview").hidden = page !== "overview";
    $("events").hidden = page !== "events";
    for (const button of document.querySelectorAll(".pages button")) {
      button.classList.toggle("active", button.dataset.page === page);
      button.setAttribute("aria-current", button.dataset.page === page ? "page" : "false");
    }
  }

  loadOverview() {
    return this.overview.load(this.instances);
  }

  /** Opens a gateway's drawer; from another instance, that instance's gateways view first. */
  openGateway(instanceId, type, name, item = null) {
    // The shown row's item only when it is this instance's (another may have the same names).
    const shown = instanceId === this.view.instanceId ? this.table.item(type, name) : undefined;
    if (instanceId !== this.view.instanceId || type !== this.view.type) {
      this.changeView({ page: "gateways", instanceId, type, offset: 0 });
    }
    this.drawer.open(instanceId, type, name, item || shown || null);
  }

  // -- live figures --------------------------------------------------------------------------

  /** A change note of the shown instance: reload the shown rows if their APIs changed. */
  onChangeNote(note) {
    if (Number(note.instance_id) !== this.view.instanceId) return;
    const apis = GATEWAY_APIS[this.view.type];
    if (!note.changed.includes(apis.online) && !note.changed.includes(apis.config)) return;
    this.scheduleLiveReload();
  }

  scheduleLiveReload() {
    const state = this.liveReload;
    if (document.hidden || this.view.page !== "gateways") {
      state.pending = true; // a hidden page costs nothing; it reloads once when shown again
      return;
    }
    if (state.timer) return;
    const wait = Math.max(0, state.last + LIVE_RELOAD_MIN_MS - Date.now());
    state.timer = setTimeout(async () => {
      state.timer = null;
      state.pending = false;
      state.last = Date.now();
      state.count += 1;
      await this.loadGateways({ quiet: true });
    }, wait);
  }

  resumeLiveReload() {
    if (this.liveReload.pending && !document.hidden && this.view.page === "gateways") this.scheduleLiveReload();
  }

  // -- CSV export ----------------------------------------------------------------------------

  async exportCsv() {
    if (this.view.instanceId === null) return;
    const button = $("export");
    const label = button.textContent;
    button.disabled = true;
    try {
      const { limit, offset, ...query } = gatewayQuery(this.view);
      const items = await fetchAll(this.api, this.view.instanceId, query, (done, total) => {
        button.textContent = `⤓ ${formatInt(done)} / ${formatInt(total)}`;
      });
      const instance = this.instances.find((i) => i.id === this.view.instanceId);
      const stamp = new Date().toISOString().slice(0, 19).replaceAll(":", "").replace("T", "-");
      const safe = (instance?.name || `instance-${this.view.instanceId}`).replace(/[^\p{L}\p{N}._-]+/gu, "_");
      download(`vosync-${safe}-${this.view.type}-${stamp}.csv`, toCsv(items));
      this.notices.show("export", {
        level: "ok",
        title: "Exported 已导出",
        text: `${formatInt(items.length)} ${this.view.type} gateways (this filter and sort, all pages)`,
        autoHideMs: 6000,
      });
    } catch (err) {
      this.handleError(err, () => this.exportCsv());
    } finally {
      button.disabled = false;
      button.textContent = label;
    }
  }

  onHashChange() {
    const next = viewFromHash();
    const known = this.instances.some((i) => i.id === next.instanceId);
    if (!known) next.instanceId = this.view.instanceId;
    const { instanceId, ...rest } = next;
    this.view = { ...this.view, ...rest };
    this.changeView({ instanceId });
  }

  // -- live events ---------------------------------------------------------------------------

  onLiveEvent(event) {
    if (Number(event.instance_id) !== this.view.instanceId) return;
    this.eventFeed.live(event);
    this.freshness.noteEvent();
    const shown = this.table.item(event.gateway_type, event.gateway_name);
    const before = shown ? Boolean(shown.is_online) : typeof event.previous === "boolean" ? event.previous : null;
    const counts = this.counts?.[event.gateway_type];
    if (counts && before !== null && before !== Boolean(event.is_online)) {
      const delta = event.is_online ? 1 : -1;
      counts.online = Math.max(0, counts.online + delta);
      counts.offline = Math.max(0, counts.offline - delta);
      this.renderCounts();
    }
    this.table.applyEvent(event);
  }

  onLiveStatus(state, detail) {
    const previous = this.liveState;
    this.liveState = state;
    const el = $("live");
    el.dataset.state = state;
    el.querySelector(".live-text").textContent = {
      open: "Live 实时",
      connecting: "Connecting 连接中",
      retrying: "Reconnecting 重连中",
      off: "Live off",
    }[state];
    if (state === "retrying") {
      // The stream dropping is often the api going away: a quiet reload tells which it is. Again at
      // the stream's later retries, since the api may still answer while it is shutting down.
      if (!this.retryTimer && (previous === "open" || Date.now() - this.probedAt > PROBE_EVERY_MS)) {
        this.probedAt = Date.now();
        this.loadGateways({ quiet: true });
      }
      this.notices.show("live", {
        level: "warn",
        title: "Live updates interrupted 实时更新中断",
        text: `${detail}; rows change again once the stream is back (the table reloads then).`,
      });
    } else if (state === "open") {
      this.notices.clear("live");
    }
  }

  // -- refresh -------------------------------------------------------------------------------

  async refresh() {
    if (this.refreshing || this.view.instanceId === null) return;
    this.refreshing = true;
    const button = $("refresh");
    button.disabled = true;
    button.classList.add("spinning");
    try {
      const apis = GATEWAY_APIS[this.view.type];
      const names = [apis.online, apis.config];
      const results = await Promise.allSettled(names.map((name) => this.api.refreshApi(this.view.instanceId, name)));
      const failure = results.find((r) => r.status === "rejected" && !(r.reason instanceof ApiError));
      if (failure) {
        this.handleError(failure.reason, () => this.refresh());
        return;
      }
      const sources = results.map((r, i) => this.describeRefresh(names[i], r));
      this.freshness.noteRefresh(sources);
      this.reportRefresh(sources);
      await this.catchUp(sources);
    } finally {
      this.refreshing = false;
      button.disabled = false;
      button.classList.remove("spinning");
    }
  }

  describeRefresh(api, result) {
    if (result.status === "fulfilled") {
      const reply = result.value || {};
      return {
        api,
        data_source: reply.data_source || null,
        success: reply.success !== false,
        error: reply.error || null,
        synced_at: reply.synced_at || null,
        age_s: reply.age_s,
      };
    }
    const err = result.reason;
    return { api, data_source: null, success: false, error: err.message, status: err.status, synced_at: null };
  }

  reportRefresh(sources) {
    const failed = sources.filter((s) => !s.data_source);
    const stale = sources.filter((s) => s.data_source === "stale");
    const vosErrors = sources.filter((s) => s.data_source && !s.success);
    if (failed.length) {
      const upstream = failed.some((s) => s.status === 502 || s.status === 503 || s.status === 504);
      this.notices.show("vos", {
        level: "error",
        title: upstream ? "VOS or the poller is down VOS 不可用" : "Refresh failed 刷新失败",
        text: failed.map((s) => `${s.api}: ${s.status ? `HTTP ${s.status} ` : ""}${s.error}`).join("; "),
      });
    } else if (stale.length) {
      const age = stale[0].age_s;
      this.notices.show("vos", {
        level: "warn",
        title: "VOS unreachable 无法连接 VOS",
        text:
          `showing the last good data${typeof age === "number" ? ` (${formatAge(age)} old)` : ""}: ` +
          stale.map((s) => `${s.api}: ${s.error || "stale"}`).join("; "),
      });
    } else if (vosErrors.length) {
      this.notices.show("vos", {
        level: "warn",
        title: "VOS answered with an error VOS 返回错误",
        text: vosErrors.map((s) => `${s.api}: ${s.error}`).join("; "),
      });
    } else {
      const from = sources.map((s) => s.data_source).join(", ");
      this.notices.show("vos", {
        level: "ok",
        title: "Refreshed 已刷新",
        text: `data_source: ${from}`,
        autoHideMs: 6000,
      });
    }
  }

  /**
   * Waits until the writer has applied what the refresh fetched (the cache rows it writes in the
   * same transaction as the gateways carry the fetch time), then reloads the table once.
   */
  async catchUp(sources) {
    const fetched = sources.filter((s) => s.data_source === "vos_api" && s.synced_at);
    const deadline = Date.now() + REFRESH_CATCH_UP_MS;
    const applied = (status) =>
      fetched.every((s) => {
        const entry = cacheEntry(status, s.api);
        return entry?.synced_at && Date.parse(entry.synced_at) >= Date.parse(s.synced_at);
      });
    while (fetched.length && Date.now() < deadline) {
      await sleep(300);
      const status = await this.loadCacheStatus();
      if (status && applied(status)) break;
    }
    await this.loadGateways({ quiet: true });
  }

  // -- rendering -----------------------------------------------------------------------------

  showEmpty() {
    this.live.close();
    this.changes.close();
    $("view").hidden = true;
    $("overview").hidden = true;
    $("events").hidden = true;
    $("empty").hidden = false;
    $("instance-select").replaceChildren();
    document.querySelector(".instance-picker").hidden = true;
    $("empty-example").textContent = [
      `curl -X POST ${location.origin}/api/v1/instances \\`,
      `  -H 'Content-Type: application/json' -H 'X-API-Key: <admin key>' \\`,
      `  -d '{"name": "vos-main", "base_url": "http://192.0.2.10:80"}'`,
    ].join("\n");
    this.emptyTimer = setTimeout(() => this.loadInstances(), EMPTY_POLL_MS);
  }

  fillInstanceSelect() {
    const select = $("instance-select");
    document.querySelector(".instance-picker").hidden = false;
    select.replaceChildren(
      ...this.instances.map((instance) => {
        const option = document.createElement("option");
        option.value = String(instance.id);
        option.textContent = `${instance.name} (#${instance.id})${instance.enabled === false ? " · disabled 已停用" : ""}`;
        option.title = [instance.base_url, instance.description].filter(Boolean).join(" — ");
        return option;
      }),
    );
  }

  emptyTableText() {
    if (this.view.q || this.view.online) return "No gateways match 无匹配的网关";
    return `No ${this.view.type} gateways yet 暂无网关 — the poller fills this table within a poll interval.`;
  }

  renderCounts() {
    for (const type of TYPES) {
      const el = document.querySelector(`[data-testid="count-${type}"]`);
      const c = this.counts?.[type];
      if (!c) {
        el.replaceChildren();
        continue;
      }
      el.dataset.total = c.total;
      el.dataset.online = c.online;
      el.dataset.offline = c.offline;
      const total = document.createElement("span");
      total.className = "count-total";
      total.textContent = formatInt(c.total);
      const on = document.createElement("span");
      on.className = "count-on";
      on.textContent = `● ${formatInt(c.online)}`;
      on.title = "online 在线";
      const off = document.createElement("span");
      off.className = "count-off";
      off.textContent = `○ ${formatInt(c.offline)}`;
      off.title = "offline 离线";
      el.replaceChildren(total, on, off);
    }
  }

  renderPager() {
    const { total } = this.page;
    const { limit, offset } = this.view;
    const shown = this.page.items.length;
    $("range").textContent = total
      ? `${formatInt(offset + 1)}–${formatInt(offset + shown)} of ${formatInt(total)}`
      : "0 of 0";
    const pages = Math.max(1, Math.ceil(total / limit));
    const current = Math.floor(offset / limit) + 1;
    $("page-label").textContent = `${current} / ${pages}`;
    $("first").disabled = $("prev").disabled = offset === 0;
    $("next").disabled = $("last").disabled = offset + limit >= total;
  }

  syncControls() {
    const { view } = this;
    if (view.instanceId !== null) $("instance-select").value = String(view.instanceId);
    for (const tab of document.querySelectorAll(".tab")) {
      const active = tab.dataset.type === view.type;
      tab.classList.toggle("active", active);
      tab.setAttribute("aria-selected", String(active));
    }
    const search = $("search");
    if (document.activeElement !== search) search.value = view.q;
    for (const button of document.querySelectorAll("#online-filter button")) {
      button.classList.toggle("active", button.dataset.online === view.online);
      button.setAttribute("aria-pressed", String(button.dataset.online === view.online));
    }
    $("page-size").value = String(view.limit);
    this.table.showSort(view.sort);
  }

  bindControls() {
    $("instance-select").addEventListener("change", (e) =>
      this.changeView({ instanceId: Number(e.target.value), offset: 0 }),
    );
    for (const tab of document.querySelectorAll(".tab")) {
      tab.addEventListener("click", () => this.changeView({ type: tab.dataset.type, offset: 0 }));
    }
    let debounce = null;
    const search = $("search");
    const applySearch = () => {
      clearTimeout(debounce);
      if (search.value !== this.view.q) this.changeView({ q: search.value, offset: 0 });
    };
    search.addEventListener("input", () => {
      clearTimeout(debounce);
      debounce = setTimeout(applySearch, SEARCH_DEBOUNCE_MS);
    });
    search.addEventListener("keydown", (e) => e.key === "Enter" && applySearch());
    for (const button of document.querySelectorAll("#online-filter button")) {
      button.addEventListener("click", () => this.changeView({ online: button.dataset.online, offset: 0 }));
    }
    $("page-size").addEventListener("change", (e) => this.changeView({ limit: Number(e.target.value), offset: 0 }));
    const lastOffset = () => Math.floor(Math.max(0, (this.page?.total || 1) - 1) / this.view.limit) * this.view.limit;
    $("first").addEventListener("click", () => this.changeView({ offset: 0 }));
    $("prev").addEventListener("click", () => this.changeView({ offset: Math.max(0, this.view.offset - this.view.limit) }));
    $("next").addEventListener("click", () => this.changeView({ offset: Math.min(lastOffset(), this.view.offset + this.view.limit) }));
    $("last").addEventListener("click", () => this.changeView({ offset: lastOffset() }));
    $("refresh").addEventListener("click", () => this.refresh());
    $("export").addEventListener("click", () => this.exportCsv());
    for (const button of document.querySelectorAll(".pages button")) {
      button.addEventListener("click", () => PAGES.includes(button.dataset.page) && this.changeView({ page: button.dataset.page }));
    }
    $("rows").addEventListener("click", (e) => {
      const tr = e.target.closest("tr[data-name]");
      if (tr && !window.getSelection()?.toString()) {
        this.drawer.open(this.view.instanceId, tr.dataset.type, tr.dataset.name, this.table.item(tr.dataset.type, tr.dataset.name));
      }
    });
    document.addEventListener("visibilitychange", () => this.resumeLiveReload());
    $("key-button").addEventListener("click", () =>
      this.askKey("The X-API-Key sent with every request; kept in this browser only.").then(
        (saved) => saved && this.loadInstances(),
      ),
    );
    window.addEventListener("hashchange", () => this.onHashChange());
  }
}

const page = new GatewayPage();
page.syncControls();
page.loadInstances();
