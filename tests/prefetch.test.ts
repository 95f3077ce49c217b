// The four prefetch states (cds-hooks.md §3.4) through resolvePrefetch (src/fhir/prefetch.ts) and over HTTP:
// present -> used; null -> no data; OperationOutcome (or a Bundle carrying an error outcome) -> unavailable;
// absent -> fetched when a fetcher is configured, else unavailable; required and unavailable -> 412.
import path from 'node:path';
import type { FhirResource } from 'fhir/r4';
import request from 'supertest';
import { createApp, type AppDeps } from '../src/http/app';
import { readConfig } from '../src/service';
import { loadRegistry } from '../src/definitions/load';
import { type ServiceDefinition } from '../src/definitions/types';
import { HttpError } from '../src/errors';
import type { HookRequest } from '../src/cds-hooks';
import { memoryStorage } from './helpers/test-storage';
import { createLogger } from '../src/logger';
import { prefetchProblem, resolvePrefetch, type KeyFetchOutcome, type PrefetchFetcher } from '../src/fhir/prefetch';
import { renderPrefetchTemplate } from '../src/fhir/client';
import { searchResources } from '../src/fhir/search';
import { buildRequest, loadPatientResources, type GoldenCase } from './helpers/golden';

type Json = Record<string, unknown>;

const registry = loadRegistry(path.join(__dirname, '..', 'cds-services'));
const patientView = registry.services.get('iph-patient-view') as ServiceDefinition;
const log = createLogger({ level: 'silent' });

const ERROR_OUTCOME = { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'exception', diagnostics: 'upstream search failed' }] };
const EMPTY_SEARCH = { resourceType: 'Bundle', type: 'searchset', total: 0, entry: [] };
const PATIENT = { resourceType: 'Patient', id: 'pat-1', birthDate: '2017-03-10' };

function hookRequest(prefetch?: Record<string, unknown>, extra: Json = {}): HookRequest {
  return {
    hook: 'patient-view',
    hookInstance: 'd1577c69-dfbe-44ad-ba6d-3e05e953b2ea',
    context: { userId: 'Practitioner/dr-1', patientId: 'pat-1' },
    ...(prefetch ? { prefetch } : {}),
    ...extra,
  } as HookRequest;
}

/** Every key of the service answered with an empty search, the patient with PATIENT. */
function allKeys(): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(patientView.prefetch)) out[key] = EMPTY_SEARCH;
  out.patient = PATIENT;
  return out;
}

function without(values: Record<string, unknown>, ...keys: string[]): Record<string, unknown> {
  const out = { ...values };
  for (const k of keys) delete out[k];
  return out;
}

