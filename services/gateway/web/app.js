// paystat dashboard: plain JavaScript, inline SVG, nothing fetched but the
// gateway's own API. The page keeps a copy of the gateway's view: it opens
// the event stream first, then loads a snapshot (/api/v1/indicators) and
// applies only the events newer than it (each carries the view's "vseq"),
// so no change is lost between the two. A reconnected stream starts over.
"use strict";

const SVG = "http://www.w3.org/2000/svg";
const GRAN_ORDER = { year: 0, quarter: 1, month: 2, day: 3 };
const SHARE_COLOURS = ["#2563eb", "#0891b2", "#7c3aed", "#db2777", "#059669", "#ca8a04"];

const state = {
  cells: new Map(), // topic -> indicator (cells and ratios)
  vseq: 0, // view change the page reflects
  loading: false, // a snapshot is being fetched: events wait in `buffered`
  buffered: [],
  ready: false, // the gateway's view is synchronised with the feed
  connected: false,
  changed: new Set(), // topics changed since the last render
  series: null, // {key, source, dims}
  points: [], // the chosen series, from /api/v1/series
  seriesToken: 0,
  renderQueued: false,
  seriesTimer: null,
};

const $ = (id) => document.getElementById(id);

// ---- Formatting ------------------------------------------------------------

function groupDigits(text) {
  return text.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
}

// "752300000.00" -> "752,300,000.00 MAD": the gateway sends amounts as exact
// decimal text in major units (amount_major), JavaScript numbers need not hold them.
function formatMajor(text, currency) {
  const [whole, fraction] = text.split(".");
  return groupDigits(whole) + (fraction === undefined ? "" : "." + fraction) + " " + currency;
}

function formatAmount(cell) {
  return cell.amount_major === undefined ? "–" : formatMajor(cell.amount_major, cell.currency);
}

function formatAvgTicket(cell) {
  if (cell.avg_ticket === undefined || cell.exp === undefined) return "–";
  return formatMajor((cell.avg_ticket / 10 ** cell.exp).toFixed(cell.exp), cell.currency);
}

function formatCount(value) {
  return value === undefined ? "–" : groupDigits(String(value));
}

function formatPct(value) {
  if (value === undefined) return "–";
  return (value >= 0 ? "+" : "") + value.toFixed(1) + " %";
}

function formatShare(cell) {
  if (!cell.share) return "–";
  return Object.keys(cell.share)
    .sort()
    .filter((name) => cell.share[name].amount_pct !== undefined)
    .map((name) => name + " " + cell.share[name].amount_pct.toFixed(1) + " %")
    .join(", ") || "–";
}

// Compact axis labels: 1.2k, 750M, 7B.
function compact(value) {
  const abs = Math.abs(value);
  const units = [[1e12, "T"], [1e9, "B"], [1e6, "M"], [1e3, "k"]];
  for (const [size, suffix] of units) {
    if (abs >= size) return +(value / size).toFixed(abs >= size * 100 ? 0 : 1) + suffix;
  }
  return String(+value.toFixed(2));
}

// ---- The view --------------------------------------------------------------

// "CMI/2012/activity=ecommerce,card=*" -> {source, period, dims: "activity=...,card=*"}
function splitTopic(topic) {
  const first = topic.indexOf("/");
  const second = topic.indexOf("/", first + 1);
  return {
    source: topic.slice(0, first),
    period: topic.slice(first + 1, second),
    dims: topic.slice(second + 1),
  };
}

const isCell = (topic) => !topic.startsWith("$");

function seriesKeyOf(topic) {
  const { source, dims } = splitTopic(topic);
  return source + "/" + dims;
}

function apply(name, event) {
  if (event.vseq <= state.vseq) return;
  state.vseq = event.vseq;
  if (name === "removed") state.cells.delete(event.topic);
  else state.cells.set(event.topic, event);
  state.changed.add(event.topic);
  const series = state.series;
  if (series && isCell(event.topic) && seriesKeyOf(event.topic) === series.key) scheduleSeries();
  scheduleRender();
}

function onChange(name, event) {
  if (state.loading) state.buffered.push([name, event]);
  else apply(name, event);
}

