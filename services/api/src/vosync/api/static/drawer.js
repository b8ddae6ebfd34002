// The gateway detail drawer: what a gateway is doing now, its 24 h and 7 d online timeline and
// uptime, its transitions and charts of its calls and ASR, from the gateway-history endpoint.

import { ApiError } from "./api.js";
import { sampleChart } from "./charts.js";
import { formatAcd, formatAsr, formatInt, formatShare, formatTime, gatewayIps } from "./format.js";
import { periods, timelineBar } from "./timeline.js";

const HOUR = 3600_000;
const DAY = 24 * HOUR;
const RANGES = { "24h": DAY, "7d": 7 * DAY };
const MAX_TRANSITIONS = 200;

const el = (tag, className, text) => {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
};

export class GatewayDrawer {
  constructor({ root, api, onError }) {
    this.root = root;
    this.api = api;
    this.onError = onError;
    this.target = null; // {instanceId, type, name}
    this.range = "24h";
    this.history = null;
    this.item = null;
    this.charts = [];
    this.loading = null;
    root.querySelector("[data-close]").addEventListener("click", () => this.close());
    document.addEventListener("keydown", (e) => e.key === "Escape" && this.isOpen && this.close());
    for (const button of root.querySelectorAll("[data-range]")) {
      button.addEventListener("click", () => {
        this.range = button.dataset.range;
        this.load();
      });
    }
  }

  get isOpen() {
    return !this.root.hidden;
  }

  /** Opens the drawer on a gateway; `item` is its list row when known (shown until details load). */
  open(instanceId, type, name, item = null) {
    this.target = { instanceId, type, name };
    this.item = item;
    this.history = null;
    this.root.hidden = false;
    this.root.dataset.name = name;
    this.root.dataset.type = type;
    this.root.querySelector("[data-title]").textContent = name;
    this.root.querySelector("[data-subtitle]").textContent = `${type === "mapping" ? "Mapping 对接" : "Routing 落地"} · instance #${instanceId}`;
    this.renderNow();
    this.load();
  }

  close() {
    this.root.hidden = true;
    this.target = null;
    this.loading?.abort();
    this.destroyCharts();
  }

  /** A newer list row of the open gateway (live figures). */
  updateItem(item) {
    if (!this.target || item.gateway_name !== this.target.name || item.gateway_type !== this.target.type) return;
    this.item = item;
    this.renderNow();
  }

  async load() {
    const target = this.target;
    if (!target) return;
    this.loading?.abort();
    const controller = new AbortController();
    this.loading = controller;
    for (const b of this.root.querySelectorAll("[data-range]")) b.classList.toggle("active", b.dataset.range === this.range);
    const status = this.root.querySelector("[data-status]");
    status.textContent = "Loading 加载中…";
    status.dataset.state = "loading";
    const now = Date.now();
    const since = (ms) => new Date(now - ms).toISOString();
    const { instanceId, type, name } = target;
    try {
      const [week, range, detail] = await Promise.all([
        this.api.gatewayHistory(instanceId, type, name, { since: since(RANGES["7d"]) }, controller.signal),
        this.range === "7d"
          ? null
          : this.api.gatewayHistory(instanceId, type, name, { since: since(RANGES[this.range]) }, controller.signal),
        this.item ? null : this.api.gateway(instanceId, type, name, controller.signal).catch(() => null),
      ]);
      if (controller !== this.loading || this.target !== target) return;
      if (detail) this.item = detail;
      this.history = { week, range: range || week, at: now };
      status.textContent = "";
      status.dataset.state = "ok";
      this.renderNow();
      this.renderHistory();
    } catch (err) {
      if (err?.name === "AbortError" || controller !== this.loading) return;
      status.dataset.state = "error";
      status.textContent =
        err instanceof ApiError && err.status === 404
          ? `No history 无历史数据: ${err.message}`
          : `History unavailable 历史数据不可用: ${err?.message || err}`;
      this.renderHistory();
      if (!(err instanceof ApiError)) this.onError(err);
    } finally {
      if (controller === this.loading) this.loading = null;
    }
  }

