// In-memory FHIR search: the parameter subset of clinical-rules §6 with FHIR R4 semantics.
import type { Bundle, FhirResource, OperationOutcome } from 'fhir/r4';
import { pageBundle, searchResources } from '../demo/fhir-search';

const LOINC = 'http://loinc.org';
const OBS_CAT = 'http://terminology.hl7.org/CodeSystem/observation-category';
const CLIN = 'http://terminology.hl7.org/CodeSystem/condition-clinical';

const resources: FhirResource[] = [
  { resourceType: 'Patient', id: 'p1', birthDate: '2015-04-02' },
  { resourceType: 'Patient', id: 'p2' },
  {
    resourceType: 'Observation', id: 'hb-old', status: 'final',
    category: [{ coding: [{ system: OBS_CAT, code: 'laboratory' }] }],
    code: { coding: [{ system: LOINC, code: '718-7' }, { system: 'urn:oid:local', code: 'HGB' }] },
    subject: { reference: 'Patient/p1' }, effectiveDateTime: '2025-12-31T23:30:00Z',
  },
  {
    resourceType: 'Observation', id: 'hb-new', status: 'amended',
    category: [{ coding: [{ system: OBS_CAT, code: 'laboratory' }] }],
    code: { coding: [{ system: LOINC, code: '718-7' }] },
    subject: { reference: 'Patient/p1' }, effectiveDateTime: '2026-03-10',
  },
  {
    resourceType: 'Observation', id: 'ferritin', status: 'preliminary',
    code: { coding: [{ system: LOINC, code: '2276-4' }] },
    subject: { reference: 'https://ehr.example.org/fhir/Patient/p1' },
    effectivePeriod: { start: '2026-02-01T08:00:00+02:00', end: '2026-02-01T09:00:00+02:00' },
  },
  {
    resourceType: 'Observation', id: 'issued-only', status: 'final',
    code: { coding: [{ code: 'nosys' }] },
    subject: { reference: 'Patient/p1' }, issued: '2026-04-01T10:00:00Z',
  },
  {
    resourceType: 'Observation', id: 'undated', status: 'final',
    code: { coding: [{ system: LOINC, code: '718-7' }] }, subject: { reference: 'Patient/p1' },
  },
  {
    resourceType: 'Observation', id: 'other-patient', status: 'final',
    code: { coding: [{ system: LOINC, code: '718-7' }] }, subject: { reference: 'Patient/p2' }, effectiveDateTime: '2026-03-11',
  },
  {
    resourceType: 'Condition', id: 'c-active', subject: { reference: 'Patient/p1' },
    clinicalStatus: { coding: [{ system: CLIN, code: 'active' }] },
    code: { coding: [{ system: 'http://snomed.info/sct', code: '396331005' }] }, onsetDateTime: '2024-05',
  },
  {
    resourceType: 'Condition', id: 'c-resolved', subject: { reference: 'Patient/p1' },
    clinicalStatus: { coding: [{ system: CLIN, code: 'resolved' }] },
    code: { coding: [{ system: 'http://snomed.info/sct', code: '87522002' }] }, recordedDate: '2020-01-01',
  },
  {
    resourceType: 'NutritionOrder', id: 'diet', status: 'active', intent: 'order', patient: { reference: 'Patient/p1' },
    dateTime: '2026-01-05', oralDiet: { type: [{ coding: [{ system: 'http://snomed.info/sct', code: '160670007' }] }] },
  },
  {
    resourceType: 'MedicationRequest', id: 'mr', status: 'active', intent: 'order', subject: { reference: 'Patient/p1' },
    medicationCodeableConcept: { coding: [{ system: 'http://www.nlm.nih.gov/research/umls/rxnorm', code: '8640' }] },
  },
  {
    resourceType: 'ServiceRequest', id: 'sr', status: 'draft', intent: 'order', subject: { reference: 'Patient/p1' },
    code: { coding: [{ system: LOINC, code: '31017-7' }] }, authoredOn: '2026-06-01',
  },
];

function ids(query: string): string[] {
  const res = searchResources(resources, query);
  if (res.status !== 200) throw new Error(`expected 200 for ${query}, got ${res.status}: ${JSON.stringify(res.body)}`);
  const bundle = res.body as Bundle;
  expect(bundle.resourceType).toBe('Bundle');
  return (bundle.entry ?? []).map((e) => e.resource?.id ?? '?');
}

function issues(query: string): string {
  const res = searchResources(resources, query);
  expect(res.status).toBe(400);
  return JSON.stringify((res.body as OperationOutcome).issue);
}

