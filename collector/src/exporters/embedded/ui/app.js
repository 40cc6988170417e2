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

async function search(pushState = true) {
  const p = searchParams();
  if (pushState) history.pushState({}, '', `/search?${p}`);
  $('#trace').hidden = true;
  const results = $('#results');
  results.hidden = false;
  results.replaceChildren(el('div', { class: 'empty' }, 'Searching…'));
  const { data } = await api(`/api/traces?${p}`);
  if (data.length === 0) {
    results.replaceChildren(el('div', { class: 'empty' }, 'No traces match. Widen the lookback, or check that the service sends to span-relay.'));
    return;
  }
  results.replaceChildren(
    ...data.map((t) => {
      const sr = t.spanRelay;
      const services = [...new Set(t.spans.map((s) => t.processes[s.processID].serviceName))];
      const start = Math.min(...t.spans.map((s) => s.startTime));
      const end = Math.max(...t.spans.map((s) => s.startTime + s.duration));
      return el(
        'div',
        { class: 'result', 'data-trace-id': t.traceID, onclick: () => openTrace(t.traceID) },
        el('div', { class: 'title' }, `${sr.rootService}: ${sr.rootName}`, el('span', { class: `verdict ${sr.verdict}` }, sr.verdict.toUpperCase())),
        el('div', { class: 'meta' }, fmtDur(end - start)),
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

async function openTrace(id, pushState = true) {
  if (pushState) history.pushState({}, '', `/trace/${id}`);
  const box = $('#trace');
  $('#results').hidden = true;
  box.hidden = false;
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
    el('div', { class: 'waterfall' }, ...rows),
    details,
    ].filter(Boolean),
  );
}

async function route() {
  const path = location.pathname;
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
loadServices().then(route);