  renderNow() {
    const box = this.root.querySelector("[data-now]");
    const item = this.item;
    const online = item ? Boolean(item.is_online) : this.history?.week?.is_online;
    const badge = el("span", online ? "badge on" : "badge off", online ? "online 在线" : "offline 离线");
    badge.dataset.testid = "drawer-state";
    const facts = el("dl", "facts");
    const add = (label, value, testid) => {
      const dd = el("dd", "", value);
      if (testid) dd.dataset.testid = testid;
      facts.append(el("dt", "", label), dd);
    };
    add("Since 自", formatTime(item?.online_changed_at));
    add("ASR", formatAsr(item?.asr), "drawer-asr");
    add("ACD", formatAcd(item?.acd), "drawer-acd");
    add("Calls 并发", `${formatInt(item?.concurrent_calls)} / ${formatInt(item?.capacity)}`, "drawer-calls");
    add("IP(s)", item ? gatewayIps(item).join(", ") || "–" : "–");
    if (item?.protocol) add("Protocol 协议", item.protocol);
    box.replaceChildren(badge, facts);
  }

  renderHistory() {
    this.destroyCharts();
    const uptimeBox = this.root.querySelector("[data-uptime]");
    const listBox = this.root.querySelector("[data-transitions]");
    const callsEl = this.root.querySelector('[data-testid="chart-calls"]');
    const asrEl = this.root.querySelector('[data-testid="chart-asr"]');
    const history = this.history;
    if (!history) {
      uptimeBox.replaceChildren();
      listBox.replaceChildren();
      callsEl.replaceChildren();
      asrEl.replaceChildren();
      return;
    }
    const { week, range, at } = history;
    uptimeBox.replaceChildren(
      this.uptimeRow("24h", "24 h", week, at - DAY, at),
      this.uptimeRow("7d", "7 d", week, at - 7 * DAY, at),
    );
    const flaps = el("div", "flaps", `Flaps in 24 h 24 小时抖动: ${formatInt(week.flaps_24h)} · uptime 1 h: ${formatShare(week.uptime?.["1h"])}`);
    flaps.dataset.testid = "drawer-flaps";
    flaps.dataset.value = String(week.flaps_24h ?? "");
    uptimeBox.append(flaps);

    const transitions = week.transitions || [];
    listBox.dataset.count = String(transitions.length);
    if (transitions.length === 0) {
      listBox.replaceChildren(el("li", "muted", "No transitions in 7 days 7 天内无状态变化"));
    } else {
      listBox.replaceChildren(
        ...transitions.slice(0, MAX_TRANSITIONS).map((t, i) => {
          const li = el("li", t.is_online ? "up" : "down");
          li.dataset.testid = "transition";
          li.dataset.online = String(Boolean(t.is_online));
          li.append(el("span", "when", formatTime(t.changed_at)), el("span", "what", t.is_online ? "▲ online 上线" : "▼ offline 离线"));
          // How long the state it entered lasted (until the next, newer transition, or now).
          const until = i === 0 ? at : Date.parse(transitions[i - 1].changed_at);
          li.append(el("span", "for", `for ${formatDuration(until - Date.parse(t.changed_at))}${i === 0 ? " (now)" : ""}`));
          return li;
        }),
      );
    }
    const samples = range.samples || [];
    const resolution = range.resolution === "hour" ? "hourly 每小时" : "per minute 每分钟";
    this.root.querySelector("[data-resolution]").textContent = `${samples.length} samples, ${resolution}`;
    const span = { from: at - RANGES[this.range], to: at };
    const calls = sampleChart(callsEl, samples, { ...span, field: "concurrent_calls", label: "Calls 并发", color: "#2f6fdf", format: (v) => formatInt(Math.round(v)) });
    const asr = sampleChart(asrEl, samples, { ...span, field: "asr", label: "ASR", color: "#1a9b5b", format: (v) => `${Number(v).toFixed(0)} %` });
    this.charts = [calls, asr].filter(Boolean);
  }

  uptimeRow(key, label, week, from, to) {
    const row = el("div", "uptime-row");
    row.dataset.testid = `uptime-${key}`;
    const fraction = week.uptime?.[key];
    row.dataset.value = typeof fraction === "number" ? String(fraction) : "";
    const bar = timelineBar(periods(week.transitions || [], Boolean(week.is_online), from, to), from, to);
    row.append(el("span", "uptime-label", label), bar, el("span", "uptime-value", formatShare(fraction)));
    return row;
  }

  destroyCharts() {
    for (const chart of this.charts) chart.destroy();
    this.charts = [];
  }
}

export function formatDuration(ms) {
  if (!Number.isFinite(ms) || ms < 0) return "–";
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h} h ${m % 60} min`;
  return `${Math.floor(h / 24)} d ${h % 24} h`;
}
