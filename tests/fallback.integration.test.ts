// FHIR fallback end to end: every golden case posted WITHOUT prefetch, with fhirServer pointing at the demo
// FHIR server on a real loopback socket, must give the same cards as with prefetch; plus the time budget
// against a FHIR server that never answers, and the sandbox's fhirServer-without-token combination.
import fs from 'node:fs';
import os from 'node:os';
import http from 'node:http';
import { Writable } from 'node:stream';
import net from 'node:net';
import path from 'node:path';
import express from 'express';
import { createApp } from '../src/http/app';
import { readConfig } from '../src/service';
import { loadRegistry } from '../src/definitions/load';
import { type Registry } from '../src/definitions/types';
import { startDemo, type DemoHandle } from '../demo/demo';
import { demoCases } from '../demo/fixture-clock';
import { createDemoFhirApp, loadFixturePatients } from '../demo/demo-fhir-server';
import { fetchPrefetchKeys, type FhirFetchSettings } from '../src/fhir/client';
import type { FhirAuthorization, HookRequest } from '../src/cds-hooks';
import { memoryStorage } from './helpers/test-storage';
import { createLogger } from '../src/logger';
import { responseViolations } from './helpers/conformance';
import { baseRequest, compareWithExpected, FIXTURES, listCases, type LoadedCase } from './helpers/golden';

const DEMO_AUTH: FhirAuthorization = { access_token: 'demo-token', token_type: 'Bearer', expires_in: 300, scope: 'patient/*.read', subject: 'iph-cds' };

// Only Date is faked: sockets need real timers.
const ONLY_DATE = ['nextTick', 'setImmediate', 'clearImmediate', 'setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'queueMicrotask', 'hrtime', 'performance'] as const;

const registry: Registry = loadRegistry(path.join(__dirname, '..', 'cds-services'));
const config = readConfig({ NODE_ENV: 'test' });

/** Cases that are about clinical data, not about prefetch states (those need the request as written). */
const cases = listCases().filter(
  (c) => registry.services.has(c.service) && c.data.patient !== undefined && !c.data.request && !c.data.prefetch && !c.data.omitPrefetch,
);

interface SeenRequest {
  method: string;
  url: string;
  authorization: string | undefined;
}

let seen: SeenRequest[] = [];
let fhirHttp: http.Server;
let fhirBase: string;
let cdsHttp: http.Server;
let cdsBase: string;

async function listenLoopback(server: http.Server | net.Server): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  return (server.address() as net.AddressInfo).port;
}

