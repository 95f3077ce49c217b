// The /ops/ page: card outcomes as one server-rendered HTML page, a stacked bar per topic drawn as inline SVG.
// No script and no external resource; the only stylesheet is allowed by its hash in the page's own CSP.
import { createHash } from 'node:crypto';
import type { CardOutcomesReport, TopicOutcome } from '../storage/card-outcomes';

const STYLE = `body{font:15px/1.4 system-ui,sans-serif;margin:1.5rem auto;max-width:60rem;padding:0 1rem;color:#1a1a1a}
h1{font-size:1.5rem}h2{font-size:1.1rem;margin:0 0 .4rem}form{display:flex;gap:1rem;flex-wrap:wrap;align-items:end;margin:1rem 0}
label{display:flex;flex-direction:column;font-size:.85rem}section{border-top:1px solid #ccc;padding:.8rem 0}
dl{display:grid;grid-template-columns:max-content auto;gap:.1rem 1rem;margin:.4rem 0}dt{color:#555}dd{margin:0}
.legend span{margin-right:1rem}.k{display:inline-block;width:.8rem;height:.8rem;margin-right:.3rem;vertical-align:-1px}
.accepted{background:#2e7d32}.overridden{background:#c62828}.none{background:#9e9e9e}`;

/** The page's Content-Security-Policy: nothing but its own stylesheet and GET forms back to this page. */
export const OPS_PAGE_CSP = `default-src 'none'; style-src 'sha256-${createHash('sha256').update(STYLE).digest('base64')}'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'`;

const COLORS = { accepted: '#2e7d32', overridden: '#c62828', noFeedback: '#9e9e9e' } as const;
const BAR_WIDTH = 560;

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const percent = (rate: number) => `${Math.round(rate * 1000) / 10} %`;
const dateOf = (iso: string) => iso.slice(0, 10);

function bar(t: TopicOutcome): string {
  const parts = [
    { key: 'accepted', label: 'Accepted', count: t.accepted, color: COLORS.accepted },
    { key: 'overridden', label: 'Overridden', count: t.overridden, color: COLORS.overridden },
    { key: 'no-feedback', label: 'No feedback', count: t.noFeedback, color: COLORS.noFeedback },
  ];
  let x = 0;
  const rects = parts
    .filter((p) => p.count > 0)
    .map((p) => {
      const width = (p.count / t.served) * BAR_WIDTH;
      const rect = `<rect data-part="${p.key}" x="${x.toFixed(1)}" y="0" width="${width.toFixed(1)}" height="28" fill="${p.color}"><title>${p.label}: ${p.count}</title></rect>`;
      const label = width >= 24 ? `<text x="${(x + width / 2).toFixed(1)}" y="19" text-anchor="middle" fill="#fff" font-size="13">${p.count}</text>` : '';
      x += width;
      return rect + label;
    })
    .join('');
  const summary = `${escapeHtml(t.topic)}: ${t.served} served, ${t.accepted} accepted, ${t.overridden} overridden, ${t.noFeedback} without feedback`;
  return `<svg role="img" aria-label="${summary}" width="${BAR_WIDTH}" height="28" viewBox="0 0 ${BAR_WIDTH} 28">${rects}</svg>`;
}

function topicSection(t: TopicOutcome): string {
  const reasons = t.topOverrideReasons.length
    ? `<p>Top override reasons:</p><ol class="reasons">${t.topOverrideReasons
        .map((r) => `<li>${escapeHtml(r.display ?? r.code)} <small>(${escapeHtml(r.code)})</small>: <span class="count">${r.count}</span></li>`)
        .join('')}</ol>`
    : '';
  return `<section data-service="${escapeHtml(t.service)}" data-topic="${escapeHtml(t.topic)}">
<h2>${escapeHtml(t.topic)} <small>${escapeHtml(t.service)}</small></h2>
${bar(t)}
<dl>
<dt>Served</dt><dd data-count="served">${t.served}</dd>
<dt>Accepted</dt><dd data-count="accepted">${t.accepted} (${percent(t.acceptanceRate)})</dd>
<dt>Overridden</dt><dd data-count="overridden">${t.overridden} (${percent(t.overrideRate)})</dd>
<dt>No feedback</dt><dd data-count="no-feedback">${t.noFeedback}</dd>
</dl>
${reasons}
</section>`;
}

export function renderOpsPage(report: CardOutcomesReport, services: readonly string[]): string {
  const options = [`<option value="">All services</option>`, ...services.map((s) => `<option${s === report.service ? ' selected' : ''}>${escapeHtml(s)}</option>`)].join('');
  // `until` is exclusive; the form shows the last day it includes.
  const lastDay = new Date(Date.parse(report.until) - 1).toISOString();
  const body = report.topics.length ? report.topics.map(topicSection).join('\n') : '<p class="empty">No cards were served in this period.</p>';
  return `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>Card outcomes · IPH CDS Hooks</title><style>${STYLE}</style></head>
<body>
<h1>Card outcomes</h1>
<form method="get">
<label>Service <select name="service">${options}</select></label>
<label>Since <input type="date" name="since" value="${dateOf(report.since)}"></label>
<label>Until <input type="date" name="until" value="${dateOf(lastDay)}"></label>
<button type="submit">Show</button>
</form>
<p>Cards served from ${escapeHtml(report.since)} to ${escapeHtml(report.until)} (UTC). A card's latest feedback decides its outcome; cards without feedback were neither accepted nor overridden. The same numbers as JSON: <code>GET /ops/card-outcomes</code>.</p>
<p class="legend"><span><i class="k accepted"></i>Accepted</span><span><i class="k overridden"></i>Overridden</span><span><i class="k none"></i>No feedback</span></p>
${body}
</body>
</html>`;
}
