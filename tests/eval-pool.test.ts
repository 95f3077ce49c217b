// The real evaluation pool (piscina threads running src/eval-worker.ts): a record that runs past the deadline
// gets 503 with Retry-After and a log line naming the service and the duration, while discovery and other hook
// calls are answered during it and after it (its thread is replaced); the SMART app's work-up runs in the same pool
// under the same deadline, reading a loopback FHIR server. Order of events, not wall-clock limits.
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { Writable } from 'node:stream';
import { BroadcastChannel } from 'node:worker_threads';
import { createApp } from '../src/http/app';
import { readConfig } from '../src/service';
import { loadRegistry } from '../src/definitions/load';
import { createEvalPool, type HookEvaluator } from '../src/http/eval-pool';
import { memoryStorage } from './helpers/test-storage';
import { createLogger } from '../src/logger';
import { makeSlowDefinitions, SLOW_CONDITIONS } from './helpers/slow-definitions';

type Json = Record<string, unknown>;

const TIMEOUT_MS = 3000;
const definitionsDir = makeSlowDefinitions();
const registry = loadRegistry(definitionsDir);
const logLines: Json[] = [];
const log = createLogger({
  level: 'info',
  destination: new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n')) if (line) logLines.push(JSON.parse(line) as Json);
      done();
    },
  }),
});

const starts: string[] = [];
let pool: HookEvaluator;
let server: http.Server;
let base: string;
let fhirServer: http.Server;
let fhirBase: string;

/** A FHIR server over loopback for the work-up: Patient pat-1 with `fhirConditions` Conditions, nothing else. */
let fhirConditions = 3;
function fhirHandler(req: http.IncomingMessage, res: http.ServerResponse): void {
  const url = new URL(req.url ?? '/', 'http://fhir.local');
  const send = (resource: Json) => {
    res.setHeader('Content-Type', 'application/fhir+json');
    res.end(JSON.stringify(resource));
  };
  if (url.pathname === '/fhir/Patient/pat-1') return send({ resourceType: 'Patient', id: 'pat-1', birthDate: '2016-05-01', gender: 'female' });
  const entry = url.pathname === '/fhir/Condition'
    ? Array.from({ length: fhirConditions }, (_, i) => ({ resource: { resourceType: 'Condition', id: `c${i}`, subject: { reference: 'Patient/pat-1' }, code: { text: `problem ${i}` } } }))
    : [];
  send({ resourceType: 'Bundle', type: 'searchset', entry });
}

function workup(): Promise<{ status: number; headers: Headers; json: Json }> {
  return call('POST', '/app/api/workup', JSON.stringify({ patientId: 'pat-1', fhirServer: `${fhirBase}/fhir` }));
}

function body(conditions: number): string {
  const service = registry.services.get('iph-patient-view');
  if (!service) throw new Error('no iph-patient-view');
  const empty = { resourceType: 'Bundle', type: 'searchset', entry: [] as Json[] };
  const prefetch: Json = Object.fromEntries(Object.keys(service.prefetch).map((k) => [k, empty]));
  prefetch.patient = { resourceType: 'Patient', id: 'pat-1', birthDate: '2016-05-01', gender: 'female' };
  prefetch.conditions = {
    resourceType: 'Bundle',
    type: 'searchset',
    entry: Array.from({ length: conditions }, (_, i) => ({ resource: { resourceType: 'Condition', id: `c${i}`, code: { text: `problem ${i}` } } })),
  };
  return JSON.stringify({ hook: 'patient-view', hookInstance: randomUUID(), context: { userId: 'Practitioner/dr-1', patientId: 'pat-1' }, prefetch });
}

async function call(method: 'GET' | 'POST', urlPath: string, payload?: string): Promise<{ status: number; headers: Headers; json: Json }> {
  const res = await fetch(`${base}${urlPath}`, { method, headers: payload ? { 'Content-Type': 'application/json' } : {}, body: payload });
  return { status: res.status, headers: res.headers, json: (await res.json()) as Json };
}

beforeAll(async () => {
  fhirServer = http.createServer(fhirHandler).listen(0, '127.0.0.1');
  await once(fhirServer, 'listening');
  fhirBase = `http://127.0.0.1:${(fhirServer.address() as AddressInfo).port}`;
  const config = readConfig({ NODE_ENV: 'test', CDS_DEFINITIONS_DIR: definitionsDir, CDS_EVAL_TIMEOUT_MS: String(TIMEOUT_MS), CDS_FHIR_BUDGET_MS: '500' });
  pool = createEvalPool({
    threads: 2,
    timeoutMs: config.evalTimeoutMs,
    maxQueue: 8,
    heapMb: 256,
    definitionsDir,
    fhir: config.fhir,
    log,
    filename: path.join(__dirname, 'helpers', 'ts-worker.js'),
    onStart: ({ bytes }) => starts.push(String(bytes)),
  });
  const app = createApp(registry, config, { log, ...memoryStorage(), evaluator: pool });
  server = http.createServer(app).listen(0, '127.0.0.1');
  await once(server, 'listening');
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await pool.close();
  await new Promise((resolve) => server.close(resolve));
  await new Promise((resolve) => fhirServer.close(resolve));
});

