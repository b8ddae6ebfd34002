// What the page shows (instance, tab, filters, sort, page) and its round trip through the URL hash,
// so a reload or a shared link opens the same view.

export const TYPES = ["mapping", "routing"];
export const SORTS = ["name", "ip_address", "is_online", "asr", "acd", "concurrent_calls", "uptime_24h", "flaps_24h"];
export const PAGES = ["gateways", "overview", "events"];
export const PAGE_SIZES = [50, 100, 200, 500];
const ONLINE = ["", "true", "false"];

export function defaultView() {
  return { page: "gateways", instanceId: null, type: "mapping", online: "", q: "", sort: "name", limit: 100, offset: 0 };
}

function validSort(sort) {
  return SORTS.includes(sort.replace(/^-/, "")) ? sort : "name";
}

/** The view named by the hash, falling back to defaults for anything missing or malformed. */
export function viewFromHash(hash = location.hash) {
  const params = new URLSearchParams(hash.replace(/^#/, ""));
  const view = defaultView();
  const instance = Number.parseInt(params.get("instance") || "", 10);
  if (Number.isFinite(instance)) view.instanceId = instance;
  const page = params.get("view");
  if (PAGES.includes(page)) view.page = page;
  const type = params.get("type");
  if (TYPES.includes(type)) view.type = type;
  const online = params.get("online") || "";
  if (ONLINE.includes(online)) view.online = online;
  view.q = (params.get("q") || "").slice(0, 200);
  view.sort = validSort(params.get("sort") || "name");
  const limit = Number.parseInt(params.get("limit") || "", 10);
  if (PAGE_SIZES.includes(limit)) view.limit = limit;
  const offset = Number.parseInt(params.get("offset") || "", 10);
  if (Number.isFinite(offset) && offset >= 0) view.offset = offset - (offset % view.limit);
  return view;
}

/** Writes the view into the hash without adding a history entry per keystroke. */
export function writeHash(view) {
  const params = new URLSearchParams();
  if (view.page !== "gateways") params.set("view", view.page);
  if (view.instanceId !== null) params.set("instance", String(view.instanceId));
  params.set("type", view.type);
  if (view.online) params.set("online", view.online);
  if (view.q) params.set("q", view.q);
  if (view.sort !== "name") params.set("sort", view.sort);
  if (view.limit !== 100) params.set("limit", String(view.limit));
  if (view.offset) params.set("offset", String(view.offset));
  const hash = "#" + params.toString();
  if (hash !== location.hash) history.replaceState(null, "", hash);
}

/** The query string of GET /instances/{id}/gateways for a view. */
export function gatewayQuery(view) {
  return {
    type: view.type,
    online: view.online,
    q: view.q.trim(),
    sort: view.sort,
    limit: view.limit,
    offset: view.offset,
  };
}

/** Clicking a column sorts by it ascending, a second click descending (numbers start descending,
 * except uptime: its first click shows the worst gateways first). */
export function nextSort(current, column) {
  const descFirst = column !== "name" && column !== "ip_address" && column !== "uptime_24h";
  if (current === column) return "-" + column;
  if (current === "-" + column) return column;
  return descFirst ? "-" + column : column;
}
