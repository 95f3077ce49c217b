// The hemoglobin/ferritin chart (uPlot): hemoglobin on the left axis with the WHO cut-off in force on each date drawn as
// a band (the anemia zone below the cut-off), low values in red, ferritin on the right axis, and hemoptysis, infiltrate,
// BAL and iron-therapy events as vertical markers on the same time axis. A table beside it carries the same values.
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import type { WorkupReport } from '../../src/evaluation/workup-report';

const KIND_COLOR: Record<WorkupReport['series']['events'][number]['kind'], string> = {
  hemoptysis: '#8e44ad',
  infiltrate: '#2471a3',
  bal: '#117864',
  'iron-therapy': '#b9770e',
};
const KIND_LABEL: Record<WorkupReport['series']['events'][number]['kind'], string> = {
  hemoptysis: 'hemoptysis',
  infiltrate: 'infiltrate',
  bal: 'BAL',
  'iron-therapy': 'iron therapy',
};

const seconds = (day: string) => Date.parse(`${day}T00:00:00Z`) / 1000;

function el<K extends keyof HTMLElementTagNameMap>(tag: K, text?: string, className?: string): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = text;
  if (className) e.className = className;
  return e;
}

export function renderTable(report: WorkupReport, holder: HTMLElement): void {
  const table = el('table');
  table.dataset.testid = 'hb-table';
  const head = el('tr');
  for (const h of ['Date', 'Hemoglobin (g/dL)', 'WHO cut-off (g/dL)', 'Judgement']) head.append(el('th', h));
  table.append(el('thead'));
  table.tHead?.append(head);
  const body = el('tbody');
  for (const p of report.series.hemoglobin) {
    const tr = el('tr');
    tr.dataset.testid = 'hb-point';
    tr.dataset.date = p.date;
    tr.dataset.value = String(p.value);
    tr.dataset.low = String(p.low);
    if (p.cutoff !== undefined) tr.dataset.cutoff = String(p.cutoff);
    tr.append(el('td', p.date), el('td', String(p.value), 'value'), el('td', p.cutoff !== undefined ? `${p.cutoff} (${p.band ?? ''})` : (p.band ?? 'none')), el('td', p.low ? 'low' : 'not low'));
    body.append(tr);
  }
  table.append(body);
  const ferritin = el('table');
  ferritin.dataset.testid = 'ferritin-table';
  const fhead = el('tr');
  for (const h of ['Date', 'Ferritin (µg/L)', 'Judgement']) fhead.append(el('th', h));
  ferritin.append(el('thead'));
  ferritin.tHead?.append(fhead);
  const fbody = el('tbody');
  for (const f of report.series.ferritin) {
    const tr = el('tr');
    tr.dataset.date = f.date;
    tr.dataset.value = String(f.value);
    if (f.low !== undefined) tr.dataset.low = String(f.low);
    tr.append(el('td', f.date), el('td', String(f.value), 'value'), el('td', f.low === undefined ? 'not judged (only the latest recent ferritin is)' : f.low ? 'low (iron deficiency)' : 'not low'));
    fbody.append(tr);
  }
  ferritin.append(fbody);
  if (report.series.hemoglobin.length === 0) holder.replaceChildren(el('p', 'No hemoglobin result in the last 5 years.', 'muted'), table);
  else holder.replaceChildren(table);
  if (report.series.ferritin.length) holder.append(ferritin);
}