describe('the evaluation deadline', () => {
  it('answers both threads (first calls wait for each thread to load the definitions)', async () => {
    const [a, b] = await Promise.all([call('POST', '/cds-services/iph-patient-view', body(3)), call('POST', '/cds-services/iph-patient-view', body(3))]);
    expect([a.status, b.status]).toEqual([200, 200]);
  }, 180_000);

  it('a record past the deadline gets 503 + Retry-After while discovery and another call are answered', async () => {
    const slowBody = body(SLOW_CONDITIONS);
    const events: string[] = [];
    const before = starts.length;
    const slow = call('POST', '/cds-services/iph-patient-view', slowBody).then((r) => {
      events.push('slow answered');
      return r;
    });
    // Wait until a thread has started the slow call: from then on its thread is busy for minutes.
    while (starts.length === before) await new Promise((resolve) => setImmediate(resolve));
    expect(starts[before]).toBe(String(Buffer.byteLength(slowBody)));

    const discovery = await call('GET', '/cds-services');
    events.push('discovery answered');
    const other = await call('POST', '/cds-services/iph-order-sign', JSON.stringify({
      hook: 'order-sign',
      hookInstance: randomUUID(),
      context: { userId: 'Practitioner/dr-1', patientId: 'pat-1', draftOrders: { resourceType: 'Bundle', type: 'collection', entry: [] } },
      prefetch: { patient: { resourceType: 'Patient', id: 'pat-1', birthDate: '2016-05-01' }, conditions: null },
    }));
    events.push('other call answered');
    const timedOut = await slow;

    expect(discovery.status).toBe(200);
    expect(other.status).toBe(200);
    expect(events[0]).toBe('discovery answered');
    expect(timedOut.status).toBe(503);
    expect(timedOut.headers.get('retry-after')).toBe(String(TIMEOUT_MS / 1000));
    expect(timedOut.headers.get('content-type')).toMatch(/application\/fhir\+json/);
    expect(timedOut.json).toMatchObject({ resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'transient' }] });
    const line = logLines.find((l) => l.msg === 'hook evaluation passed its deadline; its thread was replaced');
    expect(line).toMatchObject({ service: 'iph-patient-view', timeoutMs: TIMEOUT_MS });
    expect(line?.durationMs as number).toBeGreaterThanOrEqual(TIMEOUT_MS);
  }, 120_000);

  it('keeps answering after the deadline: both threads serve again (one of them a replacement)', async () => {
    const results = await Promise.all([1, 2, 3, 4].map(() => call('POST', '/cds-services/iph-patient-view', body(3))));
    expect(results.map((r) => r.status)).toEqual([200, 200, 200, 200]);
  }, 180_000);

  it('keeps the HttpError semantics across the thread boundary (400 with the issue path, 404)', async () => {
    const bad = await call('POST', '/cds-services/iph-patient-view', JSON.stringify({ hook: 'patient-view', hookInstance: randomUUID(), context: { patientId: 'p' } }));
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.json)).toContain('context');
    const notJson = await call('POST', '/cds-services/iph-patient-view', '{"hook":');
    expect(notJson.status).toBe(400);
    expect(notJson.json).toMatchObject({ issue: [{ diagnostics: 'Request body is not valid JSON' }] });
  });
});

describe('the SMART work-up in the pool', () => {
  it('answers the work-up from a thread, which reads the FHIR server itself', async () => {
    fhirConditions = 3;
    const res = await workup();
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ patient: { id: 'pat-1' } });
  }, 120_000);

  it('a work-up past the deadline gets 503 + Retry-After while a hook call is answered; the pool serves again after', async () => {
    fhirConditions = SLOW_CONDITIONS;
    const events: string[] = [];
    const before = starts.length;
    const slow = workup().then((r) => {
      events.push('work-up answered');
      return r;
    });
    while (starts.length === before) await new Promise((resolve) => setImmediate(resolve));
    const other = await call('POST', '/cds-services/iph-patient-view', body(3));
    events.push('hook call answered');
    const timedOut = await slow;

    expect(other.status).toBe(200);
    expect(events).toEqual(['hook call answered', 'work-up answered']);
    expect(timedOut.status).toBe(503);
    expect(timedOut.headers.get('retry-after')).toBe(String(TIMEOUT_MS / 1000));
    expect(timedOut.json).toMatchObject({ resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'transient' }] });
    expect(logLines.find((l) => l.msg === 'work-up evaluation passed its deadline; its thread was replaced')).toMatchObject({ service: 'iph-patient-view', timeoutMs: TIMEOUT_MS });

    fhirConditions = 3;
    expect((await workup()).status).toBe(200);
  }, 180_000);
});

describe('between calls', () => {
  it("runs the thread's event loop (timers fire with no call in flight; Atomics.wait would freeze them)", async () => {
    const idle = createEvalPool({ threads: 1, timeoutMs: 10_000, maxQueue: 1, heapMb: 64, definitionsDir, log, filename: path.join(__dirname, 'helpers', 'idle-timer-worker.js') });
    const channel = new BroadcastChannel('iph-idle-timer');
    try {
      const fired = new Promise((resolve) => channel.addEventListener('message', resolve, { once: true }));
      expect(await idle.evaluate({ serviceId: 'iph-patient-view', body: new Uint8Array(0), now: 0 })).toEqual({ status: 200, cards: [] });
      await fired;
    } finally {
      channel.close();
      await idle.close();
    }
  }, 60_000);
});
