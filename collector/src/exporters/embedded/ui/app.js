// span-relay's trace page: plain JavaScript over span-relay's Jaeger query API, no framework, no
// network beyond the page's own server (it works offline).
'use strict';

const $ = (sel) => document.querySelector(sel);
const el = (tag, attrs = {}, ...children) => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') e.className = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (v !== undefined && v !== null) e.setAttribute(k, v);
  }
  for (const c of children.flat()) if (c !== null && c !== undefined) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
};
const api = async (path) => {
  const res = await fetch(path);
  const body = await res.json();
  if (!res.ok) throw new Error(body.errors?.[0]?.msg ?? res.statusText);
  return body;
};
const fmtDur = (us) => (us >= 1e6 ? `${(us / 1e6).toFixed(2)}s` : us >= 1000 ? `${(us / 1000).toFixed(2)}ms` : `${us}µs`);
const COLORS = ['#2563eb', '#16a34a', '#d97706', '#9333ea', '#0891b2', '#dc2626', '#4f46e5', '#65a30d', '#c026d3', '#0d9488'];
const colorOf = (() => {
  const m = new Map();
  return (svc) => (m.has(svc) ? m.get(svc) : (m.set(svc, COLORS[m.size % COLORS.length]), m.get(svc)));
})();
const tagsOf = (list) => Object.fromEntries((list ?? []).map((t) => [t.key, t.value]));

async function loadServices() {
  const { data } = await api('/api/services');
  const sel = $('#service');
  for (const s of data) sel.append(el('option', { value: s }, s));
}

async function loadOperations(service) {
  const sel = $('#operation');
  sel.replaceChildren(el('option', { value: '' }, 'any'));
  if (!service) return;
  const { data } = await api(`/api/services/${encodeURIComponent(service)}/operations`);
  for (const o of data) sel.append(el('option', { value: o }, o));
}

function searchParams() {
  const p = new URLSearchParams();
  const service = $('#service').value;
  if (service) p.set('service', service);
  if ($('#operation').value) p.set('operation', $('#operation').value);
  const tags = {};
  for (const pair of $('#tags').value.trim().split(/\s+/).filter(Boolean)) {
    const i = pair.indexOf('=');
    if (i > 0) tags[pair.slice(0, i)] = pair.slice(i + 1);
  }
  if (Object.keys(tags).length) p.set('tags', JSON.stringify(tags));
  const end = Date.now() * 1000;
  p.set('end', String(end));
  const lookback = Number($('#lookback').value);
  if (lookback > 0) p.set('start', String(end - lookback * 1000));
  if ($('#minDuration').value) p.set('minDuration', $('#minDuration').value);
  if ($('#maxDuration').value) p.set('maxDuration', $('#maxDuration').value);
  p.set('limit', $('#limit').value || '20');
  return p;
}

/** Shows one of the page's views (results, trace, map, routes) and marks its link in the header. */
function showView(id) {
  for (const v of ['results', 'trace', 'map', 'routes']) $(`#${v}`).hidden = v !== id;
  $('#search').hidden = id === 'map' || id === 'routes';
  const nav = id === 'results' || id === 'trace' ? 'search' : id;
  for (const a of document.querySelectorAll('header nav a')) a.classList.toggle('current', a.dataset.view === nav);
  return $(`#${id}`);
}

/** About `count` round tick values (1, 2 or 5 × 10^k apart) from 0 to the first at or past `max`. */
function niceTicks(max, count = 5) {
  if (!(max > 0)) return [0];
  const raw = max / count;
  const pow = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * pow).find((v) => v >= raw);
  const out = [0];
  while (out.at(-1) < max - step * 1e-9) out.push(out.length * step);
  return out;
}

/** Clock ticks (µs since the epoch) over [t0, t1], about `count`, at round seconds, minutes or hours. */
const CLOCK_STEPS_S = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400];
function clockTicks(t0, t1, count = 6) {
  const stepUs = (CLOCK_STEPS_S.find((s) => s * 1e6 >= (t1 - t0) / count) ?? 86400) * 1e6;
  const out = [];
  for (let t = Math.ceil(t0 / stepUs) * stepUs; t <= t1; t += stepUs) out.push(t);
  return out;
}

