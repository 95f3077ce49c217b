// The HTTP surface (src/http/app.ts) on the real registry: discovery, every error status as an OperationOutcome
// (application/fhir+json), CORS, feedback, and a malformed-input table where every row is a 400, never a 500,
// and that, fired all at once, leaves the process serving.
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import path from 'node:path';
import request from 'supertest';
import { createApp, type AppDeps } from '../src/http/app';
import { readConfig } from '../src/service';
import { loadRegistry } from '../src/definitions/load';
import { fetchPrefetchKeys } from '../src/fhir/client';
import { memoryStorage, serveCard } from './helpers/test-storage';
import { createLogger } from '../src/logger';

type Json = Record<string, unknown>;

const registry = loadRegistry(path.join(__dirname, '..', 'cds-services'));
const log = createLogger({ level: 'silent' });

function buildApp(deps: Partial<AppDeps> = {}, env: NodeJS.ProcessEnv = {}) {
  const config = readConfig({ NODE_ENV: 'test', ...env });
  return createApp(registry, config, {
    log,
    ...memoryStorage(),
    // As bootstrap.ts wires it: the FHIR fallback, which needs a fhirServer in the request.
    fetcher: (req, templates) => fetchPrefetchKeys(req, templates, config.fhir),
    ...deps,
  });
}

const app = buildApp();

const SERVICE_IDS = ['iph-order-select', 'iph-order-sign', 'iph-patient-view'];
const EMPTY_SEARCH = { resourceType: 'Bundle', type: 'searchset', total: 0, entry: [] };

/** Every prefetch key of a service, answered: the patient, and empty searches for the rest. */
function fullPrefetch(serviceId: string, patientId = 'pat-1'): Json {
  const service = registry.services.get(serviceId);
  if (!service) throw new Error(`no service ${serviceId}`);
  const prefetch: Json = {};
  for (const key of Object.keys(service.prefetch)) prefetch[key] = EMPTY_SEARCH;
  prefetch.patient = { resourceType: 'Patient', id: patientId, birthDate: '2016-05-01', gender: 'female' };
  return prefetch;
}

function patientViewRequest(): Json {
  return {
    hook: 'patient-view',
    hookInstance: randomUUID(),
    context: { userId: 'Practitioner/dr-1', patientId: 'pat-1' },
    prefetch: fullPrefetch('iph-patient-view'),
  };
}

function draftMedicationRequest(id: string): Json {
  return {
    resourceType: 'MedicationRequest',
    id,
    status: 'draft',
    intent: 'order',
    subject: { reference: 'Patient/pat-1' },
    medicationCodeableConcept: { text: 'Acetaminophen 80 MG Chewable Tablet' },
  };
}

function orderSelectRequest(): Json {
  return {
    hook: 'order-select',
    hookInstance: randomUUID(),
    context: {
      userId: 'Practitioner/dr-1',
      patientId: 'pat-1',
      selections: ['MedicationRequest/draft-1'],
      draftOrders: { resourceType: 'Bundle', type: 'collection', entry: [{ resource: draftMedicationRequest('draft-1') }] },
    },
    prefetch: fullPrefetch('iph-order-select'),
  };
}

function orderSignRequest(): Json {
  return {
    hook: 'order-sign',
    hookInstance: randomUUID(),
    context: {
      userId: 'Practitioner/dr-1',
      patientId: 'pat-1',
      draftOrders: { resourceType: 'Bundle', type: 'collection', entry: [{ resource: draftMedicationRequest('draft-1') }] },
    },
    prefetch: fullPrefetch('iph-order-sign'),
  };
}

/** Deep-ish merge for building variants: `undefined` deletes a member. */
function withChanges(base: Json, changes: Json): Json {
  const out: Json = { ...base };
  for (const [k, v] of Object.entries(changes)) {
    if (v === undefined) delete out[k];
    else if (v && typeof v === 'object' && !Array.isArray(v) && out[k] && typeof out[k] === 'object' && !Array.isArray(out[k])) out[k] = withChanges(out[k] as Json, v as Json);
    else out[k] = v;
  }
  return out;
}

/** JSON text of objects nested `depth` levels deep (built as text: JSON.stringify itself overflows the stack). */
function nestedObjects(depth: number): string {
  return `${'{"a":'.repeat(depth)}"x"${'}'.repeat(depth)}`;
}

function nestedArrays(depth: number): string {
  return `${'['.repeat(depth)}${']'.repeat(depth)}`;
}

const RAW = '__raw_json_goes_here__';

/** The JSON text of `body` with the string RAW replaced by raw JSON text. */
function spliceRaw(body: Json, raw: string): string {
  return JSON.stringify(body).replace(`"${RAW}"`, raw);
}

/** A request whose prefetch key is replaced as a whole (not merged). */
function withPrefetchValue(build: () => Json, key: string, value: unknown): Json {
  const body = build();
  (body.prefetch as Json)[key] = value;
  return body;
}

