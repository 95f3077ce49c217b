// The SMART app's service side without a browser: POST /app/api/workup (the definitions' checklist and series for a
// fixture patient read over loopback; bad input; same-origin rule; the FHIR allow-list; the token only to the FHIR
// server and never to the log), the app pages' own CSP, and card links of type smart resolved per request.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import request from 'supertest';
import { readConfig, type Config } from '../src/service';
import { loadRegistry, checkDefinitions } from '../src/definitions/load';
import type { Registry } from '../src/definitions/types';
import { HttpError } from '../src/errors';
import { createApp } from '../src/http/app';
import { memoryStorage } from './helpers/test-storage';
import { fetchPrefetchKeys } from '../src/fhir/client';
import { capturedLogger } from './helpers/captured-log';
import type { WorkupReport } from '../src/evaluation/workup-report';
import { responseViolations } from './helpers/conformance';
import { fhirServerApp, serve, serviceApp, type Running, type SeenFhirRequest } from './helpers/smart-app-servers';

const ROOT = path.join(__dirname, '..');
const NOW = '2026-06-15T12:00:00Z';
const registry: Registry = loadRegistry(path.join(ROOT, 'cds-services'));
const { log, logged } = capturedLogger();

let appDir: string;
let fhir: Running;
let securedFhir: Running;
const seen: SeenFhirRequest[] = [];
const securedSeen: SeenFhirRequest[] = [];
const TOKEN = 'smart-access-token-5d1e9c';

beforeAll(async () => {
  // A stand-in for the built app: these tests are about headers and routing, the browser test builds the real one.
  appDir = fs.mkdtempSync(path.join(os.tmpdir(), 'iph-app-static-'));
  fs.writeFileSync(path.join(appDir, 'index.html'), '<!doctype html><title>IPH work-up</title>');
  fs.writeFileSync(path.join(appDir, 'launch.html'), '<!doctype html><title>launching</title>');
  fhir = await serve(fhirServerApp(seen));
  securedFhir = await serve(fhirServerApp(securedSeen, { token: TOKEN, patient: 'pv-persistent-ftt', launch: 'l', clientId: 'iph-cds-workup' }));
});

afterAll(async () => {
  await Promise.all([fhir.close(), securedFhir.close()]);
  fs.rmSync(appDir, { recursive: true, force: true });
});

let shared: ReturnType<typeof serviceApp> | undefined;
const app = () => (shared ??= serviceApp(registry, log, { appDir, now: Date.parse(NOW) }));

