// The overview of all instances: gateways online per type, whether VOS answers, how old the data
// is, and each instance's worst gateways (lowest 24 h uptime when the api keeps history; the offline
// ones otherwise).

import { ApiError } from "./api.js";
import { formatAge, formatInt, formatShare } from "./format.js";
import { GATEWAY_APIS, cacheEntry, isFailing } from "./freshness.js";
import { TYPES } from "./state.js";

const DETAILED = 20; // instances whose VOS state and worst gateways are read (the rest: counts)
const WORST = 5;
const STALE_AFTER_S = 90;

const el = (tag, className, text) => {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
};

export class Overview {
  constructor({ root, api, onOpenGateway, onOpenInstance, onError }) {
    this.root = root;
    this.api = api;
    this.onOpenGateway = onOpenGateway;
    this.onOpenInstance = onOpenInstance;
    this.onError = onError;
    this.byUptime = true; // false once the api refuses sort=uptime_24h (no history kept)
    this.loading = false;
  }

  async load(instances) {
    if (this.loading) return;
    this.loading = true;
    try {
      const summary = await this.api.summary();
      const counts = new Map(summary.instances.map((s) => [s.instance_id, s]));
      const detailed = instances.slice(0, DETAILED);
      const details = await Promise.all(detailed.map((i) => this.details(i.id)));
      const cards = instances.map((instance, index) => this.card(instance, counts.get(instance.id), details[index]));
      this.root.querySelector("[data-cards]").replaceChildren(...cards);
      const totals = summary.totals.total;
      const head = this.root.querySelector("[data-totals]");
      head.textContent = `${formatInt(instances.length)} instances 实例 · ${formatInt(totals.online)} / ${formatInt(totals.total)} gateways online 网关在线`;
      head.dataset.online = String(totals.online);
      head.dataset.total = String(totals.total);
      this.root.dataset.loadedAt = String(Date.now());
    } catch (err) {
      this.onError(err);
    } finally {
      this.loading = false;
    }
  }

  async details(instanceId) {
    const [status, ...worst] = await Promise.all([
      this.api.cacheStatus(instanceId).catch(() => null),
      ...TYPES.map((type) => this.worst(instanceId, type)),
    ]);
    return { status, worst: worst.flat() };
  }

  /**
   * The offline gateways (lowest 24 h uptime first), then online ones that were down during the
   * last 24 h (lowest uptime first); at most WORST. Without history: the offline ones by name.
   */
  async worst(instanceId, type) {
    if (this.byUptime) {
      try {
        const query = { type, sort: "uptime_24h", limit: WORST };
        const [down, up] = await Promise.all([
          this.api.gateways(instanceId, { ...query, online: "false" }),
          this.api.gateways(instanceId, { ...query, online: "true" }),
        ]);
        const sample = down.items[0] || up.items[0];
        if (!sample || "uptime_24h" in sample) {
          const flaky = up.items.filter((g) => typeof g.uptime_24h === "number" && g.uptime_24h < 1);
          return [...down.items, ...flaky].slice(0, WORST);
        }
      } catch (err) {
        if (!(err instanceof ApiError && err.status === 400)) throw err;
      }
      this.byUptime = false;
    }
    const page = await this.api.gateways(instanceId, { type, online: "false", limit: WORST });
    return page.items;
  }