async function expect412(promise: Promise<unknown>): Promise<HttpError> {
  let error: unknown;
  try {
    await promise;
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(HttpError);
  const e = error as HttpError;
  expect(e.status).toBe(412);
  return e;
}

describe('the service declares which keys are required', () => {
  test('patient and conditions are required, the rest optional', () => {
    const required = Object.entries(patientView.prefetch).filter(([, p]) => p.required).map(([k]) => k).sort();
    expect(required).toEqual(['conditions', 'patient']);
    expect(Object.keys(patientView.prefetch)).toEqual(expect.arrayContaining(['observations', 'reports', 'procedures']));
  });
});

describe('resolvePrefetch: the four states', () => {
  test('present: a resource or searchset Bundle is used as sent', async () => {
    const prefetch = allKeys();
    const obs = { resourceType: 'Bundle', type: 'searchset', entry: [{ resource: { resourceType: 'Observation', id: 'o1', status: 'final' } }] };
    prefetch.observations = obs;
    const r = await resolvePrefetch(patientView, hookRequest(prefetch));
    expect(r.unavailable).toEqual({});
    expect(r.values.patient).toBe(PATIENT);
    expect(r.values.observations).toBe(obs);
    expect(Object.keys(r.values).sort()).toEqual(Object.keys(patientView.prefetch).sort());
  });

  test('null: no data, not unavailable, and never re-fetched', async () => {
    const fetcher = jest.fn<ReturnType<PrefetchFetcher>, Parameters<PrefetchFetcher>>(async () => ({}));
    const prefetch = { ...allKeys(), observations: null, reports: null, conditions: null };
    const r = await resolvePrefetch(patientView, hookRequest(prefetch), fetcher);
    expect(r.values.observations).toBeNull();
    expect(r.values.conditions).toBeNull();
    expect(r.unavailable).toEqual({});
    expect(fetcher).not.toHaveBeenCalled();
  });

  test('an OperationOutcome: unavailable, with a reason', async () => {
    const r = await resolvePrefetch(patientView, hookRequest({ ...allKeys(), observations: ERROR_OUTCOME }));
    expect(Object.keys(r.unavailable)).toEqual(['observations']);
    expect(r.unavailable.observations).toMatch(/OperationOutcome|error/);
    expect(r.values).not.toHaveProperty('observations');
  });

  test('a Bundle with an OperationOutcome entry of severity error: unavailable', async () => {
    const bundle = {
      resourceType: 'Bundle',
      type: 'searchset',
      entry: [
        { resource: { resourceType: 'Observation', id: 'o1', status: 'final' } },
        { resource: ERROR_OUTCOME, search: { mode: 'outcome' } },
      ],
    };
    const r = await resolvePrefetch(patientView, hookRequest({ ...allKeys(), reports: bundle }));
    expect(Object.keys(r.unavailable)).toEqual(['reports']);
    expect(r.values).not.toHaveProperty('reports');
  });

  test.each(['fatal', 'error'])('a Bundle entry outcome of severity %s makes the key unavailable', async (severity) => {
    const bundle = { resourceType: 'Bundle', entry: [{ resource: { resourceType: 'OperationOutcome', issue: [{ severity, code: 'too-costly' }] } }] };
    expect(prefetchProblem(bundle)).toBeDefined();
  });

  test.each(['warning', 'information'])('a Bundle whose outcome entry is only a %s is still used (outcome dropped)', async (severity) => {
    const bundle = {
      resourceType: 'Bundle',
      type: 'searchset',
      entry: [
        { resource: { resourceType: 'Observation', id: 'o1', status: 'final' } },
        { resource: { resourceType: 'OperationOutcome', issue: [{ severity, code: 'informational', diagnostics: 'results truncated' }] }, search: { mode: 'outcome' } },
      ],
    };
    const r = await resolvePrefetch(patientView, hookRequest({ ...allKeys(), observations: bundle }));
    expect(r.unavailable).toEqual({});
    expect(r.values.observations).toBe(bundle);
  });

  test('absent with no fetcher: unavailable (optional keys)', async () => {
    const r = await resolvePrefetch(patientView, hookRequest(without(allKeys(), 'observations', 'procedures')));
    expect(Object.keys(r.unavailable).sort()).toEqual(['observations', 'procedures']);
    expect(r.unavailable.observations).toMatch(/not prefetched/);
  });

  test('absent required key with no fetcher: 412 naming it (and only it)', async () => {
    const e = await expect412(resolvePrefetch(patientView, hookRequest(without(allKeys(), 'conditions', 'observations'))));
    expect(e.issues).toHaveLength(1);
    expect(e.issues[0]?.code).toBe('required');
    expect(e.issues[0]?.expression).toEqual(['prefetch.conditions']);
    expect(e.issues[0]?.diagnostics).toContain('"conditions"');
  });

  test('a required key sent as an OperationOutcome: 412', async () => {
    const e = await expect412(resolvePrefetch(patientView, hookRequest({ ...allKeys(), patient: ERROR_OUTCOME })));
    expect(e.issues.map((i) => i.expression?.[0])).toEqual(['prefetch.patient']);
  });

  test('no prefetch member at all: every key absent, both required keys named in the 412', async () => {
    const e = await expect412(resolvePrefetch(patientView, hookRequest(undefined)));
    expect(e.issues.map((i) => i.expression?.[0]).sort()).toEqual(['prefetch.conditions', 'prefetch.patient']);
  });

  test('a required key that is null is "no data", not a 412', async () => {
    const r = await resolvePrefetch(patientView, hookRequest({ ...allKeys(), conditions: null }));
    expect(r.values.conditions).toBeNull();
    expect(r.unavailable).toEqual({});
  });

  test('keys the service did not ask for are ignored', async () => {
    const r = await resolvePrefetch(patientView, hookRequest({ ...allKeys(), somethingElse: { resourceType: 'Patient', id: 'x' } }));
    expect(r.values).not.toHaveProperty('somethingElse');
  });
});

describe('resolvePrefetch with a fetcher', () => {
  test('only absent keys are fetched, with their query templates', async () => {
    const fetched = { resourceType: 'Bundle', type: 'searchset', entry: [] };
    const fetcher = jest.fn<ReturnType<PrefetchFetcher>, Parameters<PrefetchFetcher>>(async (_req, templates) =>
      Object.fromEntries(Object.keys(templates).map((k): [string, KeyFetchOutcome] => [k, { ok: true, value: fetched }])),
    );
    const req = hookRequest({ ...without(allKeys(), 'observations', 'conditions'), reports: null, procedures: ERROR_OUTCOME });
    const r = await resolvePrefetch(patientView, req, fetcher);
    expect(fetcher).toHaveBeenCalledTimes(1);
    const [calledWith, templates] = fetcher.mock.calls[0] as Parameters<PrefetchFetcher>;
    expect(calledWith).toBe(req);
    // Absent keys only: not the null one, and not the OperationOutcome one (the client already tried).
    expect(Object.keys(templates).sort()).toEqual(['conditions', 'observations']);
    expect(templates.conditions).toBe(patientView.prefetch.conditions?.query);
    expect(r.values.observations).toBe(fetched);
    expect(r.values.conditions).toBe(fetched);
    expect(r.values.reports).toBeNull();
    expect(Object.keys(r.unavailable)).toEqual(['procedures']);
  });

  test('a failed fetch makes an optional key unavailable with the fetcher’s reason', async () => {
    const fetcher: PrefetchFetcher = async (_req, templates) =>
      Object.fromEntries(Object.keys(templates).map((k): [string, KeyFetchOutcome] => [k, k === 'observations' ? { ok: false, reason: 'FHIR server answered 503' } : { ok: true, value: EMPTY_SEARCH }]));
    const r = await resolvePrefetch(patientView, hookRequest(without(allKeys(), 'observations', 'reports')), fetcher);
    expect(r.unavailable).toEqual({ observations: 'FHIR server answered 503' });
    expect(r.values.reports).toBe(EMPTY_SEARCH);
  });

  test('a fetched OperationOutcome, a non-resource, or a key the fetcher forgot: unavailable', async () => {
    const fetcher: PrefetchFetcher = async () => ({
      observations: { ok: true, value: ERROR_OUTCOME },
      reports: { ok: true, value: 'not a resource' },
    });
    const r = await resolvePrefetch(patientView, hookRequest(without(allKeys(), 'observations', 'reports', 'procedures')), fetcher);
    expect(Object.keys(r.unavailable).sort()).toEqual(['observations', 'procedures', 'reports']);
    expect(r.unavailable.procedures).toMatch(/not fetched/);
  });

  test('a failed fetch of a required key: 412', async () => {
    const fetcher: PrefetchFetcher = async (_req, templates) =>
      Object.fromEntries(Object.keys(templates).map((k): [string, KeyFetchOutcome] => [k, { ok: false, reason: 'no fhirServer in the request' }]));
    const e = await expect412(resolvePrefetch(patientView, hookRequest(without(allKeys(), 'patient')), fetcher));
    expect(e.issues[0]?.diagnostics).toContain('no fhirServer in the request');
    expect(e.issues[0]?.expression).toEqual(['prefetch.patient']);
  });
});

// --- over HTTP, on a patient with IPH context (ord-iph-child-untested: IPH Condition, no exclusion work-up) ----

const NOW = '2026-06-15T12:00:00Z';
const PATIENT_ID = 'ord-iph-child-untested';
const CASE: GoldenCase = { description: 'prefetch states', now: NOW, patient: PATIENT_ID, expect: { status: 200 } };

function buildApp(deps: Partial<AppDeps> = {}) {
  return createApp(registry, readConfig({ NODE_ENV: 'test' }), { log, ...memoryStorage(), ...deps });
}

const app = buildApp();

/** A fetcher that answers from the patient's fixture bundle, as a FHIR server would, except for `failing` keys. */
function fixtureFetcher(failing: string[] = []): jest.Mock<ReturnType<PrefetchFetcher>, Parameters<PrefetchFetcher>> {
  const resources: FhirResource[] = loadPatientResources(PATIENT_ID);
  return jest.fn(async (req, templates) => {
    const out: Record<string, KeyFetchOutcome> = {};
    for (const [key, template] of Object.entries(templates)) {
      if (failing.includes(key)) {
        out[key] = { ok: false, reason: 'FHIR server answered 500' };
        continue;
      }
      const query = renderPrefetchTemplate(template, req);
      const result = query ? searchResources(resources, query) : undefined;
      out[key] = result?.status === 200 ? { ok: true, value: result.body } : { ok: false, reason: 'search failed' };
    }
    return out;
  });
}

function fullBody(): Json {
  return buildRequest(patientView, CASE);
}

function withPrefetch(body: Json, key: string, value: unknown): Json {
  return { ...body, prefetch: { ...(body.prefetch as Json), [key]: value } };
}

function withoutPrefetch(body: Json, ...keys: string[]): Json {
  return { ...body, prefetch: without(body.prefetch as Json, ...keys) };
}

async function post(body: Json, target = app): Promise<request.Response> {
  jest.useFakeTimers({ now: new Date(NOW), doNotFake: ['nextTick', 'setImmediate', 'clearImmediate', 'setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'queueMicrotask', 'hrtime', 'performance'] });
  try {
    return await request(target).post('/cds-services/iph-patient-view').send(body);
  } finally {
    jest.useRealTimers();
  }
}

function topicsOf(res: request.Response): string[] {
  expect(res.status).toBe(200);
  return ((res.body as { cards: { source: { topic: { code: string } } }[] }).cards ?? []).map((c) => c.source.topic.code).sort();
}

function cardOf(res: request.Response, topic: string): Json | undefined {
  return ((res.body as { cards: Json[] }).cards ?? []).find((c) => ((c.source as Json).topic as Json).code === topic);
}

describe('over HTTP: the four states on a patient with IPH context', () => {
  test('all keys present: the work-up card, no data-unavailable card', async () => {
    const topics = topicsOf(await post(fullBody()));
    expect(topics).toContain('iph-exclusion-workup');
    expect(topics).not.toContain('data-unavailable');
  });

  test('observations null: no data, so cards are computed (work-up missing) and nothing is unavailable', async () => {
    const res = await post(withPrefetch(fullBody(), 'observations', null));
    const topics = topicsOf(res);
    expect(topics).toContain('iph-exclusion-workup');
    expect(topics).not.toContain('data-unavailable');
  });

  test('observations as an OperationOutcome: data-unavailable appears, the work-up card is suppressed', async () => {
    const res = await post(withPrefetch(fullBody(), 'observations', ERROR_OUTCOME));
    const topics = topicsOf(res);
    expect(topics).toContain('data-unavailable');
    expect(topics).not.toContain('iph-exclusion-workup');
    expect(String(cardOf(res, 'data-unavailable')?.detail)).toContain('Laboratory results (Observations)');
  });

  test('observations as a Bundle with an error OperationOutcome entry: the same as an OperationOutcome', async () => {
    const body = fullBody();
    const observations = (body.prefetch as Json).observations as { entry?: unknown[] };
    const withOutcome = { ...observations, entry: [...(observations.entry ?? []), { resource: ERROR_OUTCOME, search: { mode: 'outcome' } }] };
    const topics = topicsOf(await post(withPrefetch(body, 'observations', withOutcome)));
    expect(topics).toContain('data-unavailable');
    expect(topics).not.toContain('iph-exclusion-workup');
  });

  test('observations absent with no fhirServer and no fetcher: unavailable', async () => {
    const topics = topicsOf(await post(withoutPrefetch(fullBody(), 'observations')));
    expect(topics).toContain('data-unavailable');
    expect(topics).not.toContain('iph-exclusion-workup');
  });

  test('procedures unavailable: the work-up card is withheld too (it needs the echocardiogram)', async () => {
    const res = await post(withPrefetch(fullBody(), 'procedures', ERROR_OUTCOME));
    const topics = topicsOf(res);
    expect(topics).toContain('data-unavailable');
    expect(topics).not.toContain('iph-exclusion-workup');
    expect(String(cardOf(res, 'data-unavailable')?.detail)).toContain('Procedures');
  });

  test('required conditions absent: 412 naming the key', async () => {
    const res = await post(withoutPrefetch(fullBody(), 'conditions'));
    expect(res.status).toBe(412);
    expect(res.headers['content-type']).toMatch(/^application\/fhir\+json/);
    const outcome = JSON.parse(res.text) as { resourceType: string; issue: { expression?: string[]; diagnostics: string }[] };
    expect(outcome.resourceType).toBe('OperationOutcome');
    expect(outcome.issue.map((i) => i.expression?.[0])).toEqual(['prefetch.conditions']);
  });

  test('required patient sent as an OperationOutcome: 412 naming the key', async () => {
    const res = await post(withPrefetch(fullBody(), 'patient', ERROR_OUTCOME));
    expect(res.status).toBe(412);
    expect(res.text).toContain('prefetch.patient');
  });

  test('a fetcher: absent keys are fetched, and the answer equals the full-prefetch one', async () => {
    const full = topicsOf(await post(fullBody()));
    const fetcher = fixtureFetcher();
    const fetchingApp = buildApp({ fetcher });
    const res = await post(withoutPrefetch(fullBody(), 'observations', 'procedures', 'reports', 'conditions'), fetchingApp);
    expect(topicsOf(res)).toEqual(full);
    expect(fetcher).toHaveBeenCalledTimes(1);
    expect(Object.keys(fetcher.mock.calls[0]?.[1] ?? {}).sort()).toEqual(['conditions', 'observations', 'procedures', 'reports']);
  });

  test('a fetcher whose fetch of an optional key fails: that key is unavailable', async () => {
    const fetchingApp = buildApp({ fetcher: fixtureFetcher(['observations']) });
    const topics = topicsOf(await post(withoutPrefetch(fullBody(), 'observations', 'reports'), fetchingApp));
    expect(topics).toContain('data-unavailable');
    expect(topics).not.toContain('iph-exclusion-workup');
  });

  test('a fetcher whose fetch of a required key fails: 412', async () => {
    const fetchingApp = buildApp({ fetcher: fixtureFetcher(['conditions']) });
    const res = await post(withoutPrefetch(fullBody(), 'conditions'), fetchingApp);
    expect(res.status).toBe(412);
    expect(res.text).toContain('prefetch.conditions');
  });

  test('a fetcher is not called when every key was sent', async () => {
    const fetcher = fixtureFetcher();
    const res = await post(fullBody(), buildApp({ fetcher }));
    expect(res.status).toBe(200);
    expect(fetcher).not.toHaveBeenCalled();
  });
});