interface OutcomeIssue {
  severity: string;
  code: string;
  diagnostics: string;
  expression?: string[];
}

/** Asserts an OperationOutcome response and returns its issues. */
function expectOutcome(res: request.Response, status: number): OutcomeIssue[] {
  expect(res.status).toBe(status);
  expect(res.headers['content-type']).toMatch(/^application\/fhir\+json/);
  const body = JSON.parse(res.text) as { resourceType?: string; issue?: OutcomeIssue[] };
  expect(body.resourceType).toBe('OperationOutcome');
  expect(Array.isArray(body.issue) && body.issue.length > 0).toBe(true);
  for (const issue of body.issue ?? []) {
    expect(issue.severity).toMatch(/^(error|fatal)$/);
    expect(typeof issue.code).toBe('string');
    expect(typeof issue.diagnostics).toBe('string');
  }
  return body.issue ?? [];
}

function issueText(issues: OutcomeIssue[]): string {
  return issues.map((i) => `${i.diagnostics} ${(i.expression ?? []).join(' ')}`).join('\n');
}

describe('discovery', () => {
  test('GET /cds-services lists the three services with hook, title, description, id and prefetch', async () => {
    const res = await request(app).get('/cds-services');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    const services = (res.body as { services: Json[] }).services;
    expect(services.map((s) => s.id).sort()).toEqual(SERVICE_IDS);
    for (const s of services) {
      const def = registry.services.get(s.id as string);
      expect(s.hook).toBe(def?.hook);
      expect(typeof s.title).toBe('string');
      expect((s.title as string).length).toBeGreaterThan(0);
      expect(typeof s.description).toBe('string');
      expect((s.description as string).length).toBeGreaterThan(0);
      // Prefetch is key -> query string, exactly the service's templates.
      const prefetch = s.prefetch as Record<string, string>;
      expect(Object.keys(prefetch).sort()).toEqual(Object.keys(def?.prefetch ?? {}).sort());
      for (const [key, query] of Object.entries(prefetch)) expect(query).toBe(def?.prefetch[key]?.query);
      expect(prefetch.patient).toBe('Patient/{{context.patientId}}');
      // Only the discovery members of CDS Hooks 2.0.
      for (const k of Object.keys(s)) expect(['hook', 'title', 'description', 'id', 'prefetch', 'usageRequirements']).toContain(k);
    }
    expect(services.find((s) => s.id === 'iph-patient-view')?.hook).toBe('patient-view');
    expect(services.find((s) => s.id === 'iph-order-select')?.hook).toBe('order-select');
    expect(services.find((s) => s.id === 'iph-order-sign')?.hook).toBe('order-sign');
  });

  test('discovery never leaks expressions, card templates or value sets', async () => {
    const res = await request(app).get('/cds-services');
    const text = res.text;
    for (const leak of ['from(', 'memberOf(', 'usable()', 'withinDays', '{{%', 'expressions', '"cards"', '"when"', 'suggestionSets', 'ValueSet']) {
      expect(text).not.toContain(leak);
    }
    // Every token in the prefetch templates is a CDS Hooks 2.0 prefetch token.
    for (const m of text.matchAll(/\{\{([^}]*)\}\}/g)) expect(m[1]).toMatch(/^context\.[A-Za-z]+$|^user(Practitioner|PractitionerRole|Patient|RelatedPerson)Id$/);
  });
});

describe('hook calls that succeed', () => {
  test.each([
    ['iph-patient-view', patientViewRequest],
    ['iph-order-select', orderSelectRequest],
    ['iph-order-sign', orderSignRequest],
  ] as const)('%s answers 200 {cards: [...]} as application/json', async (id, build) => {
    const res = await request(app).post(`/cds-services/${id}`).send(build());
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(Array.isArray((res.body as Json).cards)).toBe(true);
  });

  test('application/*+json bodies are accepted too', async () => {
    const res = await request(app).post('/cds-services/iph-patient-view').set('Content-Type', 'application/fhir+json').send(JSON.stringify(patientViewRequest()));
    expect(res.status).toBe(200);
  });

  test('a request without a prefetch member whose required keys come from nowhere is a 412, not a crash', async () => {
    const body = withChanges(patientViewRequest(), { prefetch: undefined });
    const issues = expectOutcome(await request(app).post('/cds-services/iph-patient-view').send(body), 412);
    expect(issueText(issues)).toContain('patient');
    expect(issueText(issues)).toContain('conditions');
  });
});

