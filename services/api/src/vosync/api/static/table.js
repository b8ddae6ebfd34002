// The gateway table: renders one page of rows, keeps a row per gateway name so a live event updates
// its row in place, and shows the sort on the column headers.

import { formatAcd, formatAsr, formatInt, formatShare, formatText, formatTime, gatewayIps } from "./format.js";

function cell(className, testId, text) {
  const td = document.createElement("td");
  td.className = className;
  td.dataset.testid = testId;
  td.textContent = text;
  return td;
}

function stateBadge(td, item) {
  const online = Boolean(item.is_online);
  td.replaceChildren();
  const badge = document.createElement("span");
  badge.className = online ? "badge on" : "badge off";
  badge.textContent = online ? "online 在线" : "offline 离线";
  td.append(badge);
  td.title = item.online_changed_at ? `since ${formatTime(item.online_changed_at)}` : "";
}

function callsCell(td, item) {
  const calls = item.concurrent_calls;
  td.replaceChildren(document.createTextNode(formatInt(calls)));
  const capacity = Number(item.capacity);
  if (calls !== null && calls !== undefined && Number.isFinite(capacity) && capacity > 0) {
    const share = Math.min(1, Math.max(0, Number(calls) / capacity));
    const bar = document.createElement("span");
    bar.className = share >= 0.9 ? "load high" : "load";
    bar.style.setProperty("--load", `${Math.round(share * 100)}%`);
    bar.title = `${Math.round(share * 100)} % of capacity`;
    td.append(bar);
  }
}

function buildRow(item) {
  const tr = document.createElement("tr");
  tr.dataset.testid = "gw-row";
  tr.dataset.name = item.gateway_name;
  tr.dataset.type = item.gateway_type;

  const name = cell("col-name", "gw-name", item.gateway_name);
  if (item.prefix) name.title = `prefix ${item.prefix}`;
  if (item.in_config === false) {
    const tag = document.createElement("span");
    tag.className = "tag";
    tag.textContent = "not in config";
    tag.title = "Reported online by VOS but missing from the gateway configuration";
    name.append(tag);
  }

  const ips = gatewayIps(item);
  const ip = cell("col-ip", "gw-ip", ips[0] || "–");
  if (ips.length > 1) {
    const more = document.createElement("span");
    more.className = "more";
    more.textContent = ` +${ips.length - 1}`;
    ip.append(more);
    ip.title = ips.join("\n");
  }

  tr.append(
    name,
    ip,
    cell("col-port num", "gw-port", formatText(item.port)),
    cell("col-proto", "gw-protocol", formatText(item.protocol)),
    cell("col-state", "gw-state", ""),
    cell("col-asr num", "gw-asr", ""),
    cell("col-acd num", "gw-acd", ""),
    cell("col-calls num", "gw-calls", ""),
    cell("col-cap num", "gw-capacity", formatInt(item.capacity)),
    cell("col-uptime num history-col", "gw-uptime", ""),
    cell("col-flaps num history-col", "gw-flaps", ""),
  );
  fillLive(tr, item);
  fillHistory(tr, item);
  return tr;
}

/** Uptime and flaps of the last 24 h (when the api keeps history). */
function fillHistory(tr, item) {
  const [uptime, flaps] = [tr.children[9], tr.children[10]];
  uptime.textContent = formatShare(item.uptime_24h);
  uptime.classList.toggle("poor", typeof item.uptime_24h === "number" && item.uptime_24h < 0.9);
  flaps.textContent = formatInt(item.flaps_24h);
}

const FIGURES = ["asr", "acd", "concurrent_calls", "capacity"];

/** The cells a gateway.online event can change. */
function fillLive(tr, item) {
  tr.dataset.online = item.is_online ? "true" : "false";
  tr.classList.toggle("is-offline", !item.is_online);
  const [, , , , state, asr, acd, calls] = tr.children;
  stateBadge(state, item);
  asr.textContent = formatAsr(item.asr);
  acd.textContent = formatAcd(item.acd);
  callsCell(calls, item);
}