  card(instance, counts, details) {
    const card = el("article", "ov-card");
    card.dataset.testid = "ov-instance";
    card.dataset.instance = String(instance.id);
    const title = el("button", "ov-title link", `${instance.name} (#${instance.id})`);
    title.type = "button";
    title.addEventListener("click", () => this.onOpenInstance(instance.id));
    const head = el("header", "ov-head");
    head.append(title);
    if (instance.enabled === false) head.append(el("span", "tag", "disabled 已停用"));
    card.append(head);

    const grid = el("div", "ov-counts");
    for (const type of TYPES) {
      const c = counts?.[type];
      const box = el("div", "ov-count");
      box.dataset.testid = `ov-count-${type}`;
      box.dataset.online = String(c?.online ?? "");
      box.dataset.total = String(c?.total ?? "");
      box.append(el("span", "ov-type", type === "mapping" ? "Mapping 对接" : "Routing 落地"));
      box.append(el("span", "ov-num", c ? `${formatInt(c.online)} / ${formatInt(c.total)}` : "–"));
      const share = c && c.total ? c.online / c.total : null;
      const bar = el("span", "ov-bar");
      bar.style.setProperty("--share", `${Math.round((share ?? 0) * 100)}%`);
      box.append(bar);
      grid.append(box);
    }
    card.append(grid);
    if (!details) {
      card.append(el("p", "muted", "Details for the first instances only 仅显示前几个实例的详情"));
      return card;
    }
    card.append(this.vosState(details.status));
    card.append(this.worstList(instance.id, details.worst));
    return card;
  }

  vosState(status) {
    const box = el("div", "ov-vos");
    box.dataset.testid = "ov-vos";
    const entries = Object.values(GATEWAY_APIS).flatMap((apis) => [cacheEntry(status, apis.online), cacheEntry(status, apis.config)]).filter(Boolean);
    const failing = entries.filter(isFailing);
    const online = Object.values(GATEWAY_APIS).map((apis) => cacheEntry(status, apis.online)).filter(Boolean);
    const ages = online.map((e) => e.age_s).filter((a) => typeof a === "number");
    const age = ages.length ? Math.max(...ages) : null;
    let state = "ok";
    let text = "VOS answering 正常";
    let detail = "";
    if (!status) {
      state = "unknown";
      text = "VOS state unknown 状态未知";
    } else if (failing.length) {
      state = "error";
      text = "VOS not answering 无法连接 VOS";
      detail = failing.map((e) => `${e.api_name}: ${[e.error_kind, e.error_message].filter(Boolean).join(": ") || "failed"}`).join("; ");
    } else if (entries.length === 0) {
      state = "unknown";
      text = "Not fetched yet 尚未获取";
    } else if (age !== null && age > STALE_AFTER_S) {
      state = "stale";
      text = "Online status stale 在线状态过期";
    }
    box.dataset.state = state;
    box.append(el("span", `ov-dot ${state}`), el("span", "ov-vos-text", text));
    const ageEl = el("span", "ov-age", `data age 数据时效: ${age === null ? "–" : formatAge(age)}`);
    ageEl.dataset.testid = "ov-age";
    box.append(ageEl);
    if (detail) box.append(el("span", "ov-vos-detail", detail));
    return box;
  }

  worstList(instanceId, worst) {
    const box = el("div", "ov-worst");
    box.append(el("h4", "", this.byUptime ? "Worst gateways, 24 h 最差网关" : "Offline gateways 离线网关"));
    const list = el("ul", "ov-worst-list");
    list.dataset.testid = "ov-worst";
    if (worst.length === 0) list.append(el("li", "muted", "None 无"));
    for (const g of worst) {
      const li = el("li", g.is_online ? "up" : "down");
      li.dataset.testid = "ov-worst-item";
      li.dataset.name = g.gateway_name;
      li.dataset.type = g.gateway_type;
      const link = el("button", "link", g.gateway_name);
      link.type = "button";
      link.addEventListener("click", () => this.onOpenGateway(instanceId, g.gateway_type, g.gateway_name, g));
      const facts = [g.gateway_type, g.is_online ? "online 在线" : "offline 离线"];
      if (typeof g.uptime_24h === "number") facts.push(`uptime ${formatShare(g.uptime_24h)}`);
      if (typeof g.flaps_24h === "number") facts.push(`${g.flaps_24h} flaps`);
      li.append(link, el("span", "muted", ` ${facts.join(" · ")}`));
      list.append(li);
    }
    box.append(list);
    return box;
  }
}
