// How old the shown data is, ticking every second, and where it came from.
// Ages are computed from the api's timestamps; when the api also sends `age_s` we use it to correct
// for a browser clock that differs from the server's.

import { formatAge, formatTime } from "./format.js";

const STALE_AFTER_S = 90; // three missed polls at the default 30 s online interval

const SOURCE_TEXT = {
  vos_api: "fresh from VOS 实时获取",
  database: "from the vosync cache 缓存",
  stale: "VOS unreachable, last good data 过期数据",
};

export class Freshness {
  constructor({ ageEl, sourceEl }) {
    this.ageEl = ageEl;
    this.sourceEl = sourceEl;
    this.onlineAt = null; // ms since epoch, server clock
    this.configAt = null;
    this.skewMs = 0; // browser clock minus server clock
    this.lastEventAt = null;
    this.refresh = null; // {at, sources: [{api, data_source, error}]}
    this.instanceName = "";
    setInterval(() => this.renderAge(), 1000);
  }

  /** Takes the timestamps of a gateways reply. */
  update(page) {
    this.onlineAt = page.online_synced_at ? Date.parse(page.online_synced_at) : null;
    this.configAt = page.synced_at ? Date.parse(page.synced_at) : null;
    this.instanceName = page.instance_name || "";
    // The api's age_s is the age of online_synced_at, measured on the server's clock.
    if (typeof page.age_s === "number" && this.onlineAt) {
      const skew = Date.now() - this.onlineAt - page.age_s * 1000;
      // Only a real clock difference is worth correcting; small values are request latency.
      this.skewMs = Math.abs(skew) > 2000 ? skew : 0;
    }
    this.renderAge();
    this.renderSource();
  }

  clear() {
    this.onlineAt = this.configAt = this.lastEventAt = this.refresh = null;
    this.renderAge();
    this.renderSource();
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
    const online = this.ageOf(this.onlineAt);
    const config = this.ageOf(this.configAt);
    const parts = [];
    parts.push(`Status 状态 ${online === null ? "never synced 未同步" : formatAge(online) + " ago"}`);
    parts.push(`Config 配置 ${config === null ? "never synced 未同步" : formatAge(config) + " ago"}`);
    if (this.lastEventAt) parts.push(`last live event ${formatAge((Date.now() - this.lastEventAt) / 1000)} ago`);
    this.ageEl.textContent = parts.join(" · ");
    const stale = online !== null && online > STALE_AFTER_S;
    this.ageEl.classList.toggle("stale", stale);
    this.ageEl.dataset.stale = stale ? "true" : "false";
    this.ageEl.title = [
      this.onlineAt ? `online status synced ${formatTime(new Date(this.onlineAt).toISOString())}` : "",
      this.configAt ? `configuration synced ${formatTime(new Date(this.configAt).toISOString())}` : "",
      stale ? "No fresh online status for a while: VOS or the poller may be down." : "",
    ].filter(Boolean).join("\n");
  }

  renderSource() {
    const el = this.sourceEl;
    el.replaceChildren();
    const base = document.createElement("span");
    base.textContent = "Source 来源: gateways table, written by the sync pipeline (poller → writer)";
    el.append(base);
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
    const worst = this.refresh.sources.some((s) => !s.data_source)
      ? "error"
      : this.refresh.sources.some((s) => s.data_source === "stale") ? "stale" : "ok";
    after.dataset.state = worst;
    el.append(after);
  }
}