describe('POST /app/api/workup', () => {
  test('returns the checklist (groups in definition order) and the series the definitions give for a fixture patient', async () => {
    const res = await request(app()).post('/app/api/workup').send({ patientId: 'pv-persistent-ftt', fhirServer: `${fhir.base}/fhir` });
    expect(res.status).toBe(200);
    const report = res.body as WorkupReport;
    expect(report.patient).toEqual({ id: 'pv-persistent-ftt', birthDate: '2022-09-10', gender: 'female' });
    expect(report.evaluatedAt).toBe('2026-06-15T12:00:00.000Z');
    expect(report.checklist.groups.map((g) => [g.id, g.state])).toEqual([
      ['anca', 'missing'],
      ['anti-gbm', 'missing'],
      ['lupus', 'missing'],
      ['antiphospholipid', 'missing'],
      ['coagulation', 'missing'],
      ['renal', 'missing'],
      ['cardiac', 'missing'],
    ]);
    // anti-dsDNA is only needed after a positive ANA.
    expect(report.checklist.groups[2]?.tests.map((t) => t.state)).toEqual(['missing', 'not-required']);
    // Golden persistent-ida-failure-to-thrive: low Hb 10.4 (2026-01-15) ... 10.1 (2026-05-28), 24-59 months cut-off 11.0.
    expect(report.series.hemoglobin.map((h) => [h.date, h.value, h.low, h.cutoff])).toEqual([
      ['2026-01-15', 10.4, true, 11],
      ['2026-02-25', 10.3, true, 11],
      ['2026-05-28', 10.1, true, 11],
    ]);
    // The band follows her age: none under 6 months, 10.5 from 6 months, 11.0 from 24 months (birthdays to the day).
    expect(report.series.cutoffs).toEqual([
      { date: '2022-09-10', band: 'under 6 months' },
      { date: '2023-03-10', cutoff: 10.5, band: '6-23 months' },
      { date: '2024-09-10', cutoff: 11, band: '24-59 months' },
    ]);
    expect(report.series.ferritin.at(-1)).toMatchObject({ date: '2026-05-28', value: 5, low: true });
    expect(report.series.events).toEqual([expect.objectContaining({ date: '2026-01-16', kind: 'iron-therapy' })]);
    expect(report.checklist.notChecked).toContain('Drug and toxin history');
  });

  test('a pregnancy Condition switches the band to the pregnancy cut-off for 280 days', async () => {
    const res = await request(app()).post('/app/api/workup').send({ patientId: 'pv-pregnant', fhirServer: `${fhir.base}/fhir` });
    expect(res.status).toBe(200);
    const bands = (res.body as WorkupReport).series.cutoffs.map((c) => c.band);
    expect(bands).toContain('pregnancy');
    const hb = (res.body as WorkupReport).series.hemoglobin.at(-1);
    expect(hb).toMatchObject({ cutoff: 11, band: 'pregnancy' });
  });

  test('sends the token to the FHIR server only, and never logs it', async () => {
    logged.length = 0;
    const res = await request(app()).post('/app/api/workup').send({ patientId: 'pv-persistent-ftt', fhirServer: `${securedFhir.base}/fhir`, accessToken: TOKEN });
    expect(res.status).toBe(200);
    expect(securedSeen.length).toBeGreaterThanOrEqual(8);
    expect(securedSeen.every((s) => s.authorization === `Bearer ${TOKEN}`)).toBe(true);
    expect(logged.join('')).toContain('/app/api/workup');
    expect(logged.join('')).not.toContain(TOKEN);
    expect(JSON.stringify(res.body)).not.toContain(TOKEN);
  });

  test('without the token the secured server refuses, and the required patient data gives 412', async () => {
    const res = await request(app()).post('/app/api/workup').send({ patientId: 'pv-persistent-ftt', fhirServer: `${securedFhir.base}/fhir` });
    expect(res.status).toBe(412);
    expect(res.body.resourceType).toBe('OperationOutcome');
    expect(JSON.stringify(res.body)).toContain('FHIR server unavailable');
  });

  test('a patient the FHIR server does not have is a 404', async () => {
    const res = await request(app()).post('/app/api/workup').send({ patientId: 'no-such-patient', fhirServer: `${fhir.base}/fhir` });
    expect(res.status).toBe(404);
    expect(res.body.resourceType).toBe('OperationOutcome');
  });

  test('a FHIR server outside the allow-list is never contacted', async () => {
    const before = seen.length;
    const res = await request(app()).post('/app/api/workup').send({ patientId: 'pv-persistent-ftt', fhirServer: 'https://ehr.example.org/fhir', accessToken: TOKEN });
    expect(res.status).toBe(412);
    expect(JSON.stringify(res.body)).toContain('fhirServer not allowed');
    expect(seen.length).toBe(before);
  });

  test.each([
    ['no body', undefined, 400],
    ['an array', [], 400],
    ['a bad patient id', { patientId: '../Patient', fhirServer: 'http://127.0.0.1/fhir' }, 400],
    ['a long patient id', { patientId: 'a'.repeat(65), fhirServer: 'http://127.0.0.1/fhir' }, 400],
    ['a non-http server', { patientId: 'p1', fhirServer: 'file:///etc/passwd' }, 400],
    ['an empty token', { patientId: 'p1', fhirServer: 'http://127.0.0.1/fhir', accessToken: '' }, 400],
    ['an unknown member', { patientId: 'p1', fhirServer: 'http://127.0.0.1/fhir', prefetch: {} }, 400],
    ['a body over 32kb', { patientId: 'p1', fhirServer: 'http://127.0.0.1/fhir', accessToken: 'x'.repeat(40_000) }, 413],
  ])('refuses %s with an OperationOutcome', async (_name, body, status) => {
    const res = await request(app()).post('/app/api/workup').set('Content-Type', 'application/json').send(body === undefined ? '' : JSON.stringify(body));
    expect(res.status).toBe(status);
    expect(res.body.resourceType).toBe('OperationOutcome');
    expect(JSON.stringify(res.body)).not.toMatch(/\bat .+\.ts:\d+/);
  });

  test('refuses a non-JSON body (415), another method (405), and another site (403)', async () => {
    expect((await request(app()).post('/app/api/workup').set('Content-Type', 'text/plain').send('x')).status).toBe(415);
    const get = await request(app()).get('/app/api/workup');
    expect(get.status).toBe(405);
    expect(get.headers.allow).toBe('POST');
    const body = { patientId: 'pv-persistent-ftt', fhirServer: `${fhir.base}/fhir` };
    expect((await request(app()).post('/app/api/workup').set('Origin', 'https://evil.example').send(body)).status).toBe(403);
    expect((await request(app()).post('/app/api/workup').set('Sec-Fetch-Site', 'cross-site').send(body)).status).toBe(403);
  });

  test('needs no CDS client JWT (a browser holds a SMART token), while the hooks still do', async () => {
    const config = readConfig({ NODE_ENV: 'test' });
    const jwtConfig: Config = { ...config, auth: { ...config.auth, mode: 'jwt' } };
    const verifier = { verify: () => Promise.reject(new HttpError(401, { code: 'login', diagnostics: 'unauthorized' })) };
    const guarded = createApp(registry, jwtConfig, { log, ...memoryStorage(), verifier, fetcher: (r, t) => fetchPrefetchKeys(r, t, config.fhir), app: { dir: appDir } });
    expect((await request(guarded).post('/app/api/workup').send({ patientId: 'pv-persistent-ftt', fhirServer: `${fhir.base}/fhir` })).status).toBe(200);
    expect((await request(guarded).get('/cds-services')).status).toBe(401);
  });
});