export class GatewayTable {
  constructor({ tbody, thead, emptyEl, onSort }) {
    this.tbody = tbody;
    this.thead = thead;
    this.emptyEl = emptyEl;
    this.rows = new Map(); // gateway_name → { tr, item }
    this.type = null;
    thead.addEventListener("click", (event) => {
      const th = event.target.closest("th[data-sort]");
      if (th) onSort(th.dataset.sort);
    });
  }

  /** Replaces the shown rows with one page of items (built off-document, inserted in one go). */
  render(items, type, emptyText) {
    const started = performance.now();
    this.type = type;
    this.rows.clear();
    const fragment = document.createDocumentFragment();
    for (const item of items) {
      const tr = buildRow(item);
      this.rows.set(item.gateway_name, { tr, item: { ...item } });
      fragment.append(tr);
    }
    this.tbody.replaceChildren(fragment);
    this.emptyEl.hidden = items.length > 0;
    this.emptyEl.textContent = emptyText;
    // Visible in the browser's performance tools, and read by the browser test.
    performance.measure("vosync:render-rows", { start: started, detail: { rows: items.length } });
  }

  /**
   * Takes a newer reply of the same page in place when it lists the same gateways in the same order
   * (figures changed, rows did not move): rows keep their elements, changed cells flash briefly.
   * Returns false, changing nothing, when the page must be rebuilt instead.
   */
  update(items, type) {
    if (type !== this.type || items.length !== this.rows.size) return false;
    let index = 0;
    for (const name of this.rows.keys()) {
      if (items[index++].gateway_name !== name) return false;
    }
    for (const item of items) {
      const row = this.rows.get(item.gateway_name);
      const before = row.item;
      row.item = { ...item };
      const [, , , , state, asr, acd, calls, capacity] = row.tr.children;
      fillLive(row.tr, row.item);
      fillHistory(row.tr, row.item);
      capacity.textContent = formatInt(item.capacity);
      const cells = { asr, acd, concurrent_calls: calls, capacity };
      for (const field of FIGURES) if (before[field] !== item[field]) tick(cells[field]);
      if (Boolean(before.is_online) !== Boolean(item.is_online)) tick(state);
    }
    return true;
  }

  /** The shown item of a gateway, or undefined when it is not on this page. */
  item(type, name) {
    return type === this.type ? this.rows.get(name)?.item : undefined;
  }

  /** Applies a live event to its row when the row is shown; returns whether it was. */
  applyEvent(event) {
    const row = event.gateway_type === this.type ? this.rows.get(event.gateway_name) : undefined;
    if (!row) return false;
    const item = row.item;
    item.is_online = event.is_online;
    item.online_changed_at = event.changed_at;
    // The event carries the gateway's figures at the change (none when it went offline).
    item.asr = event.asr ?? null;
    item.acd = event.acd ?? null;
    item.concurrent_calls = event.concurrent_calls ?? (event.is_online ? null : 0);
    fillLive(row.tr, item);
    flash(row.tr);
    return true;
  }

  showSort(sort) {
    const column = sort.replace(/^-/, "");
    for (const th of this.thead.querySelectorAll("th[data-sort]")) {
      const active = th.dataset.sort === column;
      th.classList.toggle("sorted", active);
      th.setAttribute("aria-sort", active ? (sort.startsWith("-") ? "descending" : "ascending") : "none");
    }
  }

  setBusy(busy) {
    this.tbody.classList.toggle("busy", busy);
  }
}

function tick(td) {
  td.classList.remove("tick");
  void td.offsetWidth;
  td.classList.add("tick");
  td.addEventListener("animationend", () => td.classList.remove("tick"), { once: true });
}

function flash(tr) {
  tr.classList.remove("flash");
  void tr.offsetWidth; // restart the animation when a row changes twice in a row
  tr.classList.add("flash");
  tr.addEventListener("animationend", () => tr.classList.remove("flash"), { once: true });
}