async function loadSnapshot() {
  state.loading = true;
  state.buffered = [];
  try {
    const response = await fetch("/api/v1/indicators?limit=100000");
    const answer = await response.json();
    state.cells = new Map(answer.indicators.map((cell) => [cell.topic, cell]));
    state.vseq = answer.vseq;
    state.ready = answer.ready;
  } finally {
    state.loading = false;
  }
  const pending = state.buffered;
  state.buffered = [];
  for (const [name, event] of pending) apply(name, event);
  state.changed.clear();
  chooseSeries();
  scheduleSeries();
  scheduleRender();
  document.body.dataset.loaded = "true";
}

function connect() {
  const stream = new EventSource("/api/v1/stream");
  stream.addEventListener("open", () => {
    state.connected = true;
    const attempt = () =>
      loadSnapshot().catch(() => {
        if (stream.readyState === EventSource.OPEN) setTimeout(attempt, 2000);
      });
    attempt();
  });
  for (const name of ["indicator", "removed"]) {
    stream.addEventListener(name, (message) => onChange(name, JSON.parse(message.data)));
  }
  stream.addEventListener("status", (message) => {
    state.ready = JSON.parse(message.data).ready;
    renderStatus();
  });
  stream.addEventListener("error", () => {
    state.connected = false;
    renderStatus();
  });
}

// ---- Rendering: status, filters, table --------------------------------------

function renderStatus() {
  const status = $("status");
  const [key, text] = !state.connected
    ? ["offline", "reconnecting"]
    : state.ready
      ? ["live", "live"]
      : ["resync", "resynchronising"];
  status.dataset.state = key;
  status.textContent = text;
  $("vseq").textContent = String(state.vseq);
  document.body.dataset.vseq = String(state.vseq);
}

function compareCells(a, b) {
  const x = splitTopic(a.topic);
  const y = splitTopic(b.topic);
  return (
    x.source.localeCompare(y.source) ||
    GRAN_ORDER[a.gran] - GRAN_ORDER[b.gran] ||
    x.period.localeCompare(y.period) ||
    x.dims.localeCompare(y.dims)
  );
}

// Refills SELECT with VALUES (plus its first "all" option), keeping the choice.
function fillSelect(select, values, label = (v) => v, keepFirst = true) {
  const chosen = select.value;
  const first = keepFirst ? select.options[0] : null;
  select.replaceChildren(...(first ? [first] : []));
  for (const value of values) {
    const option = document.createElement("option");
    option.value = value;
    option.textContent = label(value);
    select.append(option);
  }
  if ([...select.options].some((o) => o.value === chosen)) select.value = chosen;
}

function renderFilters(cells) {
  const sources = new Set();
  const periods = new Set();
  const dims = new Set();
  for (const cell of cells) {
    const parts = splitTopic(cell.topic);
    sources.add(parts.source);
    periods.add(parts.period);
    for (const token of parts.dims ? parts.dims.split(",") : ["(none)"]) dims.add(token);
  }
  fillSelect($("filter-source"), [...sources].sort());
  fillSelect($("filter-period"), [...periods].sort());
  fillSelect($("filter-dim"), [...dims].sort());
}

function matchesFilters(cell) {
  const parts = splitTopic(cell.topic);
  const source = $("filter-source").value;
  const period = $("filter-period").value;
  const dim = $("filter-dim").value;
  if (source && parts.source !== source) return false;
  if (period && parts.period !== period) return false;
  if (dim === "(none)") return parts.dims === "";
  return !dim || parts.dims.split(",").includes(dim);
}

function td(text, className) {
  const cell = document.createElement("td");
  cell.textContent = text;
  if (className) cell.className = className;
  return cell;
}

function growthCell(value, className) {
  const trend = value === undefined ? "" : value >= 0 ? " up" : " down";
  return td(formatPct(value), "num " + className + trend);
}

function renderTable(cells) {
  const rows = [];
  const shown = cells.filter(matchesFilters);
  for (const cell of shown) {
    const parts = splitTopic(cell.topic);
    const row = document.createElement("tr");
    row.dataset.topic = cell.topic;
    if (state.changed.has(cell.topic)) row.className = "flash";
    row.append(
      td(parts.source, "source"),
      td(parts.period, "period"),
      td(parts.dims.replaceAll(",", ", ") || "(none)", "dims"),
      td(formatCount(cell.count), "num count"),
      td(formatAmount(cell), "num amount"),
      td(formatAvgTicket(cell), "num avg-ticket"),
      growthCell(cell.yoy_count_pct, "yoy-count"),
      growthCell(cell.yoy_amount_pct, "yoy-amount"),
      td(formatShare(cell), "num share"),
    );
    rows.push(row);
  }
  $("indicators").tBodies[0].replaceChildren(...rows);
  $("row-count").textContent = `(${shown.length} of ${cells.length})`;
}