const SVG_NS = 'http://www.w3.org/2000/svg';
const svg = (tag, attrs = {}, ...children) => {
  const e = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined && v !== null) e.setAttribute(k, v);
  for (const c of children.flat()) if (c !== null && c !== undefined) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
};

/**
 * Duration over time, as Jaeger's search page draws it: a dot per trace at its start time and
 * duration, a broken one a red ring; a click opens the trace.
 */
function durationScatter(items) {
  const W = 1000;
  const H = 170;
  const pad = { left: 64, right: 16, top: 10, bottom: 26 };
  const t0 = Math.min(...items.map((i) => i.start));
  const t1 = Math.max(...items.map((i) => i.start));
  const span = Math.max(1, t1 - t0);
  const yTicks = niceTicks(Math.max(...items.map((i) => i.duration)), 4);
  const yMax = yTicks.at(-1) || 1;
  const x = (t) => pad.left + (items.length === 1 ? 0.5 : (t - t0) / span) * (W - pad.left - pad.right);
  const y = (d) => H - pad.bottom - (d / yMax) * (H - pad.top - pad.bottom);
  const clock = (us) => new Date(us / 1000).toLocaleTimeString([], { hour12: false });
  const xTicks = items.length === 1 ? [t0] : clockTicks(t0, t1);
  return svg(
    'svg',
    { class: 'scatter', viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': 'trace duration over time' },
    ...yTicks.map((v) => svg('g', { class: 'tick' }, svg('line', { x1: pad.left, x2: W - pad.right, y1: y(v), y2: y(v) }), svg('text', { x: pad.left - 6, y: y(v) + 4, 'text-anchor': 'end' }, v === 0 ? '0' : fmtDur(v)))),
    ...xTicks.map((t) => svg('text', { class: 'xlabel', x: x(t), y: H - 8, 'text-anchor': 'middle' }, clock(t))),
    ...items.map((i) =>
      svg(
        'circle',
        { class: `dot ${i.verdict}`, cx: x(i.start), cy: y(i.duration), r: 5 + Math.min(5, Math.sqrt(i.spans) / 2), 'data-trace-id': i.id },
        svg('title', {}, `${i.title} · ${fmtDur(i.duration)} · ${i.spans} spans · ${i.verdict.toUpperCase()}`),
      ),
    ),
  );
}

async function search(pushState = true) {
  const p = searchParams();
  if (pushState) history.pushState({}, '', `/search?${p}`);
  const results = showView('results');
  results.replaceChildren(el('div', { class: 'empty' }, 'Searching…'));
  const { data } = await api(`/api/traces?${p}`);
  if (data.length === 0) {
    results.replaceChildren(el('div', { class: 'empty' }, 'No traces match. Widen the lookback, or check that the service sends to span-relay.'));
    return;
  }
  const items = data.map((t) => {
    const start = Math.min(...t.spans.map((s) => s.startTime));
    const end = Math.max(...t.spans.map((s) => s.startTime + s.duration));
    return { id: t.traceID, start, duration: end - start, spans: t.spans.length, verdict: t.spanRelay.verdict, title: `${t.spanRelay.rootService}: ${t.spanRelay.rootName}` };
  });
  const scatter = durationScatter(items);
  scatter.addEventListener('click', (e) => {
    const dot = e.target.closest && e.target.closest('.dot');
    if (dot) openTrace(dot.getAttribute('data-trace-id'));
  });
  results.replaceChildren(
    scatter,
    ...data.map((t, n) => {
      const sr = t.spanRelay;
      const services = [...new Set(t.spans.map((s) => t.processes[s.processID].serviceName))];
      const { start, duration } = items[n];
      return el(
        'div',
        { class: 'result', 'data-trace-id': t.traceID, onclick: () => openTrace(t.traceID) },
        el('div', { class: 'title' }, `${sr.rootService}: ${sr.rootName}`, el('span', { class: `verdict ${sr.verdict}` }, sr.verdict.toUpperCase())),
        el('div', { class: 'meta' }, fmtDur(duration)),
        el('div', { class: 'meta' }, `${t.spans.length} spans · ${services.join(', ')}${sr.orphans.length ? ` · ${sr.orphans.length} orphan(s)` : ''}${sr.errors ? ` · ${sr.errors} error(s)` : ''}`),
        el('div', { class: 'meta' }, new Date(start / 1000).toLocaleString()),
      );
    }),
  );
}

/** Spans in tree order (children by start time), with depth; orphans start their own subtree. */
function treeOrder(spans) {
  const byId = new Map(spans.map((s) => [s.spanID, s]));
  const kids = new Map();
  const tops = [];
  for (const s of spans) {
    const parent = (s.references ?? []).find((r) => r.refType === 'CHILD_OF');
    if (parent && byId.has(parent.spanID) && parent.spanID !== s.spanID) {
      if (!kids.has(parent.spanID)) kids.set(parent.spanID, []);
      kids.get(parent.spanID).push(s);
    } else tops.push(s);
  }
  const byStart = (a, b) => a.startTime - b.startTime;
  tops.sort(byStart);
  for (const list of kids.values()) list.sort(byStart);
  const out = [];
  const seen = new Set();
  const stack = tops.map((s) => [s, 0]).reverse();
  while (stack.length) {
    const [s, depth] = stack.pop();
    if (seen.has(s)) continue;
    seen.add(s);
    out.push({ span: s, depth });
    for (const c of (kids.get(s.spanID) ?? []).slice().reverse()) stack.push([c, depth + 1]);
  }
  return out;
}

/** The waterfall's time ruler: round offsets from the trace's start, on the lanes' scale. */
function timeRuler(total) {
  const ticks = niceTicks(total, 8).filter((v) => v <= total);
  return el(
    'div',
    { class: 'ruler' },
    el('div', { class: 'label' }, 'Service · operation'),
    el('div', { class: 'lane' }, ...ticks.map((v) => el('span', { class: `tick${(v / total) * 100 > 92 ? ' end' : ''}`, style: `left:${(v / total) * 100}%` }, v === 0 ? '0' : fmtDur(Math.round(v))))),
  );
}

async function openTrace(id, pushState = true) {
  if (pushState) history.pushState({}, '', `/trace/${id}`);
  const box = showView('trace');
  box.replaceChildren(el('div', { class: 'empty' }, 'Loading…'));
  let trace;
  try {
    trace = (await api(`/api/traces/${id}`)).data[0];
  } catch (err) {
    box.replaceChildren(el('div', { class: 'empty' }, `Trace ${id}: ${err.message}`));
    return;
  }
  const sr = trace.spanRelay;
  const t0 = Math.min(...trace.spans.map((s) => s.startTime));
  const t1 = Math.max(...trace.spans.map((s) => s.startTime + s.duration));
  const total = Math.max(1, t1 - t0);
  const orphanOf = new Map(sr.orphans.map((o) => [o.spanId, o]));
  const details = el('div', { class: 'details', hidden: true });
  const rows = treeOrder(trace.spans).map(({ span: s, depth }) => {
    const proc = trace.processes[s.processID];
    const tags = tagsOf(s.tags);
    const orphan = orphanOf.get(s.spanID);
    const chips = [];
    if (tags['span.kind']) chips.push(el('span', { class: 'chip' }, tags['span.kind']));
    if (tags['span_relay.source']) chips.push(el('span', { class: 'chip hop' }, `via ${tags['span_relay.source']}`));
    if (tags['linkerd.retry.attempt'] !== undefined) chips.push(el('span', { class: 'chip retry' }, `attempt ${tags['linkerd.retry.attempt']}`));
    if (tags.error === true || tags['otel.status_code'] === 'ERROR') chips.push(el('span', { class: 'chip err' }, 'ERROR'));
    if (tags['span_relay.clock_skew_adjustment_ns'] !== undefined) chips.push(el('span', { class: 'chip adj' }, `skew ${fmtDur(Math.round(Number(tags['span_relay.clock_skew_adjustment_ns']) / 1000))} adjusted`));
    if (tags['span_relay.original_span_id'] !== undefined) chips.push(el('span', { class: 'chip adj' }, 'split from a shared span'));
    if (tags['span_relay.original_trace_id'] !== undefined) chips.push(el('span', { class: 'chip adj' }, `ID widened from ${tags['span_relay.original_trace_id']}`));
    const left = ((s.startTime - t0) / total) * 100;
    const width = Math.max(0.2, (s.duration / total) * 100);
    const row = el(
      'div',
      { class: `row${orphan ? ' orphan' : ''}`, 'data-span-id': s.spanID, 'data-service': proc.serviceName },
      el(
        'div',
        { class: 'label', style: `padding-left:${6 + depth * 14}px`, title: `${proc.serviceName} ${s.operationName}` },
        el('span', { class: 'svc', style: `color:${colorOf(proc.serviceName)}` }, proc.serviceName),
        el('span', { class: 'op' }, s.operationName),
        ...chips,
        orphan ? el('span', { class: 'orphan-mark' }, `ORPHAN: parent ${orphan.missingParentId} was never reported`) : null,
      ),
      el(
        'div',
        { class: 'lane' },
        el('div', { class: 'bar', style: `left:${left}%;width:${width}%;background:${tags.error === true ? '#dc2626' : colorOf(proc.serviceName)}` }),
        left + width > 85
          ? el('div', { class: 'dur inside', style: `right:calc(${100 - left - width}% + 4px)` }, fmtDur(s.duration))
          : el('div', { class: 'dur', style: `left:calc(${left + width}% + 4px)` }, fmtDur(s.duration)),
      ),
    );
    row.addEventListener('click', () => {
      for (const r of box.querySelectorAll('.row.selected')) r.classList.remove('selected');
      row.classList.add('selected');
      details.hidden = false;
      details.replaceChildren(
        ...[
        el('h3', {}, `${proc.serviceName} · ${s.operationName}`),
        el('div', { class: 'meta' }, `span ${s.spanID} · start +${fmtDur(s.startTime - t0)} · ${fmtDur(s.duration)}`),
        el('h3', {}, 'Attributes'),
        el('table', {}, ...s.tags.map((t) => el('tr', {}, el('td', {}, t.key), el('td', {}, String(t.value))))),
        s.logs.length ? el('h3', {}, 'Events') : null,
        s.logs.length ? el('table', {}, ...s.logs.map((l) => el('tr', {}, el('td', {}, `+${fmtDur(l.timestamp - t0)}`), el('td', {}, l.fields.map((f) => `${f.key}=${f.value}`).join(' '))))) : null,
        el('h3', {}, 'Process'),
        el('table', {}, el('tr', {}, el('td', {}, 'service'), el('td', {}, proc.serviceName)), ...proc.tags.map((t) => el('tr', {}, el('td', {}, t.key), el('td', {}, String(t.value))))),
        ].filter(Boolean),
      );
    });
    return row;
  });
  box.replaceChildren(
    ...[
    el('h2', {}, `${sr.rootService}: ${sr.rootName} `, el('span', { class: `verdict ${sr.verdict}` }, sr.verdict.toUpperCase())),
    el('div', { class: 'meta' }, `trace ${trace.traceID} · ${trace.spans.length} spans · ${fmtDur(total)} · ${sr.services.join(' → ')}${sr.adjusted ? ` · ${sr.adjusted} span(s) adjusted by the join` : ''}`),
    sr.orphans.length
      ? el('div', { class: 'orphans' }, `Broken: ${sr.orphans.map((o) => `${o.service} span ${o.spanId} names parent ${o.missingParentId}, which no service reported`).join('; ')}`)
      : null,
    el('div', { class: 'waterfall' }, timeRuler(total), ...rows),
    details,
    ].filter(Boolean),
  );
}


// --- the service map -------------------------------------------------------------------------
const LOOKBACKS = [['15m', '15 min'], ['1h', '1 hour'], ['6h', '6 hours'], ['24h', '24 hours'], ['72h', '72 hours'], ['all', 'all stored']];
/** The search form's lookback (milliseconds, 0 for all) for a view's. */
const LOOKBACK_MS = { '15m': 900000, '1h': 3600000, '6h': 21600000, '24h': 86400000, '72h': 259200000, all: 0 };

/** The lookback select and the controls a view shares, reloading the view on change. */
function windowControls(q, reload, extra = []) {
  const lookback = el('select', { id: 'view-lookback', onchange: reload }, ...LOOKBACKS.map(([v, label]) => el('option', { value: v, ...(v === (q.get('lookback') || '1h') ? { selected: '' } : {}) }, label)));
  return el('div', { class: 'toolbar' }, el('label', {}, 'Lookback ', lookback), ...extra);
}

/** Columns by longest path from the services nobody calls (a cycle stops growing after n rounds). */
function layers(nodes, edges) {
  const col = new Map(nodes.map((n) => [n.service, 0]));
  for (let round = 0; round < nodes.length; round++) {
    let moved = false;
    for (const e of edges) {
      if (e.parent === e.child) continue;
      const want = col.get(e.parent) + 1;
      if (want > col.get(e.child) && want < nodes.length) {
        col.set(e.child, want);
        moved = true;
      }
    }
    if (!moved) break;
  }
  return col;
}

async function showMap(pushState = true) {
  const q = new URLSearchParams(location.search);
  const box = showView('map');
  const reload = () => {
    const p = new URLSearchParams({ lookback: $('#view-lookback').value });
    if ($('#show-proxies').checked) p.set('proxies', 'show');
    history.pushState({}, '', `/map?${p}`);
    showMap(false);
  };
  if (pushState) history.pushState({}, '', `/map?${q}`);
  const proxies = el('input', { type: 'checkbox', id: 'show-proxies', onchange: reload, ...(q.get('proxies') === 'show' ? { checked: '' } : {}) });
  const controls = windowControls(q, reload, [el('label', {}, proxies, ' show linkerd-proxy as its own nodes')]);
  box.replaceChildren(controls, el('div', { class: 'empty' }, 'Loading…'));
  const p = new URLSearchParams({ lookback: q.get('lookback') || '1h' });
  if (q.get('proxies') === 'show') p.set('proxies', 'show');
  const map = await api(`/api/map?${p}`);
  if (map.nodes.length === 0) {
    box.replaceChildren(controls, el('div', { class: 'empty' }, 'No traces in this window. Widen the lookback.'));
    return;
  }
  const col = layers(map.nodes, map.edges);
  const rows = new Map();
  const pos = new Map();
  const W = 170, H = 56, GX = 330, GY = 92;
  for (const n of [...map.nodes].sort((a, b) => col.get(a.service) - col.get(b.service) || a.service.localeCompare(b.service))) {
    const c = col.get(n.service);
    const r = rows.get(c) ?? 0;
    rows.set(c, r + 1);
    pos.set(n.service, { x: 20 + c * GX, y: 20 + r * GY });
  }
  const width = 40 + (Math.max(...col.values()) + 1) * GX;
  const height = 40 + Math.max(...rows.values()) * GY;
  const panel = el('div', { class: 'panel', id: 'map-details' }, el('div', { class: 'empty' }, 'Click a service for its calls and the traces that break there.'));
  const edgeEls = map.edges.map((e) => {
    const a = pos.get(e.parent);
    const b = pos.get(e.child);
    const [x1, y1, x2, y2] = [a.x + W, a.y + H / 2, b.x, b.y + H / 2];
    const back = x2 <= x1;
    const d = back ? `M${a.x + W / 2},${a.y + H} C${a.x + W / 2},${a.y + H + 40} ${b.x + W / 2},${b.y + H + 40} ${b.x + W / 2},${b.y + H}` : `M${x1},${y1} C${x1 + 40},${y1} ${x2 - 40},${y2} ${x2},${y2}`;
    const label = [`${e.calls} call${e.calls === 1 ? '' : 's'}${e.errors ? ` · ${Math.round(e.error_rate * 100)}% errors` : ''}`, `p50 ${e.p50_ms}ms · p99 ${e.p99_ms}ms`];
    const [lx, ly] = back ? [(a.x + b.x) / 2 + W / 2, Math.max(a.y, b.y) + H + 30] : [x1 + (x2 - x1) / 2, (y1 + y2) / 2 - 18];
    return svg(
      'g',
      { class: `edge${e.errors ? ' errors' : ''}`, 'data-parent': e.parent, 'data-child': e.child },
      svg('path', { d, 'marker-end': 'url(#arrow)' }),
      svg('text', { x: lx, y: ly, 'text-anchor': 'middle' }, ...label.map((line, i) => svg('tspan', { x: lx, dy: i === 0 ? 0 : 12 }, line))),
    );
  });
  const nodeEls = map.nodes.map((n) => {
    const { x, y } = pos.get(n.service);
    const g = svg(
      'g',
      { class: `node${n.broken_traces ? ' broken' : ''}`, 'data-service': n.service, transform: `translate(${x},${y})`, tabindex: '0', role: 'button' },
      svg('title', {}, n.broken_traces ? `${n.service}: ${n.broken_traces} broken trace(s) break here` : n.service),
      svg('rect', { width: W, height: H }),
      svg('text', { class: 'name', x: 10, y: 20 }, n.service.length > 24 ? `${n.service.slice(0, 23)}…` : n.service),
      svg('text', { class: 'sub', x: 10, y: 36 }, `${n.spans} span${n.spans === 1 ? '' : 's'}${n.errors ? ` · ${n.errors} errors` : ''}`),
      n.broken_traces ? svg('text', { class: 'badge', x: 10, y: 50 }, `⚠ ${n.broken_traces} broken trace${n.broken_traces === 1 ? '' : 's'}`) : null,
    );
    const open = () => {
      for (const s of box.querySelectorAll('.node.selected')) s.classList.remove('selected');
      g.classList.add('selected');
      mapDetails(panel, n, map, q.get('lookback') || '1h');
    };
    g.addEventListener('click', open);
    g.addEventListener('keydown', (ev) => (ev.key === 'Enter' || ev.key === ' ') && open());
    return g;
  });
  const marker = svg('defs', {}, svg('marker', { id: 'arrow', viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse' }, svg('path', { d: 'M0,0 L10,5 L0,10 z', fill: '#94a3b8' })));
  const picture = svg('svg', { width, height, viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': 'service map' }, marker, ...edgeEls, ...nodeEls);
  const brokenCount = map.nodes.reduce((n, x) => n + x.broken_traces, 0);
  const summary = el('div', { class: 'meta' }, `${map.traces} traces${map.truncated ? ' (the newest; more in the window)' : ''} · ${map.nodes.length} services · ${map.edges.length} calls between them`, brokenCount ? el('span', { class: 'bad' }, ` · ${brokenCount} broken trace(s): the services marked in red are where they break`) : null);
  box.replaceChildren(controls, summary, el('div', { class: 'map-wrap' }, picture, panel));
}

function mapDetails(panel, n, map, lookback) {
  const out = map.edges.filter((e) => e.parent === n.service);
  const inn = map.edges.filter((e) => e.child === n.service);
  const edgeLine = (e, other) => el('li', {}, `${other}: ${e.calls} call${e.calls === 1 ? '' : 's'}, ${e.errors} error${e.errors === 1 ? '' : 's'}, p50 ${e.p50_ms} ms, p99 ${e.p99_ms} ms`);
  panel.replaceChildren(
    ...[
      el('h3', {}, n.service),
      el('div', {}, `${n.spans} spans${n.proxy_spans ? ` (${n.proxy_spans} from its linkerd-proxy)` : ''}, ${n.errors} errors`),
      n.broken_traces
        ? el('div', { class: 'bad' }, el('strong', {}, `${n.broken_traces} broken trace(s) break here`), ': a span of this service names a parent that never arrived.')
        : null,
      n.missing_callers.length ? el('div', {}, 'Likely missing caller: ', el('ul', {}, ...n.missing_callers.map((c) => el('li', {}, `${c.caller} (${c.traces} trace${c.traces === 1 ? '' : 's'})`)))) : null,
      n.broken.length
        ? el('div', {}, el('h3', {}, 'Broken traces'), el('ul', { class: 'broken-traces' }, ...n.broken.map((b) => el('li', {}, el('a', { href: `/trace/${b.trace_id}`, class: 'broken-trace', 'data-trace-id': b.trace_id }, b.trace_id), ` ${b.span_name}: parent ${b.missing_parent_id} missing`))))
        : null,
      inn.length ? el('div', {}, el('h3', {}, 'Called by'), el('ul', {}, ...inn.map((e) => edgeLine(e, e.parent)))) : null,
      out.length ? el('div', {}, el('h3', {}, 'Calls'), el('ul', {}, ...out.map((e) => edgeLine(e, e.child)))) : null,
      n.service.includes('@') ? null : el('a', { href: `/search?service=${encodeURIComponent(n.service)}&lookback=${LOOKBACK_MS[lookback] ?? 3600000}` }, `Search traces of ${n.service}`),
    ].filter(Boolean),
  );
}

// --- routes ----------------------------------------------------------------------------------
async function showRoutes() {
  const q = new URLSearchParams(location.search);
  const box = showView('routes');
  const reload = () => {
    const p = new URLSearchParams({ lookback: $('#view-lookback').value });
    if ($('#route-service').value) p.set('service', $('#route-service').value);
    history.pushState({}, '', `/routes?${p}`);
    showRoutes();
  };
  const services = (await api('/api/services')).data;
  const pick = el('select', { id: 'route-service', onchange: reload }, el('option', { value: '' }, 'every service'), ...services.map((s) => el('option', { value: s, ...(s === q.get('service') ? { selected: '' } : {}) }, s)));
  const controls = windowControls(q, reload, [el('label', {}, 'Called service ', pick)]);
  box.replaceChildren(controls, el('div', { class: 'empty' }, 'Loading…'));
  const p = new URLSearchParams({ lookback: q.get('lookback') || '1h' });
  if (q.get('service')) p.set('service', q.get('service'));
  const { routes } = await api(`/api/routes?${p}`);
  if (routes.length === 0) {
    box.replaceChildren(controls, el('div', { class: 'empty' }, 'No client calls in this window. Widen the lookback.'));
    return;
  }
  const most = Math.max(...routes.map((r) => r.attempts));
  const head = ['service', 'route', 'requests vs attempts', 'requests', 'attempts', 'success', 'p50', 'p95', 'p99', 'timeouts', 'callers'];
  const table = el(
    'table',
    { class: 'routes' },
    el('tr', {}, ...head.map((h) => el('th', {}, h))),
    ...routes.map((r) =>
      el(
        'tr',
        { class: `route${r.attempts > r.requests ? ' retried' : ''}`, 'data-service': r.service, 'data-route': r.route },
        el('td', {}, r.service),
        el('td', { class: 'name' }, r.route),
        el(
          'td',
          { class: 'bars', title: `${r.requests} requests (effective), ${r.attempts} attempts (actual)` },
          el('span', { class: 'rate-bar', style: `width:${Math.max(2, (r.requests / most) * 120)}px` }),
          el('br'),
          el('span', { class: 'rate-bar actual', style: `width:${Math.max(2, (r.attempts / most) * 120)}px` }),
        ),
        el('td', { class: 'requests' }, r.requests),
        el('td', { class: 'attempts' }, r.attempts),
        el('td', { class: `success${r.success_rate < 1 ? ' bad' : ''}` }, `${(r.success_rate * 100).toFixed(1)}%`),
        el('td', {}, `${r.p50_ms} ms`),
        el('td', {}, `${r.p95_ms} ms`),
        el('td', {}, `${r.p99_ms} ms`),
        el('td', { class: `timeouts${r.timeouts ? ' bad' : ''}` }, r.timeouts),
        el('td', {}, r.callers.join(', ')),
      ),
    ),
  );
  const legend = el('div', { class: 'meta' }, 'Blue: requests (what callers asked for, the effective rate); amber: attempts (what went on the wire, retries included, the actual rate).');
  box.replaceChildren(controls, table, legend);
}

async function route() {
  const path = location.pathname;
  if (path === '/map') return showMap(false);
  if (path === '/routes') return showRoutes();
  const m = /^\/trace\/([0-9a-fA-F]+)/.exec(path);
  if (m) return openTrace(m[1], false);
  const q = new URLSearchParams(location.search);
  if (q.get('lookback')) $('#lookback').value = q.get('lookback');
  if (q.get('service')) {
    $('#service').value = q.get('service');
    await loadOperations(q.get('service'));
    if (q.get('operation')) $('#operation').value = q.get('operation');
  }
  return search(false);
}

$('#service').addEventListener('change', (e) => loadOperations(e.target.value));
$('#search').addEventListener('submit', (e) => {
  e.preventDefault();
  search();
});
window.addEventListener('popstate', () => route());
document.addEventListener('click', (e) => {
  const a = e.target.closest && e.target.closest('a[href^="/trace/"]');
  if (!a || e.ctrlKey || e.metaKey || e.shiftKey) return;
  e.preventDefault();
  openTrace(a.getAttribute('href').slice('/trace/'.length));
});
loadServices().then(route);