async function closeServer(server: http.Server | net.Server | undefined): Promise<void> {
  if (!server) return;
  if (server instanceof http.Server) server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

function startCdsApp(settings: FhirFetchSettings, log = createLogger({ level: 'silent' })): http.Server {
  const app = createApp(registry, config, {
    log,
    ...memoryStorage(),
    fetcher: (request, templates) => fetchPrefetchKeys(request, templates, settings),
  });
  return http.createServer(app);
}

async function postHook(base: string, service: string, body: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${base}/cds-services/${service}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

function requestWithoutPrefetch(c: LoadedCase, fhirServer: string, auth: FhirAuthorization | undefined): HookRequest {
  const service = registry.services.get(c.service);
  if (!service) throw new Error(`no service ${c.service}`);
  const request = baseRequest(service, c.data);
  return { ...request, fhirServer, ...(auth ? { fhirAuthorization: auth } : {}) };
}

beforeAll(async () => {
  const fhirRoot = express();
  // Records what reached the FHIR server, to check the token travels (and only to this server).
  fhirRoot.use((req, _res, next) => {
    seen.push({ method: req.method, url: req.originalUrl, authorization: req.headers.authorization });
    next();
  });
  fhirRoot.use('/fhir', createDemoFhirApp(loadFixturePatients(path.join(FIXTURES, 'patients'))));
  fhirHttp = http.createServer(fhirRoot);
  fhirBase = `http://127.0.0.1:${await listenLoopback(fhirHttp)}/fhir`;

  cdsHttp = startCdsApp(config.fhir);
  cdsBase = `http://127.0.0.1:${await listenLoopback(cdsHttp)}`;
});

afterAll(async () => {
  await closeServer(cdsHttp);
  await closeServer(fhirHttp);
});

beforeEach(() => {
  seen = [];
});

afterEach(() => jest.useRealTimers());

test('the selection covers every clinical service and most golden cases', () => {
  const services = new Set(cases.map((c) => c.service));
  expect([...services].sort()).toEqual([...registry.services.keys()].sort());
  expect(cases.length).toBeGreaterThan(100);
});

describe.each([...new Set(cases.map((c) => c.service))])('%s golden cases through the FHIR fallback', (service) => {
  test.each(cases.filter((c) => c.service === service).map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    const body = requestWithoutPrefetch(c, fhirBase, DEMO_AUTH);
    expect(body).not.toHaveProperty('prefetch');

    jest.useFakeTimers({ now: new Date(c.data.now), doNotFake: [...ONLY_DATE] });
    const res = await postHook(cdsBase, service, body);
    jest.useRealTimers();

    const problems = compareWithExpected(c.data, res.status, res.body);
    if (res.status === 200) problems.push(...responseViolations(res.body));
    expect({ case: c.data.description, problems }).toEqual({ case: c.data.description, problems: [] });

    if (c.data.expect.status === 400) {
      // An invalid request is rejected before any FHIR call.
      expect(seen).toEqual([]);
      return;
    }
    // The data came from the FHIR server, for this patient, each call carrying the client's token.
    expect(seen.length).toBeGreaterThanOrEqual(Object.keys(registry.services.get(service)?.prefetch ?? {}).length);
    expect(seen.map((s) => s.method)).toEqual(seen.map(() => 'GET'));
    expect(seen.map((s) => s.authorization)).toEqual(seen.map(() => 'Bearer demo-token'));
    expect(seen.some((s) => s.url === `/fhir/Patient/${c.data.patient}`)).toBe(true);
  });
});

describe('fhirServer without fhirAuthorization (what the CDS Hooks sandbox sends)', () => {
  it('fetches from a loopback server without a token and gives the same cards', async () => {
    const c = cases.find((x) => x.service === 'iph-patient-view' && (x.data.expect.cards?.length ?? 0) > 0);
    if (!c) throw new Error('no patient-view case with cards');
    const body = requestWithoutPrefetch(c, fhirBase, undefined);
    expect(body).not.toHaveProperty('fhirAuthorization');

    jest.useFakeTimers({ now: new Date(c.data.now), doNotFake: [...ONLY_DATE] });
    const res = await postHook(cdsBase, c.service, body);
    jest.useRealTimers();

    expect(compareWithExpected(c.data, res.status, res.body)).toEqual([]);
    expect(seen.length).toBeGreaterThan(0);
    expect(seen.map((s) => s.authorization)).toEqual(seen.map(() => undefined));
  });
});

describe('a FHIR server that never answers', () => {
  const BUDGET_MS = 500;
  let silent: net.Server;
  const sockets = new Set<net.Socket>();
  let silentBase: string;
  let budgetHttp: http.Server;
  let budgetBase: string;
  const logLines: Record<string, unknown>[] = [];

  beforeAll(async () => {
    // Accepts connections, reads whatever comes, never writes a byte.
    silent = net.createServer((socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => undefined);
      socket.resume();
    });
    silentBase = `http://127.0.0.1:${await listenLoopback(silent)}/fhir`;
    const destination = new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const line of chunk.toString().split('\n')) if (line) logLines.push(JSON.parse(line) as Record<string, unknown>);
        done();
      },
    });
    budgetHttp = startCdsApp({ ...config.fhir, budgetMs: BUDGET_MS }, createLogger({ level: 'warn', destination }));
    budgetBase = `http://127.0.0.1:${await listenLoopback(budgetHttp)}`;
  });

  afterAll(async () => {
    for (const s of sockets) s.destroy();
    await closeServer(silent);
    await closeServer(budgetHttp);
  });

  it(`is aborted by the budget (${BUDGET_MS} ms) when the FHIR server never answers, and answers 412`, async () => {
    const c = cases.find((x) => x.service === 'iph-patient-view');
    if (!c) throw new Error('no patient-view case');
    const body = requestWithoutPrefetch(c, silentBase, DEMO_AUTH);
    let connections = 0;
    const onConnection = (): void => {
      connections++;
    };
    silent.on('connection', onConnection);
    const res = await postHook(budgetBase, c.service, body);
    silent.off('connection', onConnection);

    // The server was really reached: the call was aborted by the budget ("timed out" below), not refused.
    expect(connections).toBeGreaterThan(0);
    // Aborted by the budget: every key's logged cause is the timeout (not a refused or failed connection).
    const line = logLines.find((l) => l.msg === 'FHIR fallback could not read some keys');
    expect(Object.values(line?.fhir as Record<string, string>).every((cause) => cause === 'timed out')).toBe(true);
    expect(Object.keys(line?.fhir as Record<string, string>)).toEqual(expect.arrayContaining(['patient', 'conditions']));

    // patient and conditions are required: without them the service cannot decide anything.
    expect(res.status).toBe(412);
    expect(res.body.resourceType).toBe('OperationOutcome');
    // The caller sees the one reason for any server failure; the precise cause (timed out) is logged.
    expect(JSON.stringify(res.body)).toContain('FHIR server unavailable');
    expect(JSON.stringify(res.body)).not.toContain('timed out');
  });
});

