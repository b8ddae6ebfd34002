// How old the shown data is, ticking every second, and where it came from.
//
// Two sources of time: the vosync cache status (when the poller last fetched each VOS API
// successfully, and whether its latest attempt failed) and the gateways table (when a row last
// changed: the writer leaves it alone when VOS reports the same thing again). The api's `age_s`
// values correct for a browser clock that differs from the server's.

import { formatAge, formatTime } from "./format.js";

const STALE_AFTER_S = 90; // three missed polls at the default 30 s online interval

/** The VOS APIs behind each tab: online status and configuration. */
export const GATEWAY_APIS = {
  mapping: { online: "GetGatewayMappingOnline", config: "GetGatewayMapping" },
  routing: { online: "GetGatewayRoutingOnline", config: "GetGatewayRouting" },
};

const SOURCE_TEXT = {
  vos_api: "fresh from VOS 实时获取",
  database: "from the vosync cache 缓存",
  stale: "VOS unreachable, last good data 过期数据",
};

const ms = (iso) => (iso ? Date.parse(iso) : null);

/** The newest cache entry of an API (one per request parameters) in a cache status reply. */
export function cacheEntry(status, apiName) {
  let best = null;
  for (const entry of status?.items || []) {
    if (entry.api_name !== apiName) continue;
    if (!best || (ms(entry.last_attempt_at) || 0) > (ms(best.last_attempt_at) || 0)) best = entry;
  }
  return best;
}

/** Whether the latest attempt to fetch this entry from VOS failed. */
export function isFailing(entry) {
  if (!entry?.last_error_at) return false;
  return !entry.synced_at || ms(entry.last_error_at) >= ms(entry.synced_at);
}

export class Freshness {
  constructor({ ageEl, sourceEl }) {
    this.ageEl = ageEl;
    this.sourceEl = sourceEl;
    this.clear();
    setInterval(() => this.renderAge(), 1000);
  }

  clear() {
    this.tableChangedAt = null; // newest online_synced_at in the gateways table
    this.tableConfigAt = null;
    this.onlineFetchedAt = null; // last good fetch of the online API (cache status)
    this.configFetchedAt = null;
    this.skewMs = 0; // browser clock minus server clock
    this.lastEventAt = null;
    this.refresh = null; // {at, sources: [{api, data_source, error}]}
    this.renderAge();
    this.renderSource();
  }

  /** Takes the timestamps of a gateways reply. */
  update(page) {
    this.tableChangedAt = ms(page.online_synced_at);
    this.tableConfigAt = ms(page.synced_at);
    this.correctSkew(this.tableChangedAt, page.age_s);
    this.renderAge();
  }

  /** Takes the cache status entries of the shown tab's APIs. */
  updateCache(online, config) {
    this.onlineFetchedAt = ms(online?.synced_at);
    this.configFetchedAt = ms(config?.synced_at);
    this.correctSkew(this.onlineFetchedAt, online?.age_s);
    this.renderAge();
  }

  correctSkew(serverMs, ageS) {
    if (typeof ageS !== "number" || !serverMs) return;
    const skew = Date.now() - serverMs - ageS * 1000;
    // Only a real clock difference is worth correcting; small values are request latency.
    this.skewMs = Math.abs(skew) > 2000 ? skew : 0;
  }

  noteEvent() {
    this.lastEventAt = Date.now();
  }

  noteRefresh(sources) {
    this.refresh = { at: Date.now(), sources };
    this.renderSource();
  }

  ageOf(serverMs) {
    return serverMs ? (Date.now() - this.skewMs - serverMs) / 1000 : null;
  }

  renderAge() {
    const ago = (seconds) => (seconds === null ? "never 从未" : `${formatAge(seconds)} ago`);
    // Prefer when VOS was last asked; fall back to when the table last changed.
    const online = this.ageOf(this.onlineFetchedAt ?? this.tableChangedAt);
    const config = this.ageOf(this.configFetchedAt ?? this.tableConfigAt);
    const parts = [`Online status 在线状态 fetched ${ago(online)}`, `Config 配置 fetched ${ago(config)}`];
    if (this.tableChangedAt) parts.push(`table changed ${ago(this.ageOf(this.tableChangedAt))}`);
    if (this.lastEventAt) parts.push(`last live event ${ago((Date.now() - this.lastEventAt) / 1000)}`);
    this.ageEl.textContent = parts.join(" · ");
    const stale = online !== null && online > STALE_AFTER_S;
    this.ageEl.classList.toggle("stale", stale);
    this.ageEl.dataset.stale = stale ? "true" : "false";
    const at = (serverMs) => formatTime(new Date(serverMs).toISOString());
    this.ageEl.title = [
      this.onlineFetchedAt ? `online status last fetched from VOS ${at(this.onlineFetchedAt)}` : "",
      this.configFetchedAt ? `configuration last fetched from VOS ${at(this.configFetchedAt)}` : "",
      this.tableChangedAt ? `gateways table last changed ${at(this.tableChangedAt)}` : "",
      stale ? "No fresh online status for a while: VOS or the poller may be down." : "",
    ].filter(Boolean).join("\n");
  }

  renderSource() {
    const el = this.sourceEl;
    const base = document.createElement("span");
    base.textContent = "Source 来源: gateways table, written by the sync pipeline (poller → writer)";
    el.replaceChildren(base);
    if (!this.refresh) return;
    const after = document.createElement("span");
    after.className = "refresh-sources";
    after.dataset.testid = "refresh-source";
    after.textContent =
      ` · last refresh ${new Date(this.refresh.at).toLocaleTimeString()}: ` +
      this.refresh.sources.map((s) => `${s.api} → ${s.data_source || "error"}`).join(", ");
    after.title = this.refresh.sources
      .map((s) => `${s.api}: ${SOURCE_TEXT[s.data_source] || s.error || "failed"}`)
      .join("\n");
    const sources = this.refresh.sources;
    after.dataset.state = sources.some((s) => !s.data_source)
      ? "error"
      : sources.some((s) => s.data_source === "stale") ? "stale" : "ok";
    el.append(after);
  }
}
