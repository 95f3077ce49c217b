// Ordinary Synthea-style charts (fixtures/synthea, written by tools/synthea-style-charts.ts) posted to
// iph-patient-view with prefetch rendered from the service's templates over each chart: no card may fire.
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import request from 'supertest';
import type { Bundle, FhirResource } from 'fhir/r4';
import { createApp } from '../src/http/app';
import { readConfig } from '../src/service';
import { loadRegistry } from '../src/definitions/load';
import { memoryStorage } from './helpers/test-storage';
import { renderPrefetchTemplate } from '../src/fhir/client';
import { searchResources } from '../demo/fhir-search';
import type { HookRequest } from '../src/cds-hooks';
import { createLogger } from '../src/logger';
import { resolveValueSetUrl } from '../src/evaluation/terminology';
import { buildChart, CHART_DIR, CHART_NOW, PROFILES } from '../tools/synthea-style-charts';
import { responseViolations } from './helpers/conformance';

const registry = loadRegistry(path.join(__dirname, '..', 'cds-services'));
const app = createApp(registry, readConfig({ NODE_ENV: 'test' }), { log: createLogger({ level: 'silent' }), ...memoryStorage() });
const service = registry.services.get('iph-patient-view');
if (!service) throw new Error('iph-patient-view is not defined');

const chart = (name: string): Bundle => JSON.parse(fs.readFileSync(path.join(CHART_DIR, `${name}.json`), 'utf8')) as Bundle;
const resourcesOf = (b: Bundle): FhirResource[] => (b.entry ?? []).map((e) => e.resource as FhirResource);

/** The hook request a FHIR server would give: every prefetch template rendered and searched over the chart. */
function hookRequest(patientId: string, resources: FhirResource[]): Record<string, unknown> {
  const base = { hook: 'patient-view', hookInstance: randomUUID(), context: { userId: 'Practitioner/synthea-clinician', patientId } } as HookRequest;
  const prefetch: Record<string, unknown> = {};
  for (const [key, def] of Object.entries(service!.prefetch)) {
    const query = renderPrefetchTemplate(def.query, base);
    if (!query) throw new Error(`prefetch ${key} does not render`);
    const result = searchResources(resources, query);
    if (result.status !== 200) throw new Error(`prefetch ${key} (${query}) fails on the chart: ${JSON.stringify(result.body)}`);
    prefetch[key] = result.body;
  }
  return { ...base, prefetch };
}

afterEach(() => jest.useRealTimers());

describe.each(PROFILES.map((p) => [p.name, p] as const))('%s', (name, profile) => {
  it('is the chart the seeded generator writes, of realistic size', () => {
    const committed = chart(name);
    expect(committed).toEqual(JSON.parse(JSON.stringify(buildChart(profile))));
    expect(committed.entry?.length).toBeGreaterThanOrEqual(150);
    expect(committed.entry?.length).toBeLessThanOrEqual(1000);
  });

  it('gives no card', async () => {
    const body = hookRequest(name, resourcesOf(chart(name)));
    jest.useFakeTimers({ now: new Date(CHART_NOW), doNotFake: ['nextTick', 'setImmediate', 'clearImmediate', 'setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'queueMicrotask', 'hrtime', 'performance'] });
    const res = await request(app).post('/cds-services/iph-patient-view').set('Content-Type', 'application/json').send(body);
    jest.useRealTimers();
    expect({ status: res.status, body: res.status === 200 ? undefined : res.body }).toEqual({ status: 200, body: undefined });
    expect(responseViolations(res.body)).toEqual([]);
    const cards = (res.body as { cards: { summary: string }[] }).cards;
    expect(cards.map((c) => c.summary)).toEqual([]);
  });
});

describe('the value sets recognise the codes these charts carry (otherwise "no card" would prove nothing)', () => {
  const vs = registry.valueSets;
  const has = (set: string, system: string, code: string): boolean => vs.contains(resolveValueSetUrl(set), system, code);
  const SCT = 'http://snomed.info/sct';
  const LOINC = 'http://loinc.org';

  it.each([
    ['pregnancy', SCT, '72892002'],
    ['dah-alternative-cause', SCT, '88805009'],
    ['anemia', SCT, '271737000'],
    ['iron-deficiency-anemia', SCT, '87522002'],
    ['fatigue', SCT, '84229001'],
    ['dyspnea', SCT, '267036007'],
    ['cough', SCT, '49727002'],
    ['creatinine', LOINC, '38483-4'],
    ['hemoglobin', LOINC, '718-7'],
    ['ferritin', LOINC, '2276-4'],
    ['platelets', LOINC, '777-3'],
    ['nt-probnp', LOINC, '33762-6'],
    ['chest-imaging', SCT, '399208008'],
    ['echocardiogram', SCT, '40701008'],
  ])('%s holds %s|%s', (set, system, code) => {
    expect(has(set, system, code)).toBe(true);
  });

  it('and each chart reaches the rules through its prefetch (the coded data is not filtered away)', () => {
    const hf = hookRequest('synthea-heart-failure', resourcesOf(chart('synthea-heart-failure'))).prefetch as Record<string, Bundle>;
    const codes = (b: Bundle | undefined): string[] => (b?.entry ?? []).flatMap((e) => ((e.resource as { code?: { coding?: { code?: string }[] } }).code?.coding ?? []).map((c) => c.code ?? ''));
    expect(codes(hf.observations)).toEqual(expect.arrayContaining(['38483-4', '718-7', '33762-6']));
    expect(codes(hf.conditions)).toContain('88805009');
  });
});