describe('read', () => {
  it('returns the resource, or 404 with an OperationOutcome', () => {
    const ok = searchResources(resources, 'Patient/p1');
    expect(ok).toEqual({ status: 200, body: resources[0] });
    const missing = searchResources(resources, '/Patient/nope');
    expect(missing.status).toBe(404);
    expect(missing.body.resourceType).toBe('OperationOutcome');
    expect(searchResources(resources, 'Observation/p1').status).toBe(404);
  });

  it('returns copies, so a caller that mutates results cannot change the source', () => {
    const res = searchResources(resources, 'Patient/p1');
    (res.body as { birthDate?: string }).birthDate = '1900-01-01';
    expect(searchResources(resources, 'Patient/p1').body).toMatchObject({ birthDate: '2015-04-02' });
  });

  it('rejects bad ids, history and parameters on a read', () => {
    expect(searchResources(resources, 'Patient/a b').status).toBe(400);
    expect(searchResources(resources, 'Patient/p1/_history/1').status).toBe(400);
    expect(searchResources(resources, 'patient/p1').status).toBe(400);
    expect(issues('Patient/p1?_elements=id')).toContain('_elements');
  });
});

describe('search result shape', () => {
  it('is a searchset with total, fullUrl, resource and search.mode match', () => {
    const res = searchResources(resources, 'Observation?patient=p2');
    expect(res).toEqual({
      status: 200,
      body: {
        resourceType: 'Bundle', type: 'searchset', total: 1,
        entry: [{ fullUrl: 'Observation/other-patient', resource: resources[7], search: { mode: 'match' } }],
      },
    });
  });

  it('uses absolute fullUrls when a base URL is given', () => {
    const res = searchResources(resources, 'Patient?_id=p2', { baseUrl: 'http://h:1/fhir/' });
    expect((res.body as Bundle).entry?.[0]?.fullUrl).toBe('http://h:1/fhir/Patient/p2');
  });

  it('returns an empty searchset for a type with no resources', () => {
    expect(ids('Encounter?patient=p1')).toEqual([]);
  });
});

describe('parameters', () => {
  it('patient matches subject or patient references in any form', () => {
    expect(ids('Observation?patient=p1')).toEqual(['hb-old', 'hb-new', 'ferritin', 'issued-only', 'undated']);
    expect(ids('Observation?patient=Patient/p2')).toEqual(['other-patient']);
    expect(ids('Observation?patient=Patient%2Fp2')).toEqual(['other-patient']);
    expect(ids('NutritionOrder?patient=p1')).toEqual(['diet']);
    expect(ids('Observation?patient=p1,p2')).toHaveLength(6);
    expect(ids('Observation?patient=p3')).toEqual([]);
  });

  it('Patient is searched by _id, not patient', () => {
    expect(ids('Patient?_id=p1')).toEqual(['p1']);
    expect(ids('Patient?_id=p1,p2')).toEqual(['p1', 'p2']);
    expect(issues('Patient?patient=p1')).toContain("'patient'");
  });

  it('code accepts system|code, code and |code tokens as an OR list', () => {
    expect(ids(`Observation?patient=p1&code=${LOINC}|718-7`)).toEqual(['hb-old', 'hb-new', 'undated']);
    expect(ids(`Observation?patient=p1&code=${encodeURIComponent(`${LOINC}|2276-4,${LOINC}|999-9`)}`)).toEqual(['ferritin']);
    expect(ids('Observation?code=HGB')).toEqual(['hb-old']);
    expect(ids('Observation?code=urn:oid:local|718-7')).toEqual([]);
    expect(ids('Observation?code=|nosys')).toEqual(['issued-only']);
    expect(ids('Observation?code=|718-7')).toEqual([]);
    expect(ids(`Observation?code=${LOINC}|`)).toHaveLength(5);
  });

  it('code reads the main code of each type', () => {
    expect(ids('MedicationRequest?code=http://www.nlm.nih.gov/research/umls/rxnorm|8640')).toEqual(['mr']);
    expect(ids('NutritionOrder?code=http://snomed.info/sct|160670007')).toEqual(['diet']);
    expect(ids('Condition?code=http://snomed.info/sct|396331005')).toEqual(['c-active']);
    expect(ids('ServiceRequest?code=31017-7')).toEqual(['sr']);
  });

  it('category, status and clinical-status', () => {
    expect(ids(`Observation?category=${OBS_CAT}|laboratory`)).toEqual(['hb-old', 'hb-new']);
    expect(ids('Observation?patient=p1&status=final,amended')).toEqual(['hb-old', 'hb-new', 'issued-only', 'undated']);
    expect(ids('Observation?status=preliminary')).toEqual(['ferritin']);
    expect(ids('Condition?clinical-status=active,recurrence,relapse')).toEqual(['c-active']);
    expect(ids(`Condition?clinical-status=${CLIN}|resolved`)).toEqual(['c-resolved']);
    expect(ids('ServiceRequest?status=draft,active,on-hold')).toEqual(['sr']);
  });

  it('repeated parameters are ANDed', () => {
    expect(ids('Observation?status=final&status=amended')).toEqual([]);
    expect(ids('Observation?date=ge2026-01-01&date=lt2026-03-01')).toEqual(['ferritin']);
  });
});

