// CSV export of the current view: every page of the filtered, sorted gateway list (not only the
// rows shown), RFC 4180 quoting, CRLF lines and a UTF-8 byte order mark so Excel reads Chinese names.

import { gatewayIps } from "./format.js";

const PAGE = 1000; // the api's largest page

const COLUMNS = [
  ["type", (g) => g.gateway_type],
  ["name", (g) => g.gateway_name],
  ["ip_addresses", (g) => gatewayIps(g).join(" ")],
  ["port", (g) => g.port],
  ["protocol", (g) => g.protocol],
  ["prefix", (g) => g.prefix],
  ["online", (g) => (g.is_online ? "true" : "false")],
  ["online_changed_at", (g) => g.online_changed_at],
  ["asr", (g) => g.asr],
  ["acd", (g) => g.acd],
  ["concurrent_calls", (g) => g.concurrent_calls],
  ["capacity", (g) => g.capacity],
  ["uptime_24h", (g) => g.uptime_24h],
  ["flaps_24h", (g) => g.flaps_24h],
  ["in_config", (g) => (g.in_config === false ? "false" : "true")],
];

/** One field: quoted when it holds a quote, a comma or a line break (quotes doubled). */
export function csvField(value) {
  if (value === null || value === undefined) return "";
  const text = String(value);
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

export function toCsv(items) {
  const lines = [COLUMNS.map(([name]) => name).join(",")];
  for (const item of items) lines.push(COLUMNS.map(([, get]) => csvField(get(item))).join(","));
  return "\uFEFF" + lines.join("\r\n") + "\r\n";
}

/** Every item of a gateway query, page by page; `onProgress(done, total)` after each page. */
export async function fetchAll(api, instanceId, query, onProgress = () => {}) {
  const items = [];
  let total = Infinity;
  while (items.length < total) {
    const page = await api.gateways(instanceId, { ...query, limit: PAGE, offset: items.length });
    total = page.total;
    items.push(...page.items);
    onProgress(items.length, total);
    if (page.items.length === 0) break; // the list shrank meanwhile
  }
  return items;
}

export function download(filename, text) {
  const url = URL.createObjectURL(new Blob([text], { type: "text/csv;charset=utf-8" }));
  const a = document.createElement("a");
  a.href = url;
  a.download = filename;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
