// Online/offline periods of a gateway from its transitions (newest first), for the uptime bars.

/**
 * The periods within [from, to] (ms): [{start, end, state}] oldest first, state true (online),
 * false (offline) or null (unknown: before the oldest transition vosync knows, when that transition
 * does not say what came before it).
 */
export function periods(transitions, currentOnline, from, to) {
  const result = [];
  let end = to;
  let state = currentOnline;
  for (const t of transitions) {
    const at = Date.parse(t.changed_at);
    if (!Number.isFinite(at) || at >= end) continue; // a server clock ahead of this browser's
    if (at <= from) break;
    result.push({ start: at, end, state });
    end = at;
    state = typeof t.previous === "boolean" ? t.previous : null;
  }
  if (end > from) result.push({ start: from, end, state });
  return result.reverse();
}

/** A bar of coloured segments, one per period, sized by its share of the window. */
export function timelineBar(list, from, to) {
  const bar = document.createElement("div");
  bar.className = "timeline";
  const span = to - from;
  for (const p of list) {
    const seg = document.createElement("span");
    seg.className = p.state === true ? "seg on" : p.state === false ? "seg off" : "seg unknown";
    // A short recent period stays visible (2 px) instead of vanishing at the right edge.
    seg.style.left = `min(${((p.start - from) / span) * 100}%, calc(100% - 2px))`;
    seg.style.width = `${((p.end - p.start) / span) * 100}%`;
    const what = p.state === true ? "online 在线" : p.state === false ? "offline 离线" : "unknown 未知";
    seg.title = `${what}: ${new Date(p.start).toLocaleString()} – ${new Date(p.end).toLocaleString()}`;
    bar.append(seg);
  }
  return bar;
}