describe('date', () => {
  it('ge/gt/le/lt/eq compare precision ranges, and undated resources never match', () => {
    expect(ids('Observation?patient=p1&date=ge2026-01-01')).toEqual(['hb-new', 'ferritin', 'issued-only']);
    expect(ids('Observation?patient=p1&date=lt2026-01-01')).toEqual(['hb-old']);
    expect(ids('Observation?patient=p1&date=le2025-12-31')).toEqual(['hb-old']);
    expect(ids('Observation?patient=p1&date=gt2026-03-10')).toEqual(['issued-only']);
    expect(ids('Observation?patient=p1&date=ge2026-03-10')).toEqual(['hb-new', 'issued-only']);
    expect(ids('Observation?patient=p1&date=2026-03')).toEqual(['hb-new']);
    expect(ids('Observation?patient=p1&date=eq2026')).toEqual(['hb-new', 'ferritin', 'issued-only']);
  });

  it('honours time zones in values and in the search (no offset = UTC)', () => {
    // ferritin period: 06:00-07:00 UTC on 2026-02-01
    // a period overlapping the window matches ge/le; one entirely outside it does not
    expect(ids('Observation?date=ge2026-02-01T06:30:00Z&date=le2026-02-01T06:45:00Z')).toEqual(['ferritin']);
    expect(ids('Observation?date=ge2026-02-01T07:00:01Z&date=le2026-02-01T08:00:00Z')).toEqual([]);
    expect(ids('Observation?date=eq2026-02-01T06:00Z')).toEqual([]);
    expect(ids('Observation?date=eq2026-02-01')).toEqual(['ferritin']);
    expect(ids('Observation?date=gt2026-02-01T06:30:00Z&date=lt2026-02-01T08:00:01%2B02:00')).toEqual(['ferritin']);
    expect(ids('Observation?date=lt2026-02-01T08:00:00%2B02:00')).not.toContain('ferritin');
    expect(ids('Observation?date=ge2026-02-01T07:00:01')).not.toContain('ferritin');
    // hb-old is 2025-12-31T23:30Z, i.e. 2026-01-01 in UTC+01:00
    expect(ids('Observation?patient=p1&date=ge2026-01-01T00:00:00%2B01:00&date=lt2026-01-01')).toEqual(['hb-old']);
  });

  it('uses each type\'s clinical date', () => {
    expect(ids('Condition?date=ge2024-01-01')).toEqual(['c-active']);
    expect(ids('Condition?date=le2020-01-01')).toEqual(['c-resolved']);
    expect(ids('NutritionOrder?date=ge2026-01-05')).toEqual(['diet']);
    expect(ids('NutritionOrder?date=gt2026-01-05')).toEqual([]);
    expect(ids('ServiceRequest?date=ge2026-05-01')).toEqual(['sr']);
  });

  it('rejects unsupported prefixes and malformed values', () => {
    expect(issues('Observation?date=ne2026-01-01')).toContain('ne');
    expect(issues('Observation?date=sa2026-01-01')).toContain('prefix');
    expect(issues('Observation?date=ge2026-02-30')).toContain('ge2026-02-30');
    expect(issues('Observation?date=ge26-01-01')).toContain('date');
    expect(issues('Observation?date=ge2026-01-01T25:00:00Z')).toContain('date');
    expect(issues('MedicationRequest?date=ge2026-01-01')).toContain("'date'");
  });
});