describe('every error status is an OperationOutcome', () => {
  test('400: malformed JSON', async () => {
    const res = await request(app).post('/cds-services/iph-patient-view').set('Content-Type', 'application/json').send('{"hook": "patient-view",');
    const issues = expectOutcome(res, 400);
    expect(issues[0]?.diagnostics).toMatch(/not valid JSON/);
  });

  test('400: an invalid request names the bad path', async () => {
    const body = withChanges(patientViewRequest(), { context: { patientId: 42 } });
    const issues = expectOutcome(await request(app).post('/cds-services/iph-patient-view').send(body), 400);
    expect(issues.some((i) => i.expression?.includes('context.patientId'))).toBe(true);
  });

  test('400: several problems are listed at once', async () => {
    const body = { hook: 'patient-view', hookInstance: 'nope', context: { userId: 7 } };
    const issues = expectOutcome(await request(app).post('/cds-services/iph-patient-view').send(body), 400);
    const where = issues.flatMap((i) => i.expression ?? []);
    expect(where).toEqual(expect.arrayContaining(['hookInstance', 'context.userId', 'context.patientId']));
  });

  test('404: unknown service (POST)', async () => {
    const issues = expectOutcome(await request(app).post('/cds-services/no-such-service').send(patientViewRequest()), 404);
    expect(issues[0]?.code).toBe('not-found');
    expect(issues[0]?.diagnostics).toContain('no-such-service');
  });

  test('404: unknown service (feedback)', async () => {
    const res = await request(app).post('/cds-services/no-such-service/feedback').send({ feedback: [] });
    expect(expectOutcome(res, 404)[0]?.code).toBe('not-found');
  });

  test('404: unknown service even with a body that is not JSON', async () => {
    expectOutcome(await request(app).post('/cds-services/no-such-service').set('Content-Type', 'text/plain').send('hello'), 404);
  });

  test.each([
    ['GET', '/'],
    ['GET', '/nope'],
    ['GET', '/cds-services/iph-patient-view/other'],
    ['POST', '/cds-services/iph-patient-view/feedback/extra'],
    ['GET', '/cds-services/no-such-service'],
  ])('404: %s %s', async (method, url) => {
    const res = method === 'GET' ? await request(app).get(url) : await request(app).post(url).send({});
    expect(expectOutcome(res, 404)[0]?.code).toBe('not-found');
  });

  test.each([
    ['PUT', '/cds-services/iph-patient-view', 'POST'],
    ['DELETE', '/cds-services/iph-patient-view', 'POST'],
    ['GET', '/cds-services/iph-patient-view', 'POST'],
    ['PATCH', '/cds-services/iph-order-sign', 'POST'],
    ['GET', '/cds-services/iph-patient-view/feedback', 'POST'],
    ['DELETE', '/cds-services/iph-order-select/feedback', 'POST'],
    ['POST', '/cds-services', 'GET'],
    ['PUT', '/cds-services', 'GET'],
    ['DELETE', '/cds-services', 'GET'],
  ])('405: %s %s with Allow: %s', async (method, url, allow) => {
    const agent = request(app);
    const req =
      method === 'PUT' ? agent.put(url) : method === 'DELETE' ? agent.delete(url) : method === 'PATCH' ? agent.patch(url) : method === 'POST' ? agent.post(url) : agent.get(url);
    const res = await req;
    const issues = expectOutcome(res, 405);
    expect(res.headers.allow).toBe(allow);
    expect(issues[0]?.code).toBe('not-supported');
  });

  test('413: a body over CDS_BODY_LIMIT', async () => {
    const small = buildApp({}, { CDS_BODY_LIMIT: '2kb' });
    const body = withChanges(patientViewRequest(), { extension: { padding: 'x'.repeat(3000) } });
    const issues = expectOutcome(await request(small).post('/cds-services/iph-patient-view').send(body), 413);
    expect(issues[0]?.code).toBe('too-long');
    expect(issues[0]?.diagnostics).toContain('2048');
    // The same request under the limit is accepted.
    expect((await request(small).post('/cds-services/iph-patient-view').send(patientViewRequest())).status).toBe(200);
  });

  test('413 also applies to feedback bodies', async () => {
    const small = buildApp({}, { CDS_BODY_LIMIT: '2kb' });
    const feedback = { feedback: [{ card: randomUUID(), outcome: 'overridden', overrideReason: { userComment: 'y'.repeat(3000) }, outcomeTimestamp: '2026-01-01T00:00:00Z' }] };
    expectOutcome(await request(small).post('/cds-services/iph-patient-view/feedback').send(feedback), 413);
  });

  test.each([
    ['text/plain', 'hello'],
    ['application/xml', '<hook>patient-view</hook>'],
    ['application/x-www-form-urlencoded', 'hook=patient-view'],
  ])('415: %s', async (type, payload) => {
    const res = await request(app).post('/cds-services/iph-patient-view').set('Content-Type', type).send(payload);
    expect(expectOutcome(res, 415)[0]?.code).toBe('not-supported');
  });

  test('415: feedback as text/plain', async () => {
    expectOutcome(await request(app).post('/cds-services/iph-patient-view/feedback').set('Content-Type', 'text/plain').send('{}'), 415);
  });

  test('412: a required prefetch key that is absent, with no fhirServer, is named', async () => {
    const body = patientViewRequest();
    delete (body.prefetch as Json).conditions;
    const issues = expectOutcome(await request(app).post('/cds-services/iph-patient-view').send(body), 412);
    expect(issues).toHaveLength(1);
    expect(issues[0]?.code).toBe('required');
    expect(issues[0]?.diagnostics).toContain('"conditions"');
    expect(issues[0]?.expression).toEqual(['prefetch.conditions']);
  });

  test('412: a required key sent as an OperationOutcome is unobtainable too', async () => {
    const body = patientViewRequest();
    (body.prefetch as Json).patient = { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'exception' }] };
    const issues = expectOutcome(await request(app).post('/cds-services/iph-order-sign').send(withChanges(orderSignRequest(), { prefetch: body.prefetch })), 412);
    expect(issues.map((i) => i.expression?.[0])).toEqual(['prefetch.patient']);
  });

  test('500: an internal failure says nothing about it (no message, no stack)', async () => {
    const secret = 'SECRET-db-password-7f3a';
    const failing = buildApp({
      fetcher: () => {
        throw new Error(`connect failed with ${secret}`);
      },
    });
    const body = patientViewRequest();
    delete (body.prefetch as Json).observations;
    const res = await request(failing).post('/cds-services/iph-patient-view').send(body);
    const issues = expectOutcome(res, 500);
    expect(issues[0]?.code).toBe('exception');
    expect(res.text).not.toContain(secret);
    expect(res.text).not.toContain('connect failed');
    expect(res.text).not.toMatch(/\bat \S+ \(|\.ts:\d+|node_modules|Error:/);
  });

  test('500 from a fetcher that rejects asynchronously is also contained', async () => {
    const secret = 'SECRET-token-abc123';
    const failing = buildApp({ fetcher: async () => Promise.reject(new TypeError(secret)) });
    const body = patientViewRequest();
    delete (body.prefetch as Json).reports;
    const res = await request(failing).post('/cds-services/iph-patient-view').send(body);
    expectOutcome(res, 500);
    expect(res.text).not.toContain(secret);
    // The server is still up.
    expect((await request(failing).get('/cds-services')).status).toBe(200);
  });
});

