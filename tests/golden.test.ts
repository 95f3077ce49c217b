// Golden cases: every fixture case posted to the real app with the clock pinned to the case's `now`;
// the response must match the case and be valid CDS Hooks 2.0.
import path from 'node:path';
import type { Bundle, FhirResource } from 'fhir/r4';
import { createApp } from '../src/http/app';
import { readConfig } from '../src/service';
import { loadRegistry } from '../src/definitions/load';
import { memoryStorage } from './helpers/test-storage';
import { createLogger } from '../src/logger';
import { responseViolations } from './helpers/conformance';
import { renderTokens, runQuery } from './helpers/fhir-query';
import { compareWithExpected, listCases, postCase } from './helpers/golden';

const registry = loadRegistry(path.join(__dirname, '..', 'cds-services'));
const app = createApp(registry, readConfig({ NODE_ENV: 'test' }), { log: createLogger({ level: 'silent' }), ...memoryStorage() });
const cases = listCases().filter((c) => registry.services.has(c.service));

describe.each([...new Set(cases.map((c) => c.service))])('%s golden cases', (service) => {
  const definition = registry.services.get(service);
  test.each(cases.filter((c) => c.service === service).map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    const res = await postCase(app, definition!, c);
    const problems = compareWithExpected(c.data, res.status, res.body);
    if (res.status === 200) problems.push(...responseViolations(res.body));
    expect({ case: c.data.description, problems }).toEqual({ case: c.data.description, problems: [] });
  });
});

describe('the golden prefetch helper (tests/helpers/fhir-query.ts)', () => {
  const resources = [
    { resourceType: 'Patient', id: 'p1' },
    { resourceType: 'Observation', id: 'o1', status: 'final', subject: { reference: 'Patient/p1' }, code: { coding: [{ system: 'http://loinc.org', code: '718-7' }] }, effectiveDateTime: '2026-05-01' },
    { resourceType: 'Observation', id: 'o2', status: 'preliminary', subject: { reference: 'Patient/p1' }, code: { coding: [{ system: 'http://loinc.org', code: '2276-4' }, { code: '718-7' }] }, effectivePeriod: { start: '2026-06-01' } },
    { resourceType: 'Observation', id: 'o3', status: 'final', subject: { reference: 'Patient/p2' }, code: { coding: [{ system: 'http://loinc.org', code: '718-7' }] } },
    { resourceType: 'Condition', id: 'c1', subject: { reference: 'Patient/p1' }, clinicalStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-clinical', code: 'active' }] }, code: { coding: [{ system: 'http://snomed.info/sct', code: '66857006' }] } },
  ] as unknown as FhirResource[];
  const ids = (b: unknown) => ((b as Bundle).entry ?? []).map((e) => e.resource?.id);
  test('renders context tokens and refuses tokens it cannot fill', () => {
    expect(renderTokens('Patient/{{context.patientId}}', { patientId: 'p1' })).toBe('Patient/p1');
    expect(renderTokens('Practitioner/{{userPractitionerId}}', { userId: 'Practitioner/u9' })).toBe('Practitioner/u9');
    expect(() => renderTokens('Encounter/{{context.encounterId}}', { patientId: 'p1' })).toThrow(/encounterId/);
  });
  test('reads an instance, null when absent', () => {
    expect(runQuery(resources, 'Patient/p1')).toMatchObject({ id: 'p1' });
    expect(runQuery(resources, 'Patient/nobody')).toBeNull();
  });
  test('searches by patient, code list (system|code on any coding), status, clinical-status and date=ge', () => {
    expect(ids(runQuery(resources, 'Observation?patient=p1&code=http://loinc.org|718-7,http://loinc.org|9999-9'))).toEqual(['o1']);
    expect(ids(runQuery(resources, 'Observation?subject=Patient/p1&code=http%3A%2F%2Floinc.org%7C2276-4&status=final,preliminary'))).toEqual(['o2']);
    expect(ids(runQuery(resources, 'Observation?patient=p1&date=ge2026-05-15&_count=100&_sort=-date'))).toEqual(['o2']);
    expect(ids(runQuery(resources, 'Condition?patient=p1&clinical-status=active'))).toEqual(['c1']);
    expect(runQuery(resources, 'Condition?patient=p1')).toMatchObject({ resourceType: 'Bundle', type: 'searchset', total: 1 });
  });
  test('an unknown parameter, modifier or comparator throws', () => {
    expect(() => runQuery(resources, 'Observation?patient=p1&code:in=http://x')).toThrow(/code:in/);
    expect(() => runQuery(resources, 'Observation?patient=p1&_include=Observation:subject')).toThrow(/_include/);
    expect(() => runQuery(resources, 'Observation?date=le2026-01-01')).toThrow(/ge comparison/);
    expect(() => runQuery(resources, 'Condition?date=ge2026-01-01')).toThrow(/not supported on Condition/);
  });
});