describe('npm run demo (startDemo)', () => {
  let demo: DemoHandle | undefined;

  afterAll(async () => {
    await demo?.close();
  });

  it('refuses to run in production', async () => {
    await expect(startDemo({ NODE_ENV: 'production', PORT: '0', DEMO_FHIR_PORT: '0' }, createLogger({ level: 'silent' }))).rejects.toThrow(/production/);
  });

  it('serves discovery and the fixture patients, and its sandbox links work as the sandbox would use them', async () => {
    // A patient-view case with cards that is its patient's demo case; DEMO_NOW at its `now` pins both servers' day.
    const chosen = demoCases(path.join(FIXTURES, 'cases'));
    const c = cases.find((x) => x.service === 'iph-patient-view' && (x.data.expect.cards?.length ?? 0) > 0 && chosen.get(x.data.patient ?? '')?.name === x.name);
    if (!c) throw new Error('no patient-view case with cards');
    demo = await startDemo({ NODE_ENV: 'test', PORT: '0', DEMO_FHIR_PORT: '0', DEMO_NOW: c.data.now, CDS_DATA_DIR: fs.mkdtempSync(path.join(os.tmpdir(), 'cds-demo-data-')) }, createLogger({ level: 'silent' }));

    const patientFiles = fs.readdirSync(path.join(FIXTURES, 'patients')).filter((f) => f.endsWith('.json'));
    expect([...demo.patientIds].sort()).toEqual(patientFiles.map((f) => f.replace(/\.json$/, '')).sort());
    expect(demo.sandboxUrls).toHaveLength(demo.patientIds.length);

    const discovery = await fetch(demo.discoveryUrl);
    expect(discovery.status).toBe(200);
    const ids = ((await discovery.json()) as { services: { id: string }[] }).services.map((s) => s.id).sort();
    expect(ids).toEqual([...registry.services.keys()].sort());

    // Follow one link the way the sandbox does: patient from fhirServiceUrl, hook call with fhirServer and no token.
    const link = demo.sandboxUrls.find((u) => new URL(u).searchParams.get('patientId') === c.data.patient);
    if (!link) throw new Error(`no sandbox link for ${String(c.data.patient)}`);
    const params = new URL(link).searchParams;
    expect(link.startsWith('https://sandbox.cds-hooks.org/?')).toBe(true);
    expect(params.get('serviceDiscoveryURL')).toBe(demo.discoveryUrl);
    const fhirServiceUrl = params.get('fhirServiceUrl') ?? '';
    expect(fhirServiceUrl).toMatch(/^http:\/\/localhost:\d+\/fhir$/);

    const patient = await fetch(`${fhirServiceUrl}/Patient/${c.data.patient}`, { headers: { Origin: 'https://sandbox.cds-hooks.org' } });
    expect(patient.status).toBe(200);
    expect(patient.headers.get('access-control-allow-origin')).toBe('*');

    const body = requestWithoutPrefetch(c, fhirServiceUrl, undefined);
    // No fake clock: the demo's service evaluates at DEMO_NOW.
    const res = await postHook(demo.discoveryUrl.replace(/\/cds-services$/, ''), c.service, body);
    expect(compareWithExpected(c.data, res.status, res.body)).toEqual([]);
  });
});