export function renderChart(report: WorkupReport, holder: HTMLElement, caption: HTMLElement): uPlot {
  const s = report.series;
  const xs = new Set<number>([seconds(s.from), seconds(s.to)]);
  for (const p of s.hemoglobin) xs.add(seconds(p.date));
  for (const f of s.ferritin) xs.add(seconds(f.date));
  for (const c of s.cutoffs) xs.add(seconds(c.date));
  const x = [...xs].sort((a, b) => a - b);
  const at = new Map(x.map((t, i) => [t, i]));
  const column = () => new Array<number | null>(x.length).fill(null);

  const hb = column();
  const hbLow = column();
  for (const p of s.hemoglobin) {
    const i = at.get(seconds(p.date)) as number;
    hb[i] = p.value;
    if (p.low) hbLow[i] = p.value;
  }
  // The cut-off in force on every x (a step function from the definitions' samples).
  const cutoff = column();
  let ci = 0;
  let current: number | null = null;
  const steps = s.cutoffs;
  x.forEach((t, i) => {
    while (ci < steps.length && seconds((steps[ci] as { date: string }).date) <= t) {
      current = (steps[ci] as { cutoff?: number }).cutoff ?? null;
      ci++;
    }
    cutoff[i] = current;
  });
  const ferritin = column();
  for (const f of s.ferritin) ferritin[at.get(seconds(f.date)) as number] = f.value;

  const events = s.events.map((e) => ({ ...e, t: seconds(e.date) }));
  // The x axis starts a month before the first plotted value or event (at most 5 years back), so points are not
  // squeezed into a corner of a mostly empty record.
  const dataTimes = [...s.hemoglobin, ...s.ferritin, ...s.events].map((p) => seconds(p.date));
  const xMin = dataTimes.length ? Math.max(x[0] as number, Math.min(...dataTimes) - 30 * 86_400) : (x[0] as number);
  const xMax = x[x.length - 1] as number;
  const ferritinMax = Math.max(50, ...s.ferritin.map((f) => f.value * 1.2));
  const opts: uPlot.Options = {
    width: Math.max(320, Math.min(1060, holder.clientWidth || 1000)),
    height: 320,
    legend: { show: false },
    scales: { x: { time: true, range: [xMin, xMax] }, hb: { range: (_u, min, max) => [Math.min(6, min ?? 6), Math.max(16, max ?? 16)] }, ferritin: { range: [0, ferritinMax] } },
    axes: [
      {},
      { scale: 'hb', label: 'Hemoglobin (g/dL)' },
      { scale: 'ferritin', side: 1, label: 'Ferritin (µg/L)', grid: { show: false } },
    ],
    series: [
      {},
      { label: 'WHO cut-off (g/dL)', scale: 'hb', stroke: '#c0392b', dash: [4, 4], width: 1, fill: 'rgba(192, 57, 43, 0.12)', paths: uPlot.paths.stepped?.({ align: 1 }), points: { show: false }, spanGaps: true },
      { label: 'Hemoglobin (g/dL)', scale: 'hb', stroke: '#1b4f72', width: 2, spanGaps: true, points: { show: true, size: 6, fill: '#1b4f72' } },
      { label: 'Low hemoglobin', scale: 'hb', stroke: '#c0392b', width: 0, paths: () => null, points: { show: true, size: 10, fill: '#c0392b' } },
      { label: 'Ferritin (µg/L)', scale: 'ferritin', stroke: '#7d6608', width: 1, dash: [2, 3], spanGaps: true, points: { show: true, size: 8, fill: '#7d6608' } },
    ],
    hooks: {
      draw: [
        (u) => {
          const ctx = u.ctx;
          ctx.save();
          ctx.font = `${Math.round(11 * devicePixelRatio)}px system-ui, sans-serif`;
          const labelled: { px: number; row: number; key: string }[] = [];
          for (const e of events) {
            const px = u.valToPos(e.t, 'x', true);
            ctx.strokeStyle = KIND_COLOR[e.kind];
            ctx.lineWidth = 2 * devicePixelRatio;
            ctx.beginPath();
            ctx.moveTo(px, u.bbox.top);
            ctx.lineTo(px, u.bbox.top + u.bbox.height);
            ctx.stroke();
            // One label per kind and day; labels that would overlap go one row lower.
            const key = `${e.kind}|${e.date}`;
            if (labelled.some((l) => l.key === key)) continue;
            const near = labelled.filter((l) => Math.abs(l.px - px) < 70 * devicePixelRatio);
            const row = near.length ? Math.max(...near.map((l) => l.row)) + 1 : 0;
            labelled.push({ px, row, key });
            ctx.fillStyle = KIND_COLOR[e.kind];
            ctx.fillText(KIND_LABEL[e.kind], px + 3 * devicePixelRatio, u.bbox.top + (12 + 13 * row) * devicePixelRatio);
          }
          ctx.restore();
        },
      ],
    },
  };
  const plot = new uPlot(opts, [x, cutoff, hb, hbLow, ferritin], holder);

  const legend = [
    ['kind-band', 'below the WHO cut-off for age/pregnancy on that date (anemia)'],
    ['kind-low', 'low hemoglobin'],
    ...(['hemoptysis', 'infiltrate', 'bal', 'iron-therapy'] as const).filter((k) => events.some((e) => e.kind === k)).map((k) => [`kind-${k}`, KIND_LABEL[k]]),
  ];
  caption.replaceChildren(
    el('span', `${s.from} to ${s.to}. `),
    ...legend.map(([cls, text]) => {
      const span = el('span', undefined, 'legend-event');
      span.append(el('span', undefined, `swatch ${cls}`), document.createTextNode(text as string));
      return span;
    }),
  );
  const list = el('ul');
  list.dataset.testid = 'events';
  for (const e of s.events) {
    const li = el('li', `${e.date} ${KIND_LABEL[e.kind]}: ${e.text}`);
    li.dataset.kind = e.kind;
    list.append(li);
  }
  if (s.events.length) caption.append(list);
  return plot;
}
