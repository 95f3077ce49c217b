// A demo that never ages: for every patient with a golden case, the patient as the demo FHIR server serves it (dates
// shifted so the case's `now` falls on the demo's day), evaluated on that day (only Date faked), gives the cards (topics,
// indicators, suggestions) the case expects. The demo's day is far from the fixtures' own dates, so an unshifted date would show.
import path from 'node:path';
import request from 'supertest';
import type { FhirResource } from 'fhir/r4';
import { createApp } from '../src/http/app';
import { readConfig } from '../src/service';
import { loadRegistry } from '../src/definitions/load';
import { memoryStorage } from './helpers/test-storage';
import { renderPrefetchTemplate } from '../src/fhir/client';
import { searchResources } from '../src/fhir/search';
import { createLogger } from '../src/logger';
import { demoCases, shiftDays, shiftResourceDates } from '../demo/fixture-clock';
import { noonUtcOf } from '../demo/demo';
import { baseRequest, compareWithExpected, FIXTURES, listCases, loadPatientResources } from './helpers/golden';

const registry = loadRegistry(path.join(__dirname, '..', 'cds-services'));
const app = createApp(registry, readConfig({ NODE_ENV: 'test' }), { log: createLogger({ level: 'silent' }), ...memoryStorage() });
// The demo evaluates as of 12:00 UTC of its day (demo/demo.ts), whatever the time it runs.
const DEMO_DAY = noonUtcOf(Date.parse('2031-02-03T09:30:00Z'));
const ONLY_DATE = ['nextTick', 'setImmediate', 'clearImmediate', 'setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'queueMicrotask', 'hrtime', 'performance'] as const;

const chosen = demoCases(path.join(FIXTURES, 'cases'));
const cases = listCases().filter((c) => c.data.patient && chosen.get(c.data.patient)?.name === c.name && chosen.get(c.data.patient)?.service === c.service);

afterEach(() => jest.useRealTimers());

it('picks one golden case for every fixture patient that has one', () => {
  const withCases = new Set(listCases().map((c) => c.data.patient).filter(Boolean));
  expect(new Set(chosen.keys())).toEqual(withCases);
  expect(cases).toHaveLength(withCases.size);
});

it('shifts dates, dateTimes and instants by whole days and leaves other strings alone', () => {
  const obs = { resourceType: 'Observation', id: 'o', status: 'final', code: { coding: [{ system: 'http://loinc.org', code: '718-7' }] }, effectiveDateTime: '2026-06-10T08:00:00+02:00', issued: '2026-06-10T09:00:00.000Z', valueString: '2026-06-10' } as FhirResource;
  const shifted = shiftResourceDates(obs, 30) as unknown as Record<string, unknown>;
  expect(shifted.effectiveDateTime).toBe('2026-07-10T08:00:00+02:00');
  expect(shifted.issued).toBe('2026-07-10T09:00:00.000Z');
  expect(shifted.valueString).toBe('2026-06-10');
  expect((shifted.code as { coding: { code: string }[] }).coding[0]!.code).toBe('718-7');
  expect((shiftResourceDates({ resourceType: 'Patient', birthDate: '2016-02' } as FhirResource, 365) as { birthDate?: string }).birthDate).toBe('2017-02');
  expect(shiftDays('2026-06-15T12:00:00Z', Date.parse('2026-06-20T23:59:00Z'))).toBe(5);
});

describe.each(cases.map((c) => [`${c.service}/${c.name}`, c] as const))('%s', (_name, c) => {
  it('shows the expected cards on the demo day', async () => {
    const service = registry.services.get(c.service)!;
    const days = shiftDays(c.data.now, DEMO_DAY);
    const resources = loadPatientResources(c.data.patient!).map((r) => shiftResourceDates(r, days));
    // The case's own context/prefetch additions (order hooks' draft orders) move with the patient.
    const data = { ...c.data, context: c.data.context && (shiftResourceDates(c.data.context as never, days) as unknown as Record<string, unknown>) };
    const body = baseRequest(service, data);
    const prefetch: Record<string, unknown> = {};
    for (const [key, def] of Object.entries(service.prefetch)) {
      if (c.data.omitPrefetch?.includes(key)) continue;
      const result = searchResources(resources, renderPrefetchTemplate(def.query, body)!);
      prefetch[key] = result.status === 200 ? result.body : null;
    }
    for (const [key, value] of Object.entries(c.data.prefetch ?? {})) prefetch[key] = value && shiftResourceDates(value as never, days);
    jest.useFakeTimers({ now: DEMO_DAY, doNotFake: [...ONLY_DATE] });
    const res = await request(app).post(`/cds-services/${c.service}`).send({ ...body, prefetch });
    jest.useRealTimers();
    // Topics, indicators and suggestions as the case says; the dates a detail quotes are shifted, so not compared.
    const expect_ = { ...c.data.expect, cards: c.data.expect.cards?.map(({ detailIncludes: _dates, ...card }) => card) };
    expect(compareWithExpected({ ...c.data, expect: expect_ }, res.status, res.body as Record<string, unknown>)).toEqual([]);
  });
});