describe('_count and _sort', () => {
  it('_sort=-date puts the newest first and undated last; _sort=date the oldest', () => {
    expect(ids('Observation?patient=p1&_sort=-date')).toEqual(['issued-only', 'hb-new', 'ferritin', 'hb-old', 'undated']);
    expect(ids('Observation?patient=p1&_sort=date')).toEqual(['hb-old', 'ferritin', 'hb-new', 'issued-only', 'undated']);
  });

  it('_count limits the entries but total counts every match', () => {
    const res = searchResources(resources, `Observation?patient=p1&code=${LOINC}|718-7&_sort=-date&_count=1`);
    const bundle = res.body as Bundle;
    expect(bundle.total).toBe(3);
    expect(bundle.entry?.map((e) => e.resource?.id)).toEqual(['hb-new']);
    expect(bundle.link).toBeUndefined();
    expect(ids('Observation?_count=0')).toEqual([]);
  });

  it('rejects bad _count/_sort values and repeats', () => {
    expect(issues('Observation?_count=-1')).toContain('_count');
    expect(issues('Observation?_count=ten')).toContain('_count');
    expect(issues('Observation?_count=1&_count=2')).toContain('only once');
    expect(issues('Observation?_sort=code')).toContain('_sort');
    expect(issues('Patient?_sort=date')).toContain('_sort');
  });
});

describe('unknown or unsupported parameters', () => {
  it('returns 400 naming every unknown parameter', () => {
    const res = searchResources(resources, 'Observation?patient=p1&subject=Patient/p1&code:in=http://vs&sort:desc=date');
    expect(res.status).toBe(400);
    const oo = res.body as OperationOutcome;
    expect(oo.resourceType).toBe('OperationOutcome');
    expect(oo.issue.map((i) => i.expression?.[0])).toEqual(['subject', 'code:in', 'sort:desc']);
    expect(oo.issue.every((i) => i.severity === 'error')).toBe(true);
  });

  it('rejects parameters a type does not have, _offset without paging, and empty values', () => {
    expect(issues('Condition?status=active')).toContain("'status'");
    expect(issues('Medication?patient=p1')).toContain("'patient'");
    expect(issues('Observation?_offset=2')).toContain('_offset');
    expect(issues('Observation?patient=')).toContain('empty');
    expect(issues('Observation?_include=Observation:subject')).toContain('_include');
  });

  it('rejects things that are not a read or a type-level search', () => {
    expect(searchResources(resources, 'https://evil.example/Patient/p1').status).toBe(400);
    expect(searchResources(resources, '?patient=p1').status).toBe(400);
    expect(searchResources(resources, 'Observation/_search/x').status).toBe(400);
  });
});

describe('paging', () => {
  it('pages with absolute self/next/previous links when a base URL is given', () => {
    const first = searchResources(resources, 'Observation?patient=p1&_count=2&_sort=date', { baseUrl: 'http://h:9/fhir' });
    const b1 = first.body as Bundle;
    expect(b1.total).toBe(5);
    expect(b1.entry?.map((e) => e.resource?.id)).toEqual(['hb-old', 'ferritin']);
    const next = b1.link?.find((l) => l.relation === 'next')?.url;
    expect(next).toBe('http://h:9/fhir/Observation?patient=p1&_sort=date&_count=2&_offset=2');
    expect(b1.link?.some((l) => l.relation === 'previous')).toBe(false);

    const last = searchResources(resources, 'Observation?patient=p1&_sort=date&_count=2&_offset=4', { baseUrl: 'http://h:9/fhir' }).body as Bundle;
    expect(last.entry?.map((e) => e.resource?.id)).toEqual(['undated']);
    expect(last.link?.some((l) => l.relation === 'next')).toBe(false);
    expect(last.link?.find((l) => l.relation === 'previous')?.url).toContain('_offset=2');
  });

  it('uses the default page size and caps _count', () => {
    const b = searchResources(resources, 'Observation', { baseUrl: 'http://h', defaultCount: 4, maxCount: 5 }).body as Bundle;
    expect(b.entry).toHaveLength(4);
    const capped = searchResources(resources, 'Observation?_count=100', { baseUrl: 'http://h', maxCount: 5 }).body as Bundle;
    expect(capped.entry).toHaveLength(5);
  });

  it('pageBundle slices any searchset', () => {
    const full = searchResources(resources, 'Observation').body as Bundle;
    const page = pageBundle(full, 'http://x/Observation', 3, 3);
    expect(page.entry?.map((e) => e.resource?.id)).toEqual(['issued-only', 'undated', 'other-patient']);
    expect(page.total).toBe(6);
    expect(page.link).toEqual([
      { relation: 'self', url: 'http://x/Observation?_count=3&_offset=3' },
      { relation: 'previous', url: 'http://x/Observation?_count=3&_offset=0' },
    ]);
  });
});
