// The vosync HTTP API as the page uses it: JSON over fetch, the X-API-Key header, and errors sorted
// into the few kinds the page reacts to differently (api unreachable, key needed, VOS-side failure).

const KEY_STORAGE = "vosync.apiKey";
const BASE = "/api/v1";
// Longer than the api's own wait for VOS (15 s by default), so a slow VOS reads as the api's answer.
const REQUEST_TIMEOUT_MS = 30_000;

/** The api could not be reached at all (network error, server down). */
export class ApiUnreachable extends Error {}

/** The api wants an X-API-Key (missing or rejected). */
export class AuthRequired extends Error {}

/** The api answered with an error status; `status` and the api's message are kept. */
export class ApiError extends Error {
  constructor(status, message, body) {
    super(message);
    this.status = status;
    this.body = body;
  }

  /** 502/503/504: VOS or the poller behind the api failed, the api itself is fine. */
  get upstream() {
    return this.status === 502 || this.status === 503 || this.status === 504;
  }
}

export function loadKey() {
  try {
    return localStorage.getItem(KEY_STORAGE) || "";
  } catch {
    return "";
  }
}

export function saveKey(key) {
  try {
    if (key) localStorage.setItem(KEY_STORAGE, key);
    else localStorage.removeItem(KEY_STORAGE);
  } catch {
    // Storage may be disabled (private mode); the key then lives for this page only.
  }
}

function errorMessage(body, fallback) {
  if (body && typeof body === "object") {
    return body.detail || body.error || body.message || fallback;
  }
  return (typeof body === "string" && body.trim()) || fallback;
}

export class ApiClient {
  constructor() {
    this.key = loadKey();
  }

  setKey(key) {
    this.key = key;
    saveKey(key);
  }

  async request(method, path, { query, body, signal } = {}) {
    const url = new URL(BASE + path, location.origin);
    for (const [name, value] of Object.entries(query || {})) {
      if (value !== undefined && value !== null && value !== "") url.searchParams.set(name, String(value));
    }
    const headers = { Accept: "application/json" };
    if (this.key) headers["X-API-Key"] = this.key;
    if (body !== undefined) headers["Content-Type"] = "application/json";

    const timeout = AbortSignal.timeout(REQUEST_TIMEOUT_MS);
    let response;
    try {
      response = await fetch(url, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
        cache: "no-store",
      });
    } catch (err) {
      if (timeout.aborted) {
        throw new ApiUnreachable(`the vosync api did not answer within ${REQUEST_TIMEOUT_MS / 1000} s`);
      }
      if (err.name === "AbortError") throw err;
      throw new ApiUnreachable(`cannot reach the vosync api (${err.message})`);
    }
    const text = await response.text();
    let parsed = null;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      parsed = text;
    }
    if (response.status === 401 || (response.status === 403 && !this.key)) {
      throw new AuthRequired(errorMessage(parsed, "an API key is required"));
    }
    if (!response.ok) {
      throw new ApiError(response.status, errorMessage(parsed, `HTTP ${response.status}`), parsed);
    }
    return parsed;
  }

  instances(signal) {
    return this.request("GET", "/instances", { signal });
  }

  gateways(instanceId, params, signal) {
    return this.request("GET", `/instances/${encodeURIComponent(instanceId)}/gateways`, { query: params, signal });
  }

  /** Per-API fetch status of an instance's cache rows (last good fetch, last error). */
  cacheStatus(instanceId, signal) {
    return this.request("GET", `/instances/${encodeURIComponent(instanceId)}/cache`, { signal });
  }

  /** The cached VOS proxy with refresh=true: the poller asks VOS now. */
  refreshApi(instanceId, apiName) {
    return this.request(
      "POST",
      `/vos-api/instances/${encodeURIComponent(instanceId)}/${apiName}`,
      { query: { refresh: "true" }, body: {} },
    );
  }

  /** Counts online/total per instance and type. */
  summary(signal) {
    return this.request("GET", "/gateways/summary", { signal });
  }

  /** One gateway with its config and online replies merged. */
  gateway(instanceId, type, name, signal) {
    return this.request("GET", `/instances/${encodeURIComponent(instanceId)}/gateways/${type}/${encodeURIComponent(name)}`, {
      signal,
    });
  }

  /** Transitions, uptime, flaps and samples of one gateway (the name last: it may contain "/"). */
  gatewayHistory(instanceId, type, name, { since, until } = {}, signal) {
    return this.request(
      "GET",
      `/instances/${encodeURIComponent(instanceId)}/gateway-history/${type}/${encodeURIComponent(name)}`,
      { query: { since, until }, signal },
    );
  }

  /** The event log, newest first; `before` is the previous reply's `next` cursor. */
  eventLog({ instanceId, since, limit, before } = {}, signal) {
    return this.request("GET", "/events", { query: { instance_id: instanceId, since, limit, before }, signal });
  }

  /** The SSE URL; EventSource cannot send headers, so the key travels as ?api_key=. */
  eventsUrl(instanceId) {
    return this.streamUrl("/events/gateway-online", instanceId);
  }

  /** The SSE URL of the writer's change notes of one instance ("reload what you show"). */
  changesUrl(instanceId) {
    return this.streamUrl("/events/gateway-changes", instanceId);
  }

  streamUrl(path, instanceId) {
    const url = new URL(BASE + path, location.origin);
    url.searchParams.set("instance_id", String(instanceId));
    if (this.key) url.searchParams.set("api_key", this.key);
    return url.toString();
  }
}
