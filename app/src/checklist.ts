// The work-up checklist as HTML tables: one row per exclusion group (data-group, data-state) with each test's latest
// result, pending order or absence, then the infection check, the celiac status and what the service cannot check.
import type { TestView, WorkupReport } from '../../src/evaluation/workup-report';

function el<K extends keyof HTMLElementTagNameMap>(tag: K, text?: string, className?: string): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = text;
  if (className) e.className = className;
  return e;
}

function testLine(t: TestView): HTMLLIElement {
  const li = el('li');
  li.dataset.test = t.id;
  li.dataset.state = t.state;
  li.append(el('strong', `${t.label}: `));
  if (t.latest) {
    li.append(el('span', t.latest.text));
    if (t.latest.state) li.append(el('span', ` (${t.latest.state})`, t.latest.state === 'positive' ? 'state-missing' : 'muted'));
  } else if (t.pending.length) {
    li.append(el('span', `pending: ${t.pending.map((p) => p.text).join('; ')}`, 'state-pending'));
  } else {
    li.append(el('span', t.state === 'not-required' ? 'not needed (latest ANA not positive)' : 'not on record', `state-${t.state}`));
  }
  return li;
}

export function renderChecklist(report: WorkupReport, holder: HTMLElement): void {
  const table = el('table');
  table.dataset.testid = 'workup-checklist';
  table.append(el('caption', 'Exclusion groups (clinical-rules §3)', 'muted'));
  const head = el('tr');
  for (const h of ['Group', 'State', 'Tests (latest result, pending order or missing)']) head.append(el('th', h));
  table.append(el('thead'));
  table.tHead?.append(head);
  const body = el('tbody');
  for (const g of report.checklist.groups) {
    const tr = el('tr');
    tr.dataset.group = g.id;
    tr.dataset.state = g.state;
    tr.append(el('th', g.label));
    tr.lastElementChild?.setAttribute('scope', 'row');
    tr.append(el('td', g.state, `state state-${g.state}`));
    const td = el('td');
    const ul = el('ul', undefined, 'tests');
    for (const t of g.tests) ul.append(testLine(t));
    td.append(ul);
    tr.append(td);
    body.append(tr);
  }
  table.append(body);
  holder.replaceChildren(table);
}

export function renderStatus(report: WorkupReport, parts: { infection: HTMLElement; celiac: HTMLElement; notChecked: HTMLElement }): void {
  const { infection, celiac } = report.checklist;
  parts.infection.dataset.state = infection.checked ? 'done' : 'missing';
  const ul = el('ul');
  if (infection.results.length === 0) ul.append(el('li', 'No BAL culture or Pneumocystis result in the last 365 days: exclude infection before immunosuppression.', 'state-missing'));
  for (const r of infection.results) ul.append(el('li', r.text + (r.state ? ` (${r.state})` : '')));
  parts.infection.replaceChildren(ul);

  parts.celiac.dataset.state = celiac.status;
  const c = el('ul');
  c.append(el('li', `Celiac disease: ${celiac.status}${celiac.status === 'diagnosed' ? (celiac.glutenFreeDiet ? ' (gluten-free diet ordered)' : ' (no gluten-free diet order on record)') : ''}`));
  if (celiac.lines.length === 0) c.append(el('li', 'No celiac serology in the last 365 days', 'muted'));
  for (const line of celiac.lines) c.append(el('li', line));
  parts.celiac.replaceChildren(c);

  parts.notChecked.replaceChildren(...report.checklist.notChecked.map((t) => el('li', t)));
}
