// FHIR fallback end to end: every golden case posted WITHOUT prefetch, with fhirServer pointing at the demo
// FHIR server on a real loopback socket, must give the same cards as with prefetch; plus the time budget
// against a FHIR server that never answers, and the sandbox's fhirServer-without-token combination.
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import express from 'express';
import { createApp } from '../src/app';
import { readConfig } from '../src/config';
import { loadRegistry, type Registry } from '../src/definitions';
import { createDemoFhirApp, loadFixturePatients } from '../src/demo-fhir-server';
import { createFeedbackStore } from '../src/feedback';
import { fetchPrefetchKeys, type FhirFetchSettings } from '../src/fhir-client';
import type { FhirAuthorization, HookRequest } from '../src/hook-request';
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

function startCdsApp(settings: FhirFetchSettings): http.Server {
  const app = createApp(registry, config, {
    log: createLogger({ level: 'silent' }),
    feedback: createFeedbackStore(),
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

  beforeAll(async () => {
    // Accepts connections, reads whatever comes, never writes a byte.
    silent = net.createServer((socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => undefined);
      socket.resume();
    });
    silentBase = `http://127.0.0.1:${await listenLoopback(silent)}/fhir`;
    budgetHttp = startCdsApp({ ...config.fhir, budgetMs: BUDGET_MS });
    budgetBase = `http://127.0.0.1:${await listenLoopback(budgetHttp)}`;
  });

  afterAll(async () => {
    for (const s of sockets) s.destroy();
    await closeServer(silent);
    await closeServer(budgetHttp);
  });

  it(`costs the hook call at most the budget (${BUDGET_MS} ms) plus 100 ms and answers 412`, async () => {
    const c = cases.find((x) => x.service === 'iph-patient-view');
    if (!c) throw new Error('no patient-view case');
    const body = requestWithoutPrefetch(c, silentBase, DEMO_AUTH);
    let connections = 0;
    const onConnection = (): void => {
      connections++;
    };
    silent.on('connection', onConnection);

    const started = performance.now();
    const res = await postHook(budgetBase, c.service, body);
    const elapsed = performance.now() - started;
    silent.off('connection', onConnection);

    // The server was really reached and really waited on: not a refused connection that fails fast.
    expect(connections).toBeGreaterThan(0);
    expect(elapsed).toBeGreaterThanOrEqual(BUDGET_MS - 20);
    expect(elapsed).toBeLessThanOrEqual(BUDGET_MS + 100);

    // patient and conditions are required: without them the service cannot decide anything.
    expect(res.status).toBe(412);
    expect(res.body.resourceType).toBe('OperationOutcome');
    expect(JSON.stringify(res.body)).toContain('timed out');
  });
});