describe('CORS', () => {
  test('preflight: 204 with allow-origin, allow-methods and allow-headers for Authorization and Content-Type', async () => {
    const res = await request(app)
      .options('/cds-services/iph-patient-view')
      .set('Origin', 'https://sandbox.cds-hooks.org')
      .set('Access-Control-Request-Method', 'POST')
      .set('Access-Control-Request-Headers', 'authorization,content-type');
    expect(res.status).toBe(204);
    expect(res.headers['access-control-allow-origin']).toBe('*');
    const headers = String(res.headers['access-control-allow-headers']).toLowerCase().split(/\s*,\s*/);
    expect(headers).toEqual(expect.arrayContaining(['authorization', 'content-type']));
    expect(String(res.headers['access-control-allow-methods'])).toContain('POST');
  });

  test('preflight on discovery and feedback', async () => {
    for (const url of ['/cds-services', '/cds-services/iph-order-sign/feedback']) {
      const res = await request(app).options(url).set('Origin', 'https://ehr.example.org').set('Access-Control-Request-Method', 'POST').set('Access-Control-Request-Headers', 'content-type');
      expect(res.status).toBe(204);
      expect(res.headers['access-control-allow-origin']).toBe('*');
    }
  });

  test('actual responses (200, 400, 404) carry Access-Control-Allow-Origin', async () => {
    const origin = 'https://sandbox.cds-hooks.org';
    const discovery = await request(app).get('/cds-services').set('Origin', origin);
    const call = await request(app).post('/cds-services/iph-patient-view').set('Origin', origin).send(patientViewRequest());
    const bad = await request(app).post('/cds-services/iph-patient-view').set('Origin', origin).send({});
    const missing = await request(app).get('/nope').set('Origin', origin);
    expect([discovery.status, call.status, bad.status, missing.status]).toEqual([200, 200, 400, 404]);
    for (const res of [discovery, call, bad, missing]) expect(res.headers['access-control-allow-origin']).toBe('*');
  });

  test('with CDS_CORS_ORIGINS, only listed origins are allowed', async () => {
    const strict = buildApp({}, { CDS_CORS_ORIGINS: 'https://ehr.example.org' });
    const allowed = await request(strict).options('/cds-services/iph-patient-view').set('Origin', 'https://ehr.example.org').set('Access-Control-Request-Method', 'POST');
    expect(allowed.status).toBe(204);
    expect(allowed.headers['access-control-allow-origin']).toBe('https://ehr.example.org');
    const other = await request(strict).get('/cds-services').set('Origin', 'https://evil.example.com');
    expect(other.headers['access-control-allow-origin']).toBeUndefined();
  });
});

