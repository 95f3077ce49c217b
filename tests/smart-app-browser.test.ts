// The SMART work-up app in a real browser (Debian chromium through playwright-core): standalone launches against the
// demo FHIR server for fixture patients, checked against their golden cases (hemoglobin points and cut-off judgements,
// checklist rows and states), and an EHR launch the way the CDS Hooks sandbox opens a card's smart link (launch + iss)
// against a mock SMART authorization server whose token the service must carry to the FHIR server.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { loadRegistry } from '../src/definitions/load';
import type { Registry } from '../src/definitions/types';
import { capturedLogger } from './helpers/captured-log';
import { listCases, loadPatientResources, type GoldenCase } from './helpers/golden';
import { fhirServerApp, serve, serviceApp, type Running, type SeenFhirRequest } from './helpers/smart-app-servers';

const CHROMIUM = '/usr/bin/chromium';
const ROOT = path.join(__dirname, '..');
const ARTIFACTS = path.join(ROOT, 'test-artifacts');
const haveBrowser = fs.existsSync(CHROMIUM);
if (!haveBrowser) {
  if (process.env.CI === 'true') throw new Error(`${CHROMIUM} is missing: CI must install Debian chromium (.ci/run) for the browser tests`);
  // eslint-disable-next-line no-console
  console.warn(`Skipping the SMART app browser tests: ${CHROMIUM} is not installed (apt-get install -y chromium).`);
}
const describeBrowser = haveBrowser ? describe : describe.skip;

jest.setTimeout(90_000);

function goldenCase(name: string): GoldenCase {
  const found = listCases().find((c) => c.service === 'iph-patient-view' && c.name === name);
  if (!found) throw new Error(`no golden case ${name}`);
  return found.data;
}

/** Hemoglobin LOINC codes of the hemoglobin value set (what the chart plots). */
function hemoglobinCodes(): Set<string> {
  const vs = JSON.parse(fs.readFileSync(path.join(ROOT, 'cds-services', 'valuesets', 'ValueSet-hemoglobin.json'), 'utf8')) as { compose: { include: { system: string; concept?: { code: string }[] }[] } };
  return new Set(vs.compose.include.flatMap((i) => (i.concept ?? []).map((c) => `${i.system}|${c.code}`)));
}

/** Final hemoglobin results of a fixture patient dated up to the case's now (the usable ones, clinical-rules §2). */
function usableHemoglobinDates(patient: string, now: string): string[] {
  const codes = hemoglobinCodes();
  return loadPatientResources(patient)
    .filter((r) => r.resourceType === 'Observation')
    .map((r) => r as { status?: string; effectiveDateTime?: string; code?: { coding?: { system?: string; code?: string }[] } })
    .filter((o) => ['final', 'amended', 'corrected'].includes(o.status ?? '') && (o.code?.coding ?? []).some((c) => codes.has(`${c.system}|${c.code}`)))
    .map((o) => o.effectiveDateTime ?? '')
    .filter((d) => d !== '' && d <= now)
    .map((d) => d.slice(0, 10))
    .sort();
}

/** Exclusion group of each test code the work-up card suggests (clinical-rules §3 and terminology.md). */
const SUGGESTED_CODE_GROUP: Record<string, string> = {
  'http://loinc.org|5130-0': 'lupus',
  'http://loinc.org|8061-4': 'lupus',
  'http://loinc.org|44448-9': 'antiphospholipid',
  'http://loinc.org|3181-5': 'antiphospholipid',
  'http://loinc.org|6303-2': 'antiphospholipid',
  'http://loinc.org|6301-6': 'coagulation',
  'http://loinc.org|3173-2': 'coagulation',
  'http://loinc.org|58410-2': 'coagulation',
  'http://loinc.org|24356-8': 'renal',
  'http://loinc.org|2160-0': 'renal',
  'http://loinc.org|33762-6': 'cardiac',
};

async function rows(page: Page, selector: string, attrs: string[]): Promise<Record<string, string | null>[]> {
  return page.$$eval(selector, (els, names) => els.map((e) => Object.fromEntries(names.map((n) => [n, e.getAttribute(n)]))), attrs);
}