function renderRatios(ratios) {
  const rows = ratios.map((ratio) => {
    const row = document.createElement("tr");
    row.dataset.topic = ratio.topic;
    const value = ratio.value === undefined ? "–" : ratio.value.toFixed(2);
    row.append(td(ratio.name), td(ratio.period), td(value, "num value"));
    return row;
  });
  $("ratios").tBodies[0].replaceChildren(...rows);
}

// ---- Series: choice, line chart, growth bars ---------------------------------

function chooseSeries() {
  const counts = new Map();
  for (const topic of state.cells.keys()) {
    if (isCell(topic)) counts.set(seriesKeyOf(topic), (counts.get(seriesKeyOf(topic)) || 0) + 1);
  }
  const keys = [...counts.keys()].sort();
  const select = $("series-select");
  fillSelect(select, keys, (key) => {
    const slash = key.indexOf("/");
    return key.slice(0, slash) + " · " + (key.slice(slash + 1).replaceAll(",", ", ") || "(no dimensions)");
  }, false);
  if (!keys.includes(select.value) && keys.length) {
    // The series with the most cells; the first of them in order.
    select.value = keys.reduce((best, key) => (counts.get(key) > counts.get(best) ? key : best));
  }
  const key = select.value;
  const slash = key.indexOf("/");
  state.series = key ? { key, source: key.slice(0, slash), dims: key.slice(slash + 1) } : null;
}

function scheduleSeries() {
  clearTimeout(state.seriesTimer);
  state.seriesTimer = setTimeout(loadSeries, 50);
}

async function loadSeries() {
  const token = ++state.seriesToken;
  const series = state.series;
  if (!series) {
    state.points = [];
    renderCharts();
    return;
  }
  const query = new URLSearchParams({
    source: series.source,
    dims: series.dims,
    granularity: $("gran-select").value,
  });
  const response = await fetch("/api/v1/series?" + query);
  const answer = await response.json();
  if (token !== state.seriesToken) return; // a newer choice was made meanwhile
  state.points = response.ok ? answer.points : [];
  renderCharts();
}

function svgElement(name, attributes, text) {
  const element = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attributes)) element.setAttribute(key, value);
  if (text !== undefined) element.textContent = text;
  return element;
}

function emptyChart(svg, text) {
  svg.replaceChildren(svgElement("text", { x: 280, y: 130, "text-anchor": "middle", class: "empty" }, text));
}

// Ticks for [0 or min, max]: about four round steps.
function niceTicks(min, max) {
  const span = max - min || Math.abs(max) || 1;
  const step0 = span / 4;
  const magnitude = 10 ** Math.floor(Math.log10(step0));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * magnitude).find((s) => s >= step0);
  const ticks = [];
  for (let t = Math.floor(min / step) * step; t <= max + step * 1e-9; t += step) ticks.push(t);
  if (ticks[ticks.length - 1] < max) ticks.push(ticks[ticks.length - 1] + step);
  return ticks;
}

const CHART = { left: 64, right: 496, top: 28, bottom: 220 };

function xPositions(n) {
  const width = CHART.right - CHART.left;
  return Array.from({ length: n }, (_, i) => (n === 1 ? CHART.left + width / 2 : CHART.left + (width * i) / (n - 1)));
}

function periodLabels(svg, points, xs) {
  const every = Math.ceil(points.length / 12);
  points.forEach((point, i) => {
    if (i % every === 0) {
      svg.append(svgElement("text", { x: xs[i], y: CHART.bottom + 18, "text-anchor": "middle" }, point.period));
    }
  });
}