describe('feedback', () => {
  const valid = (accepted: { card: string; suggestions: string[] }, overridden: { card: string }) => ({
    feedback: [
      { card: accepted.card, outcome: 'accepted', acceptedSuggestions: [{ id: accepted.suggestions[0] }], outcomeTimestamp: '2026-06-15T12:00:00Z' },
      {
        card: overridden.card,
        outcome: 'overridden',
        overrideReason: { reason: { system: 'https://iph-cds.dev/fhir/CodeSystem/override', code: 'done-elsewhere', display: 'Done elsewhere' }, userComment: 'Sent out' },
        outcomeTimestamp: '2026-06-15T12:01:00+02:00',
      },
    ],
  });

  test('valid feedback on served cards -> 200 and it is stored (a resend stores nothing new)', async () => {
    const deps = memoryStorage();
    const withStore = buildApp(deps);
    const body = valid(await serveCard(deps.storage, 'iph-order-sign'), await serveCard(deps.storage, 'iph-order-sign', 0));
    const res = await request(withStore).post('/cds-services/iph-order-sign/feedback').send(body);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    const rows = await deps.storage.outcomeRows({ since: 0, until: Date.now() + 1000 });
    expect(rows.topics).toEqual([{ service: 'iph-order-sign', topic: 'test-topic', served: 2, accepted: 1, overridden: 1 }]);
    expect((await request(withStore).post('/cds-services/iph-order-sign/feedback').send(body)).status).toBe(200);
    expect((await deps.storage.outcomeRows({ since: 0, until: Date.now() + 1000 })).topics).toEqual(rows.topics);
  });

  test.each([
    ['empty object', {}, 'feedback'],
    ['feedback not an array', { feedback: { card: 'x' } }, 'feedback'],
    ['empty feedback array', { feedback: [] }, 'feedback'],
    ['missing outcomeTimestamp', { feedback: [{ card: 'c1', outcome: 'overridden' }] }, 'feedback[0].outcomeTimestamp'],
    ['unknown outcome', { feedback: [{ card: 'c1', outcome: 'ignored', outcomeTimestamp: '2026-06-15T12:00:00Z' }] }, 'feedback[0].outcome'],
    ['accepted without acceptedSuggestions', { feedback: [{ card: 'c1', outcome: 'accepted', outcomeTimestamp: '2026-06-15T12:00:00Z' }] }, 'feedback[0].acceptedSuggestions'],
    ['timestamp without a zone', { feedback: [{ card: 'c1', outcome: 'overridden', outcomeTimestamp: '2026-06-15T12:00:00' }] }, 'feedback[0].outcomeTimestamp'],
    ['override reason coding without system', { feedback: [{ card: 'c1', outcome: 'overridden', overrideReason: { reason: { code: 'x' } }, outcomeTimestamp: '2026-06-15T12:00:00Z' }] }, 'feedback[0].overrideReason.reason.system'],
    ['array body', [{ card: 'c1' }], ''],
  ])('invalid feedback (%s) -> 400 OperationOutcome', async (_name, body, where) => {
    const res = await request(app).post('/cds-services/iph-patient-view/feedback').send(body as object);
    const issues = expectOutcome(res, 400);
    if (where) expect(issueText(issues)).toContain(where);
  });

  test('malformed JSON feedback -> 400', async () => {
    expectOutcome(await request(app).post('/cds-services/iph-patient-view/feedback').set('Content-Type', 'application/json').send('{"feedback": ['), 400);
  });
});

// --- malformed input: every row is a 400 OperationOutcome, never a 500 ----------------------------------------

interface MalformedCase {
  name: string;
  service: string;
  /** A JSON value to send, or raw text (sent as application/json). */
  body?: unknown;
  raw?: string;
  /** Something an issue's diagnostics or expression must mention. */
  mentions?: string;
}

const pv = 'iph-patient-view';
const ose = 'iph-order-select';
const osn = 'iph-order-sign';

function pvWith(changes: Json): Json {
  return withChanges(patientViewRequest(), changes);
}

