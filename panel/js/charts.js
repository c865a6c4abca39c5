// Line charts drawn as SVG (no chart library): one per metric, with a text summary that a screen
// reader reads (role="img" + <title>/<desc>) and the newest point's time in data-last, which the
// browser test watches to see a graph move.
import { h, nextId } from './ui.js';

const NS = 'http://www.w3.org/2000/svg';
const W = 600;
const H = 160;
const PAD = { l: 56, r: 8, t: 8, b: 22 };

function s(tag, attrs = {}, text) {
  const n = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) n.setAttribute(k, String(v));
  if (text !== undefined) n.textContent = text;
  return n;
}

// Turns stats points into a series of [t, value] for one metric. kind 'rate' differentiates a
// counter (bytes → bytes/s; a counter that went down, e.g. after a restart, leaves a gap), 'delta'
// gives the increase per step (beancounter failures).
export function series(points, key, kind = 'gauge') {
  const out = [];
  let prev = null;
  for (const p of points || []) {
    const v = p[key];
    if (v === undefined || v === null) { out.push([p.t, null]); prev = null; continue; }
    if (kind === 'gauge') out.push([p.t, Number(v)]);
    else if (prev) {
      const dt = p.t - prev.t;
      const dv = Number(v) - Number(prev[key]);
      out.push([p.t, dt > 0 && dv >= 0 ? (kind === 'rate' ? dv / dt : dv) : null]);
    }
    prev = p;
  }
  return out;
}

function niceMax(v) {
  if (!(v > 0)) return 1;
  const e = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * e >= v) return m * e;
  return 10 * e;
}

// Draws one chart. lines: [{label, data: [[t, v]], cls}], fmt: value formatter, range: seconds
// shown (hour 3600 / day 86400) ending now.
export function chart({ title, lines, fmt, range, max: fixedMax }) {
  const now = Date.now() / 1000;
  const t0 = now - range;
  const values = lines.flatMap((l) => l.data.map((d) => d[1])).filter((v) => v !== null && !Number.isNaN(v));
  const max = fixedMax || niceMax(Math.max(0, ...values));
  const x = (t) => PAD.l + ((t - t0) / range) * (W - PAD.l - PAD.r);
  const y = (v) => H - PAD.b - (v / max) * (H - PAD.t - PAD.b);
  const titleId = nextId('ct');
  const descId = nextId('cd');
  const svg = s('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-labelledby': `${titleId} ${descId}`,
    preserveAspectRatio: 'none', class: 'chart' });
  svg.append(s('title', { id: titleId }, title));
  // Grid and axis labels.
  for (const f of [0, 0.5, 1]) {
    const yy = y(max * f);
    svg.append(s('line', { x1: PAD.l, x2: W - PAD.r, y1: yy, y2: yy, class: 'grid' }));
    svg.append(s('text', { x: PAD.l - 4, y: yy + 4, 'text-anchor': 'end', class: 'axis' }, fmt(max * f)));
  }
  const ticks = range <= 3600 ? [3600, 2700, 1800, 900, 0] : [86400, 64800, 43200, 21600, 0];
  for (const ago of ticks) {
    if (ago > range) continue;
    const label = ago === 0 ? 'now' : range <= 3600 ? `-${ago / 60} min` : `-${ago / 3600} h`;
    svg.append(s('text', { x: x(now - ago), y: H - 6, 'text-anchor': ago === 0 ? 'end' : ago === range ? 'start' : 'middle', class: 'axis' }, label));
  }
  const summary = [];
  let lastT = 0;
  let count = 0;
  lines.forEach((l, i) => {
    let d = '';
    let pen = false;
    for (const [t, v] of l.data) {
      if (t < t0) continue;
      if (v === null || Number.isNaN(v)) { pen = false; continue; }
      d += `${pen ? 'L' : 'M'}${x(t).toFixed(1)},${y(Math.min(v, max)).toFixed(1)}`;
      pen = true;
      lastT = Math.max(lastT, t);
      count++;
    }
    svg.append(s('path', { d: d || 'M0,0', class: `line line${i}` }));
    // The newest point as a dot, so that a series of one point (a fresh VPS) shows too.
    const last = l.data.filter((p) => p[0] >= t0 && p[1] !== null && !Number.isNaN(p[1])).pop();
    if (last) svg.append(s('circle', { cx: x(last[0]).toFixed(1), cy: y(Math.min(last[1], max)).toFixed(1), r: 3, class: `dot line${i}` }));
    const vals = l.data.filter((p) => p[0] >= t0 && p[1] !== null).map((p) => p[1]);
    if (vals.length) {
      summary.push(`${l.label}: now ${fmt(vals[vals.length - 1])}, highest ${fmt(Math.max(...vals))}`);
    } else {
      summary.push(`${l.label}: no data yet`);
    }
  });
  svg.append(s('desc', { id: descId }, summary.join('; ')));
  const legend = h('ul', { class: 'legend' },
    lines.map((l, i) => h('li', { class: `key${i}` }, h('span', { class: 'swatch', 'aria-hidden': 'true' }), summary[i])));
  return h('figure', { class: 'chart-box', dataset: { last: String(lastT), points: String(count) } },
    h('figcaption', { text: title }), svg, legend);
}
