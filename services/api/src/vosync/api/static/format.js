// Turning api values into short display text; one place so every cell formats alike.

const DASH = "–";

/** "8 s", "3 min 4 s", "2 h 5 min", "3 d 4 h" for a number of seconds. */
export function formatAge(seconds) {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return DASH;
  const s = Math.max(0, Math.floor(seconds));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${s % 60} s`;
  const h = Math.floor(m / 60);
  if (h < 24) return `${h} h ${m % 60} min`;
  return `${Math.floor(h / 24)} d ${h % 24} h`;
}

/** Local time of an ISO timestamp, with the date only when it is not today. */
export function formatTime(iso) {
  if (!iso) return DASH;
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return String(iso);
  const today = date.toDateString() === new Date().toDateString();
  return today ? date.toLocaleTimeString() : date.toLocaleString();
}

/** ASR in percent, as VOS (and the simulator) report it (e.g. 45.23). */
export function formatAsr(value) {
  if (value === null || value === undefined || !Number.isFinite(Number(value))) return DASH;
  return `${Number(value).toFixed(1)} %`;
}

/** ACD in seconds (VOS reports whole seconds). */
export function formatAcd(value) {
  if (value === null || value === undefined || !Number.isFinite(Number(value))) return DASH;
  return `${Math.round(Number(value))} s`;
}

export function formatInt(value) {
  if (value === null || value === undefined || value === "") return DASH;
  const n = Number(value);
  return Number.isFinite(n) ? n.toLocaleString() : String(value);
}

export function formatText(value) {
  return value === null || value === undefined || value === "" ? DASH : String(value);
}

/** The distinct addresses of a gateway: its main ip_address first, then remote_ips. */
export function gatewayIps(item) {
  const all = [];
  const add = (ip) => {
    const text = String(ip || "").trim();
    if (text && !all.includes(text)) all.push(text);
  };
  add(item.ip_address);
  for (const ip of item.remote_ips || []) {
    for (const part of String(ip).split(",")) add(part);
  }
  return all;
}

/** A fraction 0–1 as a percentage with one decimal ("99.5 %"). */
export function formatShare(value) {
  if (value === null || value === undefined || !Number.isFinite(Number(value))) return DASH;
  return `${(Number(value) * 100).toFixed(1)} %`;
}
