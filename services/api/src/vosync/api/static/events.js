// The event feed: the shown instance's online/offline transitions, newest first; live ones arrive
// over the page's SSE stream, older ones are paged from GET /api/v1/events.

import { ApiError } from "./api.js";
import { formatTime } from "./format.js";

const PAGE = 50;
const MAX_ROWS = 2000; // the feed keeps the newest this many rows

const el = (tag, className, text) => {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
};

export class EventFeed {
  constructor({ root, api, onOpenGateway, onError }) {
    this.root = root;
    this.api = api;
    this.onOpenGateway = onOpenGateway;
    this.onError = onError;
    this.list = root.querySelector("[data-events]");
    this.more = root.querySelector("[data-more]");
    this.status = root.querySelector("[data-status]");
    this.instanceId = null;
    this.next = null;
    this.seen = new Set(); // event ids shown (a live event may also come back in a page)
    this.more.addEventListener("click", () => this.loadOlder());
  }

  /** Starts the feed afresh for an instance. */
  async reset(instanceId) {
    this.instanceId = instanceId;
    this.next = null;
    this.seen.clear();
    this.list.replaceChildren();
    await this.loadOlder(true);
  }

  async loadOlder(first = false) {
    const instanceId = this.instanceId;
    if (instanceId === null) return;
    this.more.disabled = true;
    this.status.textContent = "Loading 加载中…";
    try {
      const reply = await this.api.eventLog({ instanceId, limit: PAGE, before: first ? undefined : this.next });
      if (instanceId !== this.instanceId) return;
      for (const item of reply.items || []) this.add(item, false);
      this.next = reply.next ?? null;
      this.status.textContent = this.next ? "" : "No older events 没有更早的事件";
      this.more.hidden = !this.next;
    } catch (err) {
      this.more.hidden = true;
      if (err instanceof ApiError) {
        this.status.textContent = `Event log unavailable 事件日志不可用: ${err.message} — live events still appear here.`;
      } else {
        this.status.textContent = "";
        this.onError(err);
      }
    } finally {
      this.more.disabled = false;
    }
  }

  /** A live gateway.online event of the shown instance. */
  live(event) {
    if (Number(event.instance_id) !== this.instanceId) return;
    this.add(
      {
        id: event.event_id,
        instance_id: event.instance_id,
        gateway_type: event.gateway_type,
        name: event.gateway_name,
        is_online: event.is_online,
        previous: event.previous,
        changed_at: event.changed_at,
      },
      true,
    );
  }

  add(item, newest) {
    // The log's ids are strings, the stream's numbers: the same outbox id either way.
    const id = item.id === null || item.id === undefined ? null : String(item.id);
    if (id !== null) {
      if (this.seen.has(id)) return;
      this.seen.add(id);
    }
    const li = el("li", item.is_online ? "up" : "down");
    li.dataset.testid = "event";
    li.dataset.name = item.name;
    li.dataset.type = item.gateway_type;
    li.dataset.online = String(Boolean(item.is_online));
    if (id !== null) li.dataset.id = id;
    const link = el("button", "link", item.name);
    link.type = "button";
    link.addEventListener("click", () => this.onOpenGateway(item.instance_id, item.gateway_type, item.name));
    li.append(
      el("span", "when", formatTime(item.changed_at)),
      el("span", "what", whatHappened(item)),
      el("span", "type", item.gateway_type === "mapping" ? "mapping 对接" : "routing 落地"),
      link,
    );
    if (newest) {
      li.classList.add("fresh");
      this.list.prepend(li);
      while (this.list.children.length > MAX_ROWS) this.list.lastElementChild.remove();
    } else {
      this.list.append(li);
    }
  }
}

function whatHappened(item) {
  // No previous state: vosync saw the gateway for the first time.
  if (item.previous === null || item.previous === undefined) {
    return item.is_online ? "● first seen online 首次在线" : "○ first seen offline 首次离线";
  }
  return item.is_online ? "▲ online 上线" : "▼ offline 离线";
}
