// Time charts of a gateway's samples with uPlot (vendored under /static/vendor/uplot/, MIT), loaded
// as a classic script before the page's modules: the global `uPlot`.

const HEIGHT = 150;

/**
 * A line chart of one sample field over [from, to] (ms) into `el` (replacing what was there);
 * returns the uPlot or null when there is nothing to draw (the element then says so).
 */
export function sampleChart(el, samples, { field, label, color, format, from, to }) {
  el.replaceChildren();
  const points = samples.filter((s) => s[field] !== null && s[field] !== undefined);
  el.dataset.points = String(points.length);
  if (points.length === 0 || typeof window.uPlot !== "function") {
    const empty = document.createElement("div");
    empty.className = "chart-empty";
    empty.textContent = "No samples in this range 此时段无数据";
    el.append(empty);
    return null;
  }
  const xs = points.map((s) => Date.parse(s.at) / 1000);
  const ys = points.map((s) => Number(s[field]));
  const width = Math.max(240, el.clientWidth || 480);
  const opts = {
    width,
    height: HEIGHT,
    legend: { show: true },
    cursor: { drag: { x: false, y: false } },
    // The whole requested window, however few samples fall in it (one sample would span years).
    scales: { x: { time: true, range: () => [from / 1000, to / 1000] }, y: { range: (_u, min, max) => [Math.min(0, min), max > min ? max * 1.1 : min + 1] } },
    axes: [
      { stroke: "currentColor", grid: { stroke: "rgba(127,127,127,.15)" } },
      { stroke: "currentColor", grid: { stroke: "rgba(127,127,127,.15)" }, values: (_u, ticks) => ticks.map(format), size: 56 },
    ],
    series: [
      {},
      { label, stroke: color, width: 1.5, fill: `${color}22`, points: { show: points.length < 60 }, value: (_u, v) => (v === null ? "–" : format(v)) },
    ],
  };
  return new window.uPlot(opts, [xs, ys], el);
}
