// index.html (the SMART redirect target): completes the launch with fhirclient, hands the patient id, the FHIR base
// and the access token to this service's /app/api/workup (same origin), and renders the chart and the checklist.
import FHIR from 'fhirclient';
import type { WorkupReport } from '../../src/evaluation/workup-report';
import { renderChart, renderTable } from './chart';
import { renderChecklist, renderStatus } from './checklist';

function byId(id: string): HTMLElement {
  const e = document.getElementById(id);
  if (!e) throw new Error(`page element #${id} is missing`);
  return e;
}

async function loadReport(): Promise<WorkupReport> {
  const client = await FHIR.oauth2.ready();
  const patientId = client.patient.id;
  if (!patientId) throw new Error('The launch gave no patient context');
  const token = client.state.tokenResponse?.access_token;
  const res = await fetch('api/workup', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
    credentials: 'omit',
    body: JSON.stringify({ patientId, fhirServer: client.state.serverUrl, ...(token ? { accessToken: token } : {}) }),
  });
  if (!res.ok) {
    const outcome = (await res.json().catch(() => undefined)) as { issue?: { diagnostics?: string }[] } | undefined;
    throw new Error(outcome?.issue?.map((i) => i.diagnostics).join('; ') || `The service answered HTTP ${res.status}`);
  }
  return (await res.json()) as WorkupReport;
}

function render(report: WorkupReport): void {
  const p = report.patient;
  byId('patient').textContent = `Patient ${p.id}${p.birthDate ? `, born ${p.birthDate}` : ''}${p.gender ? `, ${p.gender}` : ''}. Evaluated ${report.evaluatedAt.slice(0, 10)}.`;
  if (report.unavailable.length) {
    const u = byId('unavailable');
    u.textContent = `Could not be read, so the checklist may be incomplete: ${report.unavailable.join(', ')}.`;
    u.hidden = false;
  }
  renderTable(report, byId('hb-table-holder'));
  renderChart(report, byId('chart-canvas'), byId('chart-caption'));
  renderChecklist(report, byId('checklist-holder'));
  renderStatus(report, { infection: byId('infection'), celiac: byId('celiac'), notChecked: byId('not-checked') });
}

loadReport().then(
  (report) => {
    render(report);
    const status = byId('status');
    status.textContent = 'Loaded.';
    status.dataset.state = 'ready';
    document.body.dataset.ready = 'true';
  },
  (e: unknown) => {
    const status = byId('status');
    status.textContent = `Could not load the work-up: ${e instanceof Error ? e.message : String(e)}`;
    status.dataset.state = 'error';
    document.body.dataset.ready = 'error';
  },
);