/** The definitions with the SMART link on the cards issue 17 names (those of them this library has). */
function withSmartLinks(): Registry {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iph-defs-'));
  fs.cpSync(path.join(ROOT, 'cds-services'), dir, { recursive: true });
  const file = path.join(dir, 'iph-patient-view.json');
  const service = JSON.parse(fs.readFileSync(file, 'utf8')) as { cards: { topic: { code: string }; links?: unknown[] }[] };
  for (const card of service.cards) {
    if (['iph-evaluation', 'iph-exclusion-workup', 'iph-criteria-met', 'iph-possible-relapse'].includes(card.topic.code)) {
      card.links = [{ label: 'Open the IPH work-up', url: '/app/launch.html', type: 'smart' }];
    }
  }
  fs.writeFileSync(file, JSON.stringify(service));
  try {
    return loadRegistry(dir);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

describeBrowser('SMART work-up app in Chromium', () => {
  let registry: Registry;
  let appDir: string;
  let userDir: string;
  let context: BrowserContext;
  const servers: Running[] = [];
  const { log, logged } = capturedLogger();

  beforeAll(async () => {
    registry = loadRegistry(path.join(ROOT, 'cds-services'));
    appDir = fs.mkdtempSync(path.join(os.tmpdir(), 'iph-app-'));
    execFileSync(process.execPath, [path.join(ROOT, 'app', 'build.mjs'), appDir], { stdio: 'pipe' });
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'iph-chromium-'));
    context = await chromium.launchPersistentContext(userDir, {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      viewport: { width: 1200, height: 1400 },
    });
  });

  afterAll(async () => {
    await context?.close();
    await Promise.all(servers.map((s) => s.close()));
    fs.rmSync(userDir, { recursive: true, force: true });
    fs.rmSync(appDir, { recursive: true, force: true });
  });

  async function start(now: string, smart?: Parameters<typeof fhirServerApp>[1], seen: SeenFhirRequest[] = [], definitions: Registry = registry) {
    const fhir = await serve(fhirServerApp(seen, smart));
    const cds = await serve(serviceApp(definitions, log, { appDir, now: Date.parse(now) }));
    servers.push(fhir, cds);
    return { fhirBase: `${fhir.base}/fhir`, cdsBase: cds.base, seen };
  }

  async function openApp(url: string, name: string): Promise<{ page: Page; cspViolations: string[] }> {
    const page = await context.newPage();
    const cspViolations: string[] = [];
    page.on('console', (m) => {
      if (/Content Security Policy/i.test(m.text())) cspViolations.push(m.text());
    });
    await page.goto(url);
    await page.waitForSelector('body[data-ready]', { state: 'attached', timeout: 60_000 });
    const status = await page.textContent('#status');
    expect(await page.getAttribute('body', 'data-ready')).toBe('true');
    expect(status).toBe('Loaded.');
    await page.screenshot({ path: path.join(ARTIFACTS, `smart-app-${name}.png`), fullPage: true });
    return { page, cspViolations };
  }

  test('persistent iron deficiency (golden persistent-ida-failure-to-thrive): every hemoglobin plotted, below its cut-off band and marked low', async () => {
    const c = goldenCase('persistent-ida-failure-to-thrive');
    const patient = c.patient as string;
    const { fhirBase, cdsBase } = await start(c.now);
    const { page, cspViolations } = await openApp(`${cdsBase}/app/launch.html?iss=${encodeURIComponent(fhirBase)}&patient=${patient}`, patient);

    const points = await rows(page, '[data-testid="hb-chart"] [data-testid="hb-point"]', ['data-date', 'data-value', 'data-low', 'data-cutoff']);
    expect(points.map((p) => p['data-date'])).toEqual(usableHemoglobinDates(patient, c.now));
    // The golden card's evidence: the latest Hb 10.1 g/dL on 2026-05-28 is low (persistentIda needs it).
    expect(points.find((p) => p['data-date'] === '2026-05-28')).toMatchObject({ 'data-value': '10.1', 'data-low': 'true' });
    for (const p of points) {
      expect(p['data-cutoff']).not.toBeNull();
      expect(p['data-low']).toBe(String(Number(p['data-value']) < Number(p['data-cutoff'])));
    }
    expect(points.every((p) => p['data-low'] === 'true')).toBe(true);
    expect(await page.locator('#chart-canvas canvas').count()).toBeGreaterThan(0);
    expect(cspViolations).toEqual([]);
    await page.close();
  });

  test('partial work-up (golden exclusion-partial-groups): one checklist row per group with the states the card implies', async () => {
    const c = goldenCase('exclusion-partial-groups');
    const patient = c.patient as string;
    const { fhirBase, cdsBase } = await start(c.now);
    const { page } = await openApp(`${cdsBase}/app/launch.html?iss=${encodeURIComponent(fhirBase)}&patient=${patient}`, patient);

    const groups = await rows(page, '[data-testid="workup-checklist"] tr[data-group]', ['data-group', 'data-state']);
    expect(groups.map((g) => g['data-group'])).toEqual(['anca', 'anti-gbm', 'lupus', 'antiphospholipid', 'coagulation', 'renal', 'cardiac']);
    const state = Object.fromEntries(groups.map((g) => [g['data-group'], g['data-state']]));
    // Missing groups are exactly those whose tests the golden work-up card suggests.
    const card = c.expect.cards?.find((x) => x.topic === 'iph-exclusion-workup');
    const suggestedGroups = new Set((card?.suggestions ?? []).map((code) => SUGGESTED_CODE_GROUP[code]));
    expect(new Set(Object.keys(state).filter((g) => state[g] === 'missing'))).toEqual(suggestedGroups);
    // The case's description: ANCA done, anti-GBM pending (active order), echo Procedure done.
    expect(state).toMatchObject({ anca: 'done', 'anti-gbm': 'pending', cardiac: 'done' });
    // Partial groups show their done, pending and missing tests: ANA positive, anticardiolipin pending, INR missing.
    const tests = await rows(page, '[data-testid="workup-checklist"] li[data-test]', ['data-test', 'data-state']);
    expect(Object.fromEntries(tests.map((t) => [t['data-test'], t['data-state']]))).toMatchObject({ ana: 'done', antiDsdna: 'missing', anticardiolipinIgg: 'pending', beta2GlycoproteinIgg: 'missing', ptInr: 'missing' });
    expect(await page.textContent('[data-testid="workup-checklist"] tr[data-group="anti-gbm"]')).toContain('2026-06-01');
    expect(await page.getAttribute('[data-testid="infection-check"]', 'data-state')).toBe('missing');
    expect(await page.textContent('[data-testid="not-checked"]')).toContain('Drug and toxin history');
    await page.close();
  });

  test('criteria met (golden criteria-met): every group done, infection checked', async () => {
    const c = goldenCase('criteria-met');
    const patient = c.patient as string;
    const { fhirBase, cdsBase } = await start(c.now);
    const { page } = await openApp(`${cdsBase}/app/launch.html?iss=${encodeURIComponent(fhirBase)}&patient=${patient}`, patient);
    const groups = await rows(page, '[data-testid="workup-checklist"] tr[data-group]', ['data-group', 'data-state']);
    expect(groups).toHaveLength(7);
    expect(groups.every((g) => g['data-state'] === 'done')).toBe(true);
    expect(await page.getAttribute('[data-testid="infection-check"]', 'data-state')).toBe('done');
    const points = await rows(page, '[data-testid="hb-point"]', ['data-date', 'data-low']);
    expect(points.map((p) => p['data-date'])).toEqual(usableHemoglobinDates(patient, c.now));
    await page.close();
  });

  test('EHR launch from a card link as the CDS Hooks sandbox opens it (launch + iss): SMART authorization, then the service reads FHIR with the token', async () => {
    const c = goldenCase('exclusion-partial-groups');
    const patient = c.patient as string;
    const token = `ehr-token-${Date.now().toString(36)}-secret`;
    const smart = { token, patient, launch: 'sandbox-launch-7f3a', clientId: 'iph-cds-workup' };
    const seen: SeenFhirRequest[] = [];
    const { fhirBase, cdsBase } = await start(c.now, smart, seen, withSmartLinks());

    // The sandbox calls the hook with its FHIR server and token, renders the card, and opens its smart link with
    // `launch` and `iss` appended.
    const hook = await fetch(`${cdsBase}/cds-services/iph-patient-view`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({
        hook: 'patient-view',
        hookInstance: '2b5c6a2e-1f0e-4a43-9d67-3a3d3d7c0b11',
        fhirServer: fhirBase,
        fhirAuthorization: { access_token: token, token_type: 'Bearer', expires_in: 300, scope: 'patient/*.read', subject: 'cds-sandbox' },
        context: { userId: 'Practitioner/example', patientId: patient },
      }),
    });
    expect(hook.status).toBe(200);
    const { cards } = (await hook.json()) as { cards: { source: { topic: { code: string } }; links?: { label: string; url: string; type: string }[] }[] };
    const workupCard = cards.find((x) => x.source.topic.code === 'iph-exclusion-workup');
    expect(workupCard?.links).toEqual([{ label: 'Open the IPH work-up', url: `${cdsBase}/app/launch.html`, type: 'smart' }]);
    const link = workupCard?.links?.[0]?.url as string;
    seen.length = 0;
    const { page } = await openApp(`${link}?launch=${smart.launch}&iss=${encodeURIComponent(fhirBase)}`, `${patient}-ehr-launch`);

    const groups = await rows(page, '[data-testid="workup-checklist"] tr[data-group]', ['data-group', 'data-state']);
    expect(groups.find((g) => g['data-group'] === 'anti-gbm')?.['data-state']).toBe('pending');
    // The service (no Origin header) read the record with the token; the browser never read patient data.
    const reads = seen.filter((s) => /^\/(Patient|Condition|Observation|DiagnosticReport|Procedure|ServiceRequest|NutritionOrder|MedicationRequest)\b/.test(s.path));
    expect(reads.length).toBeGreaterThanOrEqual(8);
    expect(reads.every((s) => s.authorization === `Bearer ${token}` && s.origin === undefined)).toBe(true);
    expect(logged.join('')).not.toContain(token);
    await page.close();
  });
});