function renderLineChart(points) {
  const svg = $("line-chart");
  const amounts = points.map((p) => (p.amount_major === undefined ? undefined : Number(p.amount_major)));
  const counts = points.map((p) => p.count);
  if (!points.length) return emptyChart(svg, "No cells in this series at this granularity");
  svg.replaceChildren();
  const xs = xPositions(points.length);
  const axis = (values) => {
    const defined = values.filter((v) => v !== undefined);
    const ticks = niceTicks(0, defined.length ? Math.max(...defined) : 1);
    const top = ticks[ticks.length - 1] || 1;
    return { ticks, y: (v) => CHART.bottom - ((CHART.bottom - CHART.top) * v) / top };
  };
  const amountAxis = axis(amounts);
  const hasAmounts = amounts.some((v) => v !== undefined);
  const countAxis = axis(counts);
  const gridAxis = hasAmounts ? amountAxis : countAxis;
  for (const tick of gridAxis.ticks) {
    const y = gridAxis.y(tick);
    svg.append(svgElement("line", { x1: CHART.left, x2: CHART.right, y1: y, y2: y, class: "axis" }));
    if (hasAmounts) {
      svg.append(svgElement("text", { x: CHART.left - 6, y: y + 4, "text-anchor": "end", class: "legend-amount" }, compact(tick)));
    }
  }
  const hasCounts = counts.some((v) => v !== undefined);
  for (const tick of hasCounts ? countAxis.ticks : []) {
    const y = countAxis.y(tick);
    svg.append(svgElement("text", { x: CHART.right + 6, y: y + 4, class: "legend-count" }, compact(tick)));
  }
  const currency = points.find((p) => p.currency)?.currency;
  const amountLegend = currency ? `amount, ${currency} (left)` : "no amounts";
  svg.append(svgElement("text", { x: CHART.left, y: 14, class: "legend-amount" }, amountLegend));
  svg.append(svgElement("text", { x: CHART.right, y: 14, "text-anchor": "end", class: "legend-count" },
    hasCounts ? "count (right)" : "no counts"));
  for (const [values, scale, name] of [[amounts, amountAxis.y, "amount"], [counts, countAxis.y, "count"]]) {
    const at = values.map((v, i) => (v === undefined ? null : [xs[i], scale(v)])).filter(Boolean);
    if (!at.length) continue;
    svg.append(svgElement("polyline", { class: name, points: at.map((p) => p.join(",")).join(" ") }));
    values.forEach((v, i) => {
      if (v === undefined) return;
      const dot = svgElement("circle", { class: name, cx: xs[i], cy: scale(v), r: 3.5 });
      const text = name === "amount" ? formatAmount(points[i]) : formatCount(v) + " transactions";
      dot.append(svgElement("title", {}, `${points[i].period}: ${text}`));
      svg.append(dot);
    });
  }
  periodLabels(svg, points, xs);
}

function renderYoyChart(points) {
  const svg = $("yoy-chart");
  const rows = points.filter((p) => p.yoy_amount_pct !== undefined || p.yoy_count_pct !== undefined);
  if (!rows.length) return emptyChart(svg, "No year-over-year growth yet (needs the year before)");
  svg.replaceChildren();
  const values = rows.flatMap((p) => [p.yoy_amount_pct, p.yoy_count_pct]).filter((v) => v !== undefined);
  const ticks = niceTicks(Math.min(0, ...values), Math.max(0, ...values));
  const low = ticks[0];
  const high = ticks[ticks.length - 1];
  const y = (v) => CHART.bottom - ((CHART.bottom - CHART.top) * (v - low)) / (high - low || 1);
  for (const tick of ticks) {
    svg.append(svgElement("line", { x1: CHART.left, x2: CHART.right, y1: y(tick), y2: y(tick), class: "axis" }));
    svg.append(svgElement("text", { x: CHART.left - 6, y: y(tick) + 4, "text-anchor": "end" }, tick + " %"));
  }
  const legend = [["amount", "yoy_amount_pct"], ["count", "yoy_count_pct"]].filter(([, key]) =>
    rows.some((p) => p[key] !== undefined));
  legend.forEach(([name], i) =>
    svg.append(svgElement("text", { x: CHART.left + 60 * i, y: 14, class: "legend-" + name }, name)));
  const slot = (CHART.right - CHART.left) / rows.length;
  const width = Math.min(40, slot / 3);
  const xs = rows.map((_, i) => CHART.left + slot * (i + 0.5));
  rows.forEach((point, i) => {
    [["amount", point.yoy_amount_pct, -width], ["count", point.yoy_count_pct, 0]].forEach(([name, value, dx]) => {
      if (value === undefined) return;
      const top = y(Math.max(0, value));
      const height = Math.max(1, Math.abs(y(value) - y(0)));
      const bar = svgElement("rect", { class: "bar " + name, x: xs[i] + dx, y: top, width, height });
      bar.append(svgElement("title", {}, `${point.period} ${name}: ${formatPct(value)}`));
      svg.append(bar);
      svg.append(svgElement("text", { x: xs[i] + dx + width / 2, y: value >= 0 ? top - 4 : top + height + 12, "text-anchor": "middle", class: "bar-label" }, formatPct(value)));
    });
  });
  periodLabels(svg, rows, xs);
}