describe('/app/ pages', () => {
  test('are served with their own strict CSP (no inline or eval script, no framing by other sites)', async () => {
    const res = await request(app()).get('/app/');
    expect(res.status).toBe(200);
    expect(res.text).toContain('IPH work-up');
    const csp = res.headers['content-security-policy'] as string;
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toMatch(/unsafe-(inline|eval)/);
    expect(csp).toContain("base-uri 'none'");
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['cache-control']).toBe('no-store');
    expect((await request(app()).get('/app/launch.html')).status).toBe(200);
  });

  test('the API routes keep the service CSP (default-src none, no framing at all)', async () => {
    const res = await request(app()).get('/cds-services');
    expect(res.headers['content-security-policy']).toContain("default-src 'none'");
    expect(res.headers['content-security-policy']).toContain("frame-ancestors 'none'");
    expect((await request(app()).get('/app/')).headers['content-security-policy']).toContain("frame-ancestors 'self' https:");
  });

  test('an unbuilt app answers 404 with the build command', async () => {
    const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'iph-app-empty-'));
    const res = await request(serviceApp(registry, log, { appDir: empty, now: Date.parse(NOW) })).get('/app/index.html');
    fs.rmSync(empty, { recursive: true, force: true });
    expect(res.status).toBe(404);
    expect(JSON.stringify(res.body)).toContain('npm run build:app');
  });
});

describe('smart card links', () => {
  function definitionsWith(link: unknown): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iph-defs-'));
    fs.cpSync(path.join(ROOT, 'cds-services'), dir, { recursive: true });
    const file = path.join(dir, 'iph-patient-view.json');
    const service = JSON.parse(fs.readFileSync(file, 'utf8')) as { cards: { topic: { code: string }; links?: unknown[] }[] };
    for (const card of service.cards) if (card.topic.code === 'iph-persistent-ida') card.links = [link];
    fs.writeFileSync(file, JSON.stringify(service));
    return dir;
  }
  const smartLink = { label: 'Open the IPH work-up', url: '/app/launch.html', type: 'smart' };
  const hookBody = { hook: 'patient-view', hookInstance: 'a6b2c1d0-0000-4000-8000-000000000001', fhirServer: '', context: { userId: 'Practitioner/x', patientId: 'pv-persistent-ftt' } };

  async function cardLinks(env: NodeJS.ProcessEnv, host?: string): Promise<unknown> {
    const dir = definitionsWith(smartLink);
    // The hook call reads the server clock: only Date is faked (sockets need real timers), at the golden case's now.
    jest.useFakeTimers({ now: Date.parse(NOW), doNotFake: ['nextTick', 'setImmediate', 'clearImmediate', 'setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'queueMicrotask', 'hrtime', 'performance'] });
    try {
      const defs = loadRegistry(dir);
      const svc = serviceApp(defs, log, { appDir, now: Date.parse(NOW), env });
      let req = request(svc).post('/cds-services/iph-patient-view');
      if (host) req = req.set('Host', host);
      const res = await req.send({ ...hookBody, fhirServer: `${fhir.base}/fhir` });
      expect(res.status).toBe(200);
      expect(responseViolations(res.body)).toEqual([]);
      const discovery = await request(svc).get('/cds-services');
      expect(JSON.stringify(discovery.body)).not.toContain('links');
      return (res.body.cards as { source: { topic: { code: string } }; links?: unknown }[]).find((c) => c.source.topic.code === 'iph-persistent-ida')?.links;
    } finally {
      jest.useRealTimers();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }

  test('take their base from CDS_PUBLIC_URL (path prefix kept)', async () => {
    expect(await cardLinks({ CDS_PUBLIC_URL: 'https://gw.example.org/iph' })).toEqual([{ label: 'Open the IPH work-up', url: 'https://gw.example.org/iph/app/launch.html', type: 'smart' }]);
  });

  test('else from the request', async () => {
    expect(await cardLinks({}, 'cds.local:3000')).toEqual([{ label: 'Open the IPH work-up', url: 'http://cds.local:3000/app/launch.html', type: 'smart' }]);
  });

  test.each([
    ['a smart link with an absolute URL', { label: 'x', url: 'https://other.example/app', type: 'smart' }],
    ['an absolute link with a path', { label: 'x', url: '/app/launch.html', type: 'absolute' }],
    ['a protocol-relative smart link', { label: 'x', url: '//evil.example/app', type: 'smart' }],
  ])('refuse %s at load', (_name, link) => {
    const dir = definitionsWith(link);
    try {
      const { issues } = checkDefinitions(dir);
      expect(issues.some((i) => i.file.endsWith('iph-patient-view.json') && i.pointer.includes('/links/0'))).toBe(true);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