const MALFORMED: MalformedCase[] = [
  { name: 'truncated JSON', service: pv, raw: '{"hook": "patient-view", "context": {' },
  { name: 'JSON with a trailing comma', service: pv, raw: '{"hook": "patient-view",}' },
  { name: 'a bare string', service: pv, raw: '"patient-view"' },
  { name: 'a bare number', service: pv, raw: '42' },
  { name: 'null', service: pv, raw: 'null' },
  { name: 'an empty body with a JSON content type', service: pv, raw: '' },
  { name: 'an array body', service: pv, body: [patientViewRequest()] },
  { name: 'an empty array body', service: pv, body: [] },
  { name: 'an empty object', service: pv, body: {}, mentions: 'hook' },
  { name: 'missing hook', service: pv, body: pvWith({ hook: undefined }), mentions: 'hook' },
  { name: 'missing hookInstance', service: pv, body: pvWith({ hookInstance: undefined }), mentions: 'hookInstance' },
  { name: 'missing context', service: pv, body: pvWith({ context: undefined }), mentions: 'context' },
  { name: 'hook is a number', service: pv, body: pvWith({ hook: 7 }), mentions: 'hook' },
  { name: 'hook is an empty string', service: pv, body: pvWith({ hook: '' }), mentions: 'hook' },
  { name: 'wrong hook for the service (order-sign to patient-view)', service: pv, body: pvWith({ hook: 'order-sign' }), mentions: 'hook' },
  { name: 'wrong hook for the service (patient-view to order-select)', service: ose, body: patientViewRequest(), mentions: 'hook' },
  { name: 'hookInstance is not a UUID', service: pv, body: pvWith({ hookInstance: 'instance-1' }), mentions: 'hookInstance' },
  { name: 'hookInstance is a number', service: pv, body: pvWith({ hookInstance: 12345 }), mentions: 'hookInstance' },
  { name: 'context is an array', service: pv, body: pvWith({ context: [] }), mentions: 'context' },
  { name: 'context is a string', service: pv, body: pvWith({ context: 'Patient/pat-1' }), mentions: 'context' },
  { name: 'context.patientId missing', service: pv, body: withChanges(patientViewRequest(), { context: { patientId: undefined } }), mentions: 'context.patientId' },
  { name: 'context.userId missing', service: pv, body: withChanges(patientViewRequest(), { context: { userId: undefined } }), mentions: 'context.userId' },
  { name: 'context.patientId is a number', service: pv, body: pvWith({ context: { patientId: 1 } }), mentions: 'context.patientId' },
  { name: 'context.patientId is a reference, not an id', service: pv, body: pvWith({ context: { patientId: 'Patient/pat-1' } }), mentions: 'context.patientId' },
  { name: 'context.userId is not a reference', service: pv, body: pvWith({ context: { userId: 'dr-1' } }), mentions: 'context.userId' },
  { name: 'context.userId names a Patient on an order hook', service: osn, body: withChanges(orderSignRequest(), { context: { userId: 'Patient/pat-1' } }), mentions: 'context.userId' },
  { name: 'a huge patientId (200,000 characters)', service: pv, body: pvWith({ context: { patientId: 'p'.repeat(200_000) } }), mentions: 'context.patientId' },
  { name: 'a huge hook string', service: pv, body: pvWith({ hook: 'h'.repeat(200_000) }), mentions: 'hook' },
  { name: 'a huge hookInstance', service: pv, body: pvWith({ hookInstance: 'a'.repeat(200_000) }), mentions: 'hookInstance' },
  { name: 'fhirServer is not a URL', service: pv, body: pvWith({ fhirServer: 'not a url' }), mentions: 'fhirServer' },
  { name: 'fhirServer is a file: URL', service: pv, body: pvWith({ fhirServer: 'file:///etc/passwd' }), mentions: 'fhirServer' },
  { name: 'fhirAuthorization without fhirServer', service: pv, body: pvWith({ fhirAuthorization: { access_token: 't', token_type: 'Bearer', expires_in: 300, scope: 'patient/*.read', subject: 'cds' } }), mentions: 'fhirServer' },
  { name: 'fhirAuthorization missing access_token', service: pv, body: pvWith({ fhirServer: 'https://fhir.example.org/r4', fhirAuthorization: { token_type: 'Bearer', expires_in: 300, scope: 'patient/*.read', subject: 'cds' } }), mentions: 'fhirAuthorization.access_token' },
  { name: 'fhirAuthorization.expires_in is a string', service: pv, body: pvWith({ fhirServer: 'https://fhir.example.org/r4', fhirAuthorization: { access_token: 't', token_type: 'Bearer', expires_in: '300', scope: 'patient/*.read', subject: 'cds' } }), mentions: 'fhirAuthorization.expires_in' },
  { name: 'prefetch is an array', service: pv, body: pvWith({ prefetch: [] }), mentions: 'prefetch' },
  { name: 'prefetch is a string', service: pv, body: pvWith({ prefetch: 'Patient/pat-1' }), mentions: 'prefetch' },
  { name: 'a prefetch value is a number', service: pv, body: withPrefetchValue(patientViewRequest, 'patient', 42), mentions: 'prefetch.patient' },
  { name: 'a prefetch value is a string', service: pv, body: withPrefetchValue(patientViewRequest, 'conditions', 'none'), mentions: 'prefetch.conditions' },
  { name: 'a prefetch value is an array', service: pv, body: withPrefetchValue(patientViewRequest, 'conditions', []), mentions: 'prefetch.conditions' },
  { name: 'a prefetch value is true', service: pv, body: withPrefetchValue(patientViewRequest, 'reports', true), mentions: 'prefetch.reports' },
  { name: 'a prefetch value without resourceType', service: pv, body: withPrefetchValue(patientViewRequest, 'observations', { type: 'searchset', entry: [] }), mentions: 'prefetch.observations' },
  { name: 'a prefetch value with a lower-case resourceType', service: pv, body: withPrefetchValue(patientViewRequest, 'patient', { resourceType: 'patient', id: 'pat-1' }), mentions: 'prefetch.patient' },
  { name: 'a prefetch value nested 1,000 levels deep', service: pv, raw: spliceRaw(withPrefetchValue(patientViewRequest, 'observations', { resourceType: 'Bundle', entry: [RAW] }), nestedObjects(1000)), mentions: 'prefetch.observations' },
  { name: 'arrays nested 100,000 levels deep in extension', service: pv, raw: spliceRaw(pvWith({ extension: { x: RAW } }), nestedArrays(100_000)), mentions: 'extension.x' },
  { name: 'a context member nested 5,000 levels deep', service: pv, raw: spliceRaw(pvWith({ context: { deep: RAW } }), nestedObjects(5000)), mentions: 'context.deep' },
  { name: 'extension is an array', service: pv, body: pvWith({ extension: ['x'] }), mentions: 'extension' },
  { name: 'prototype pollution keys only', service: pv, raw: '{"__proto__": {"hook": "patient-view", "polluted": true}, "constructor": {"prototype": {"polluted": true}}}', mentions: 'hook' },
  { name: 'order-select: a selection that is not in draftOrders', service: ose, body: withChanges(orderSelectRequest(), { context: { selections: ['MedicationRequest/draft-2'] } }), mentions: 'context.selections[0]' },
  { name: 'order-select: a selection of another resource type', service: ose, body: withChanges(orderSelectRequest(), { context: { selections: ['ServiceRequest/draft-1'] } }), mentions: 'context.selections[0]' },
  { name: 'order-select: empty selections', service: ose, body: withChanges(orderSelectRequest(), { context: { selections: [] } }), mentions: 'context.selections' },
  { name: 'order-select: selections is a string', service: ose, body: withChanges(orderSelectRequest(), { context: { selections: 'MedicationRequest/draft-1' } }), mentions: 'context.selections' },
  { name: 'order-select: a selection that is not a reference', service: ose, body: withChanges(orderSelectRequest(), { context: { selections: ['draft-1'] } }), mentions: 'context.selections[0]' },
  { name: 'order-select: missing draftOrders', service: ose, body: withChanges(orderSelectRequest(), { context: { draftOrders: undefined } }), mentions: 'context.draftOrders' },
  { name: 'order-select: draftOrders is not a Bundle', service: ose, body: withChanges(orderSelectRequest(), { context: { draftOrders: { resourceType: 'List', entry: [] } } }), mentions: 'context.draftOrders.resourceType' },
  { name: 'order-sign: draftOrders.entry is an object', service: osn, body: withChanges(orderSignRequest(), { context: { draftOrders: { resourceType: 'Bundle', entry: { resource: draftMedicationRequest('d') } } } }), mentions: 'context.draftOrders.entry' },
  { name: 'order-sign: a draft entry without a resource', service: osn, body: withChanges(orderSignRequest(), { context: { draftOrders: { resourceType: 'Bundle', entry: [{ fullUrl: 'urn:uuid:1' }] } } }), mentions: 'context.draftOrders.entry[0].resource' },
  { name: 'order-sign: a draft resource without resourceType', service: osn, body: withChanges(orderSignRequest(), { context: { draftOrders: { resourceType: 'Bundle', entry: [{ resource: { id: 'x' } }] } } }), mentions: 'context.draftOrders.entry[0].resource.resourceType' },
  { name: 'order-sign: draftOrders is a string', service: osn, body: withChanges(orderSignRequest(), { context: { draftOrders: 'Bundle/1' } }), mentions: 'context.draftOrders' },
];

