// Time-series chart (uPlot) and the choice of bucket width behind each range.

// Each range asks for at most about 1,500 points: the API then answers from the
// coarsest rollup tier that is exact for the bucket (1 min, 1 h or 1 day; docs/adr/0004).
// Below a day, raw readings; 1,500 points fill a phone or a desktop chart alike.
export const RANGES = [
  { key: "15m", label: "15 min", ms: 15 * 60e3, interval: null },
  { key: "1h", label: "1 hour", ms: 3600e3, interval: null },
  { key: "6h", label: "6 hours", ms: 6 * 3600e3, interval: "1m" },
  { key: "24h", label: "24 hours", ms: 86400e3, interval: "1m" },
  { key: "7d", label: "7 days", ms: 7 * 86400e3, interval: "10m" },
  { key: "30d", label: "30 days", ms: 30 * 86400e3, interval: "1h" },
  { key: "90d", label: "90 days", ms: 90 * 86400e3, interval: "6h" },
  // a day a point, with the day's min and max drawn: 366 rows of the day tier, where 6 h
  // buckets read 8,760 of the hour tier (about 2x the time measured; docs/benchmarks.md)
  { key: "1y", label: "1 year", ms: 365 * 86400e3, interval: "1d" },
  { key: "5y", label: "5 years", ms: 5 * 365 * 86400e3, interval: "1d" },
];

const WIDTH_MS = { m: 60e3, h: 3600e3, d: 86400e3 };

// uPlot (51 kB) is fetched when a chart is first wanted, not by every page: the fleet
// page's first render used to wait for it. A device page awaits this beside its data.
export const chartLibrary = window.uPlot
  ? Promise.resolve()
  : new Promise((resolve, reject) => {
    const script = document.createElement("script");
    script.src = "/ui/vendor/uplot/uPlot.iife.min.js";
    script.onload = () => resolve();
    script.onerror = () => reject(new Error("the chart library did not load"));
    document.head.append(script);
  });

/** [start, end) of a range ending now, on the bucket grid: the API answers from a rollup
 * tier only when the range's edges sit on it, else it scans raw readings (measured: a
 * year at 6 h took 4-7 s unaligned, 0.5-1 s aligned on a loaded machine). */
export function rangeEdges(range, nowMs) {
  if (!range.interval) return [nowMs - range.ms, nowMs + 60e3];
  const width = Number(range.interval.slice(0, -1)) * WIDTH_MS[range.interval.slice(-1)];
  const start = Math.floor((nowMs - range.ms) / width) * width;
  return [start, Math.floor(nowMs / width) * width + width];
}

/** The range's series for one metric: [times in s, values], min and max when bucketed. */
export function toSeries(body, metric) {
  const xs = [];
  const ys = [];
  const lo = [];
  const hi = [];
  if (!body.interval) {
    for (const p of body.points || []) {
      if (!(metric in p.values)) continue;
      xs.push(Date.parse(p.ts) / 1000);
      ys.push(Number(p.values[metric]));
    }
    return { xs, ys, lo: null, hi: null };
  }
  if (body.columns) {
    // layout=columns: an array per aggregate; a bucket where this metric has no data is null
    const stats = body.columns.values[metric];
    if (!stats) return { xs, ys, lo, hi };
    body.columns.ts_ms.forEach((ts, i) => {
      if (stats.avg[i] === null) return;
      xs.push(ts / 1000);
      ys.push(Number(stats.avg[i]));
      lo.push(Number(stats.min[i]));
      hi.push(Number(stats.max[i]));
    });
    return { xs, ys, lo, hi };
  }
  for (const b of body.buckets || []) {
    const stats = b.values[metric];
    if (!stats) continue;
    xs.push(Date.parse(b.ts) / 1000);
    ys.push(Number(stats.avg));
    lo.push(Number(stats.min));
    hi.push(Number(stats.max));
  }
  return { xs, ys, lo, hi };
}