function renderCharts() {
  renderLineChart(state.points);
  renderYoyChart(state.points);
}

// ---- Shares: each "*" cell split by its concrete children -------------------

function renderShares(cells) {
  const series = state.series;
  const box = $("shares");
  if (!series) return box.replaceChildren();
  const mine = cells.filter((cell) => splitTopic(cell.topic).source === series.source);
  const periods = [...new Set(mine.filter((c) => c.share).map((c) => c.period))].sort();
  const select = $("share-period");
  const before = select.value;
  fillSelect(select, periods, (v) => v, false);
  if (!periods.includes(before) && periods.length) select.value = periods[periods.length - 1];
  const period = select.value;
  // parent topic + dimension -> [{value, pct}]
  const groups = new Map();
  for (const cell of mine) {
    if (cell.period !== period || !cell.share) continue;
    const { dims } = splitTopic(cell.topic);
    for (const [name, share] of Object.entries(cell.share)) {
      const pct = share.amount_pct !== undefined ? share.amount_pct : share.count_pct;
      if (pct === undefined) continue;
      const parentDims = dims.split(",").map((t) => (t.startsWith(name + "=") ? name + "=*" : t)).join(",");
      const key = `${series.source}/${period}/${parentDims}|${name}`;
      if (!groups.has(key)) groups.set(key, { parentDims, name, measure: share.amount_pct !== undefined ? "amount" : "count", parts: [] });
      groups.get(key).parts.push({ value: cell.dims[name], pct });
    }
  }
  if (!groups.size) {
    const note = document.createElement("p");
    note.className = "empty-note";
    note.textContent = "No shares for this source and period.";
    return box.replaceChildren(note);
  }
  const nodes = [];
  for (const key of [...groups.keys()].sort()) {
    const group = groups.get(key);
    const wrap = document.createElement("div");
    wrap.className = "share-group";
    wrap.dataset.parent = key;
    const title = document.createElement("div");
    title.className = "share-title";
    title.textContent = `${series.source} ${period} · ${group.parentDims.replaceAll(",", ", ")} · ${group.measure} by ${group.name}`;
    const bar = document.createElement("div");
    bar.className = "share-bar";
    let total = 0;
    group.parts.sort((a, b) => b.pct - a.pct).forEach((part, i) => {
      total += part.pct;
      const segment = document.createElement("div");
      segment.className = "segment";
      segment.style.width = part.pct + "%";
      segment.style.background = SHARE_COLOURS[i % SHARE_COLOURS.length];
      segment.textContent = `${part.value} ${part.pct.toFixed(1)} %`;
      segment.title = segment.textContent;
      bar.append(segment);
    });
    if (total < 99.95) {
      const rest = document.createElement("div");
      rest.className = "segment rest";
      rest.style.width = 100 - total + "%";
      rest.textContent = `not reported ${(100 - total).toFixed(1)} %`;
      bar.append(rest);
    }
    wrap.append(title, bar);
    nodes.push(wrap);
  }
  box.replaceChildren(...nodes);
}

// ---- Putting it together ----------------------------------------------------

function scheduleRender() {
  if (state.renderQueued) return;
  state.renderQueued = true;
  requestAnimationFrame(render);
}

function render() {
  state.renderQueued = false;
  const all = [...state.cells.values()];
  const cells = all.filter((c) => isCell(c.topic)).sort(compareCells);
  const ratios = all.filter((c) => c.type === "ratio").sort((a, b) => a.topic.localeCompare(b.topic));
  const seriesBefore = state.series && state.series.key;
  chooseSeries();
  if ((state.series && state.series.key) !== seriesBefore) scheduleSeries();
  renderStatus();
  renderFilters(cells);
  renderTable(cells);
  renderRatios(ratios);
  renderShares(cells);
  state.changed.clear();
}

// What the user changes is drawn at once; feed changes wait for the next frame.
for (const id of ["filter-source", "filter-period", "filter-dim", "share-period"]) {
  $(id).addEventListener("change", render);
}
$("series-select").addEventListener("change", () => {
  chooseSeries();
  scheduleSeries();
  render();
});
$("gran-select").addEventListener("change", scheduleSeries);

renderStatus();
renderCharts();
connect();