function sendMalformed(agent: ReturnType<typeof request>, c: MalformedCase): request.Test {
  const req = agent.post(`/cds-services/${c.service}`).set('Content-Type', 'application/json');
  return c.raw !== undefined ? req.send(c.raw) : req.send(JSON.stringify(c.body));
}

describe('malformed input: always 400 with an OperationOutcome', () => {
  test('the table has at least 30 cases', () => {
    expect(MALFORMED.length).toBeGreaterThanOrEqual(30);
  });

  test.each(MALFORMED.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    const res = await sendMalformed(request(app), c);
    const issues = expectOutcome(res, 400);
    if (c.mentions) expect(issueText(issues)).toContain(c.mentions);
    // Never echo a huge input back.
    expect(res.text.length).toBeLessThan(20_000);
  });

  test('the prototype-pollution row did not pollute Object.prototype', async () => {
    const c = MALFORMED.find((m) => m.name === 'prototype pollution keys only') as MalformedCase;
    await sendMalformed(request(app), c);
    expect(({} as Json).polluted).toBeUndefined();
    expect(({} as Json).hook).toBeUndefined();
  });

  test('the whole table fired concurrently: every answer is 400 and discovery still answers 200', async () => {
    const server: Server = await new Promise((resolve) => {
      const s = app.listen(0, '127.0.0.1', () => resolve(s));
    });
    try {
      const { port } = server.address() as AddressInfo;
      const base = `http://127.0.0.1:${port}`;
      const statuses = await Promise.all(MALFORMED.map(async (c) => (await sendMalformed(request(base), c)).status));
      expect(statuses).toEqual(MALFORMED.map(() => 400));
      const discovery = await request(base).get('/cds-services');
      expect(discovery.status).toBe(200);
      const call = await request(base).post('/cds-services/iph-patient-view').send(patientViewRequest());
      expect(call.status).toBe(200);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});

// --- odd but schema-valid data: tolerated (200), never a 500 ----------------------------------------------------

const ODD: [string, string, () => Json][] = [
  ['patient with a numeric birthDate', pv, () => withPrefetchValue(patientViewRequest, 'patient', { resourceType: 'Patient', id: 'pat-1', birthDate: 20160501 })],
  ['patient with a partial birthDate', pv, () => withPrefetchValue(patientViewRequest, 'patient', { resourceType: 'Patient', id: 'pat-1', birthDate: '2016' })],
  ['patient null (no data)', pv, () => withPrefetchValue(patientViewRequest, 'patient', null)],
  ['a Bundle with null and empty entries', pv, () => withPrefetchValue(patientViewRequest, 'conditions', { resourceType: 'Bundle', entry: [null, {}, { resource: null }, { resource: 'x' }] })],
  ['a Bundle whose entry is not an array', pv, () => withPrefetchValue(patientViewRequest, 'conditions', { resourceType: 'Bundle', entry: { resource: {} } })],
  ['a Condition with coding as an object and odd dates', pv, () => withPrefetchValue(patientViewRequest, 'conditions', { resourceType: 'Bundle', entry: [{ resource: { resourceType: 'Condition', code: { coding: { system: 'http://hl7.org/fhir/sid/icd-10-cm', code: 'J84.03' } }, onsetDateTime: 5, recordedDate: 'yesterday' } }] })],
  ['an IPH Condition with clinicalStatus as a string', pv, () => withPrefetchValue(patientViewRequest, 'conditions', { resourceType: 'Bundle', entry: [{ resource: { resourceType: 'Condition', clinicalStatus: 'active', code: { coding: [{ system: 'http://hl7.org/fhir/sid/icd-10-cm', code: 'J84.03' }] }, onsetDateTime: '2026-01-01' } }] })],
  ['observations with odd values', pv, () => withPrefetchValue(patientViewRequest, 'observations', { resourceType: 'Bundle', entry: [
    { resource: { resourceType: 'Observation', status: 'final', code: { coding: [{ system: 'http://loinc.org', code: '718-7' }] }, valueQuantity: { value: 'abc', unit: 'g/dL' }, effectiveDateTime: '2026-01-01' } },
    { resource: { resourceType: 'Observation', status: 'final', code: { coding: [{ system: 'http://loinc.org', code: '718-7' }] }, valueQuantity: { value: 9, unit: 'furlongs' }, effectiveDateTime: '2026-01-02' } },
    { resource: { resourceType: 'Observation', status: 'final', code: { coding: [{ system: 'http://loinc.org', code: '2276-4' }] }, valueQuantity: { value: 5 }, interpretation: { coding: [{ code: 'L' }] }, effectiveDateTime: '2026-13-45' } },
    { resource: { resourceType: 'Observation', status: 'final', code: { coding: [{ system: 'http://loinc.org', code: '8061-4' }] }, valueString: 42, referenceRange: 'normal' } },
  ] })],
  ['a MedicationRequest referencing a missing contained Medication', osn, () => withChanges(orderSignRequest(), { context: { draftOrders: { resourceType: 'Bundle', entry: [{ resource: { resourceType: 'MedicationRequest', id: 'd1', status: 'draft', intent: 'order', medicationReference: { reference: '#nope' }, contained: 'x' } }] } } })],
  ['a draft NutritionOrder with odd oralDiet', osn, () => withChanges(orderSignRequest(), { context: { draftOrders: { resourceType: 'Bundle', entry: [{ resource: { resourceType: 'NutritionOrder', id: 'n1', status: 'draft', intent: 'order', oralDiet: { type: 'gluten-free' } } }] } } })],
  ['a draft ServiceRequest with code as a string', ose, () => withChanges(orderSelectRequest(), { context: { selections: ['ServiceRequest/s1'], draftOrders: { resourceType: 'Bundle', entry: [{ resource: { resourceType: 'ServiceRequest', id: 's1', status: 'draft', intent: 'order', code: 'BAL' } }] } } })],
  ['an unknown context member and extension', pv, () => pvWith({ context: { foo: { bar: [1, 2, 3] } }, extension: { 'org.example.flag': true } })],
];

describe('odd but schema-valid data is tolerated', () => {
  test.each(ODD)('%s -> 200 with cards', async (_name, service, build) => {
    const res = await request(app).post(`/cds-services/${service}`).send(build());
    expect({ status: res.status, text: res.status === 200 ? '' : res.text }).toEqual({ status: 200, text: '' });
    expect(Array.isArray((res.body as Json).cards)).toBe(true);
  });
});