/** Anomaly findings as shaded spans over the plot, each a numbered element whose title is
 * the explanation (a tooltip; the page lists the same numbers with their text). Redrawn
 * on every uPlot draw, so zoom and resize move them. */
function markFindings(u, findings) {
  u.over.querySelectorAll(".anomaly-mark").forEach((el) => el.remove());
  const [min, max] = [u.scales.x.min, u.scales.x.max];
  findings.forEach((f, i) => {
    const from = Math.max(min, Date.parse(f.start) / 1000);
    const to = Math.min(max, Date.parse(f.end) / 1000);
    if (!(to >= from)) return;
    const left = u.valToPos(from, "x");
    const mark = document.createElement("div");
    mark.className = "anomaly-mark";
    mark.dataset.finding = String(f.id ?? i);
    const label = document.createElement("span");
    label.title = `${i + 1}. ${f.kind} ${f.metric}: ${f.explanation}`;
    label.textContent = String(i + 1);
    mark.append(label);
    mark.style.left = `${left}px`;
    mark.style.width = `${Math.max(4, u.valToPos(to, "x") - left)}px`;
    u.over.append(mark);
  });
}

export function makeChart(container, metric, series, findings = []) {
  const width = Math.max(280, container.clientWidth || 600);
  const bands = series.lo !== null;
  const opts = {
    width,
    height: width < 500 ? 220 : 320,
    hooks: findings.length ? { draw: [(u) => markFindings(u, findings)] } : {},
    scales: { x: { time: true } },
    legend: { live: true },
    series: [
      {},
      { label: metric, stroke: "#0b6bcb", width: 1.5, points: { show: false } },
      ...(bands
        ? [
            { label: "min", stroke: "#8fb8e0", width: 1, points: { show: false } },
            { label: "max", stroke: "#8fb8e0", width: 1, points: { show: false } },
          ]
        : []),
    ],
    axes: [{ stroke: "#333" }, { stroke: "#333", size: 60 }],
  };
  const data = bands ? [series.xs, series.ys, series.lo, series.hi] : [series.xs, series.ys];
  const chart = new window.uPlot(opts, data, container);
  const resize = () => chart.setSize({ width: Math.max(280, container.clientWidth), height: opts.height });
  window.addEventListener("resize", resize);
  chart.data_ = data;
  chart.dispose = () => {
    window.removeEventListener("resize", resize);
    chart.destroy();
  };
  return chart;
}

/** A live reading appended to the chart, when it is newer than the last point. */
export function appendPoint(chart, tsS, value) {
  const data = chart.data_;
  const last = data[0].length ? data[0][data[0].length - 1] : -Infinity;
  if (tsS <= last) return false;
  data[0].push(tsS);
  data[1].push(value);
  for (let i = 2; i < data.length; i++) data[i].push(value);
  chart.setData(data);
  return true;
}

/** Bars of measured against expected per day (the solar section): two series of bars. */
export function makeBarChart(container, label, xs, measured, expected) {
  const width = Math.max(280, container.clientWidth || 600);
  const offset = (shift) => window.uPlot.paths.bars({ size: [0.4, 40], align: shift });
  const opts = {
    width,
    height: width < 500 ? 200 : 260,
    scales: { x: { time: true } },
    series: [
      {},
      { label: `${label} measured`, stroke: "#0b6bcb", fill: "#0b6bcb", paths: offset(-1), points: { show: false } },
      { label: `${label} expected`, stroke: "#e0a100", fill: "#f3d27a", paths: offset(1), points: { show: false } },
    ],
    axes: [{ stroke: "#333" }, { stroke: "#333", size: 60 }],
  };
  const chart = new window.uPlot(opts, [xs, measured, expected], container);
  const resize = () => chart.setSize({ width: Math.max(280, container.clientWidth), height: opts.height });
  window.addEventListener("resize", resize);
  chart.dispose = () => {
    window.removeEventListener("resize", resize);
    chart.destroy();
  };
  return chart;
}
