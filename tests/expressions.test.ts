// The service's FHIRPath functions (src/fhirpath/functions/) on small hand-made records, evaluated the way a request
// is (src/evaluation/evaluate.ts): a RecordIndex over the prefetch values, a per-request clock, the real value sets.
import { evaluate, NOW } from './helpers/evaluate';

type Json = Record<string, unknown>;

const DAY = 86_400_000;
const ICD10 = 'http://hl7.org/fhir/sid/icd-10-cm';
const LOINC = 'http://loinc.org';
const SNOMED = 'http://snomed.info/sct';
const UCUM = 'http://unitsofmeasure.org';

function bundle(...resources: Json[]): Json {
  return { resourceType: 'Bundle', type: 'searchset', entry: resources.map((resource) => ({ resource })) };
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

function condition(id: string, codings: Json[], extra: Json = {}): Json {
  return { resourceType: 'Condition', id, code: { coding: codings }, ...extra };
}

function observation(id: string, code: string, extra: Json = {}): Json {
  return { resourceType: 'Observation', id, status: 'final', code: { coding: [{ system: LOINC, code }] }, effectiveDateTime: iso(NOW - DAY), ...extra };
}

function ids(values: unknown[]): string[] {
  return values.map((v) => String((v as Json).id));
}

describe('memberOf(valueSet)', () => {
  test.each([
    ['R05', true],
    ['R05.9', true],
    ['R05.1', true],
    ['R05.8', true],
    ['R051', false],
    ['R0', false],
    ['XR05.9', false],
  ])('ICD-10-CM %s in cough (listed code or anchored regex R05(\\..*)?) -> %s', (code, member) => {
    expect(evaluate("%c.memberOf('cough')", { vars: { c: [{ system: ICD10, code }] } })).toEqual([member]);
  });

  test.each([
    ['D68.311', true],
    ['D68.3', true],
    ['D68.32', true],
    ['D68.61', true],
    ['D68.5', false],
    ['M32.14', true],
    ['M32', true],
    ['M321', false],
    ['I50.9', true],
    ['J84.03', false],
  ])('ICD-10-CM %s in dah-alternative-cause -> %s', (code, member) => {
    expect(evaluate("%c.memberOf('dah-alternative-cause')", { vars: { c: [{ system: ICD10, code }] } })).toEqual([member]);
  });

  test('codings without a system never match, even with a listed code', () => {
    expect(evaluate("%c.memberOf('cough')", { vars: { c: [{ code: 'R05.9' }] } })).toEqual([false]);
    expect(evaluate("%c.memberOf('cough')", { vars: { c: [{ coding: [{ code: 'R05.9', display: 'Cough' }] }] } })).toEqual([false]);
  });

  test('a listed code in another system does not match', () => {
    expect(evaluate("%c.memberOf('cough')", { vars: { c: [{ system: SNOMED, code: 'R05.9' }] } })).toEqual([false]);
    expect(evaluate("%c.memberOf('cough')", { vars: { c: [{ system: ICD10, code: '49727002' }] } })).toEqual([false]);
    expect(evaluate("%c.memberOf('cough')", { vars: { c: [{ system: SNOMED, code: '49727002' }] } })).toEqual([true]);
  });

  test('a CodeableConcept matches when any of its codings does', () => {
    const concept = { coding: [{ system: 'http://example.org/local', code: 'cough' }, { system: ICD10, code: 'R05.9' }], text: 'Cough' };
    expect(evaluate("%c.memberOf('cough')", { vars: { c: [concept] } })).toEqual([true]);
    expect(evaluate("%c.memberOf('cough')", { vars: { c: [{ coding: [{ system: ICD10, code: 'R06.0' }] }] } })).toEqual([false]);
  });

  test('a bare name and the canonical url are the same value set', () => {
    const c = { c: [{ system: ICD10, code: 'R05.9' }] };
    expect(evaluate("%c.memberOf('https://iph-cds.dev/fhir/ValueSet/cough')", { vars: c })).toEqual([true]);
  });

  test('an empty input gives an empty result (not false)', () => {
    expect(evaluate("%c.memberOf('cough')", { vars: { c: [] } })).toEqual([]);
  });

  test('on resources: Condition.code through a where()', () => {
    const conditions = bundle(condition('c1', [{ system: ICD10, code: 'R05.9' }]), condition('c2', [{ system: ICD10, code: 'R06.0' }]));
    expect(ids(evaluate("%conditions.where(code.memberOf('cough'))", { values: { conditions } }))).toEqual(['c1']);
  });
});

describe("from(key, valueSet)", () => {
  const conditions = bundle(
    condition('listed', [{ system: ICD10, code: 'R05.9' }]),
    condition('regex', [{ system: ICD10, code: 'R05.1' }]),
    condition('no-dot', [{ system: ICD10, code: 'R051' }]),
    condition('no-system', [{ code: 'R05.9' }]),
    condition('snomed', [{ system: SNOMED, code: '49727002' }]),
    condition('other', [{ system: ICD10, code: 'J84.03' }]),
    { resourceType: 'OperationOutcome', issue: [{ severity: 'warning', code: 'informational' }] },
  );

  test('the resources of a key whose main code is in the value set, in record order', () => {
    expect(ids(evaluate("from('conditions', 'cough')", { values: { conditions } }))).toEqual(['listed', 'regex', 'snomed']);
  });

  test('only the named key is searched', () => {
    expect(evaluate("from('observations', 'cough')", { values: { conditions, observations: bundle() } })).toEqual([]);
    expect(evaluate("from('observations', 'cough')", { values: { conditions } })).toEqual([]);
  });

  test('a single resource (not a Bundle) is indexed too; OperationOutcomes and null are no data', () => {
    const one = condition('single', [{ system: ICD10, code: 'R05.9' }]);
    expect(ids(evaluate("from('conditions', 'cough')", { values: { conditions: one } }))).toEqual(['single']);
    expect(evaluate("from('conditions', 'cough')", { values: { conditions: null } })).toEqual([]);
  });

  test('a resource with several matching codings appears once', () => {
    const both = condition('both', [{ system: ICD10, code: 'R05.9' }, { system: SNOMED, code: '49727002' }]);
    expect(ids(evaluate("from('conditions', 'cough')", { values: { conditions: bundle(both) } }))).toEqual(['both']);
  });

  test('the main code per type: MedicationRequest.medicationCodeableConcept, NutritionOrder.oralDiet.type', () => {
    const meds = bundle({
      resourceType: 'MedicationRequest',
      id: 'm1',
      status: 'active',
      medicationCodeableConcept: { coding: [{ system: 'http://www.nlm.nih.gov/research/umls/rxnorm', code: '8640' }] },
    });
    const rx = evaluate("from('medicationRequests', 'iph-immunosuppressants')", { values: { medicationRequests: meds } });
    const diets = bundle({ resourceType: 'NutritionOrder', id: 'n1', status: 'active', oralDiet: { type: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/diet', code: 'gluten-free' }] }] } });
    expect(ids(evaluate("from('nutritionOrders', 'gluten-free-diet')", { values: { nutritionOrders: diets } }))).toEqual(['n1']);
    // 8640 is prednisone (RxNorm ingredient) if the value set lists it; either way no error and at most that one.
    expect(ids(rx).every((id) => id === 'm1')).toBe(true);
  });

  test('the returned resources are navigable', () => {
    expect(evaluate("from('conditions', 'cough').code.coding.code", { values: { conditions } })).toEqual(['R05.9', 'R05.1', '49727002']);
  });
});

describe('usable()', () => {
  const status = (system: string, code: string) => ({ coding: [{ system, code }] });
  const CLINICAL = 'http://terminology.hl7.org/CodeSystem/condition-clinical';
  const VERIFICATION = 'http://terminology.hl7.org/CodeSystem/condition-ver-status';

  test.each([
    ['no statuses', {}, true],
    ['active', { clinicalStatus: status(CLINICAL, 'active') }, true],
    ['recurrence', { clinicalStatus: status(CLINICAL, 'recurrence') }, true],
    ['relapse', { clinicalStatus: status(CLINICAL, 'relapse') }, true],
    ['resolved', { clinicalStatus: status(CLINICAL, 'resolved') }, false],
    ['inactive', { clinicalStatus: status(CLINICAL, 'inactive') }, false],
    ['remission', { clinicalStatus: status(CLINICAL, 'remission') }, false],
    ['confirmed', { verificationStatus: status(VERIFICATION, 'confirmed') }, true],
    ['provisional', { verificationStatus: status(VERIFICATION, 'provisional') }, true],
    ['unconfirmed', { verificationStatus: status(VERIFICATION, 'unconfirmed') }, true],
    ['refuted', { verificationStatus: status(VERIFICATION, 'refuted') }, false],
    ['entered-in-error', { verificationStatus: status(VERIFICATION, 'entered-in-error') }, false],
    ['active but refuted', { clinicalStatus: status(CLINICAL, 'active'), verificationStatus: status(VERIFICATION, 'refuted') }, false],
  ])('Condition %s -> %s', (_name, extra, usable) => {
    const c = condition('c', [{ system: ICD10, code: 'R05.9' }], { onsetDateTime: '2026-01-01', ...extra });
    expect(ids(evaluate('%conditions.usable()', { values: { conditions: bundle(c) } }))).toEqual(usable ? ['c'] : []);
  });

  test.each([
    ['final', true],
    ['amended', true],
    ['corrected', true],
    ['preliminary', false],
    ['registered', false],
    ['cancelled', false],
    ['entered-in-error', false],
    ['unknown', false],
  ])('Observation and DiagnosticReport status %s -> %s', (st, usable) => {
    const o = observation('o', '718-7', { status: st });
    const r = { resourceType: 'DiagnosticReport', id: 'r', status: st, code: { coding: [{ system: LOINC, code: '24627-2' }] }, effectiveDateTime: '2026-01-01' };
    expect(ids(evaluate('%observations.usable()', { values: { observations: bundle(o) } }))).toEqual(usable ? ['o'] : []);
    expect(ids(evaluate('%reports.usable()', { values: { reports: bundle(r) } }))).toEqual(usable ? ['r'] : []);
  });

  test.each([
    ['completed', true],
    ['in-progress', false],
    ['preparation', false],
    ['not-done', false],
    ['entered-in-error', false],
  ])('Procedure status %s -> %s', (st, usable) => {
    const p = { resourceType: 'Procedure', id: 'p', status: st, code: { coding: [{ system: SNOMED, code: '397397002' }] }, performedDateTime: '2026-01-01' };
    expect(ids(evaluate('%procedures.usable()', { values: { procedures: bundle(p) } }))).toEqual(usable ? ['p'] : []);
  });

  test('a resource dated after now is not usable; an undated one is', () => {
    const future = observation('future', '718-7', { effectiveDateTime: iso(NOW + 1) });
    const atNow = observation('now', '718-7', { effectiveDateTime: iso(NOW) });
    const undated = observation('undated', '718-7', { effectiveDateTime: undefined });
    const futureCondition = condition('fc', [{ system: ICD10, code: 'R05.9' }], { recordedDate: '2026-07-01' });
    expect(ids(evaluate('%observations.usable()', { values: { observations: bundle(future, atNow, undated) } }))).toEqual(['now', 'undated']);
    expect(evaluate('%conditions.usable()', { values: { conditions: bundle(futureCondition) } })).toEqual([]);
  });

  test('other resource types pass (status is not judged)', () => {
    const sr = { resourceType: 'ServiceRequest', id: 's', status: 'revoked', authoredOn: '2026-01-01' };
    expect(ids(evaluate('%serviceRequests.usable()', { values: { serviceRequests: bundle(sr) } }))).toEqual(['s']);
  });
});

describe('withinDays(n) and dates', () => {
  const at = (id: string, when: string | undefined) => observation(id, '718-7', { effectiveDateTime: when });

  test('365 days before now is within; 365 days and 1 ms is not', () => {
    const edge = at('edge', iso(NOW - 365 * DAY));
    const past = at('past', iso(NOW - 365 * DAY - 1));
    expect(ids(evaluate('%observations.withinDays(365)', { values: { observations: bundle(edge, past) } }))).toEqual(['edge']);
  });

  test('now itself is within; 1 ms in the future is not', () => {
    const now = at('now', iso(NOW));
    const future = at('future', iso(NOW + 1));
    const tomorrow = at('tomorrow', '2026-06-16');
    expect(ids(evaluate('%observations.withinDays(30)', { values: { observations: bundle(now, future, tomorrow) } }))).toEqual(['now']);
  });

  test('an undated resource is never within', () => {
    expect(evaluate('%observations.withinDays(100000)', { values: { observations: bundle(at('undated', undefined)) } })).toEqual([]);
  });

  test('a partial date is its first instant', () => {
    // '2026-03' = 2026-03-01T00:00:00Z: exactly 10 days before this now, so within 10 but not within 9.
    const now = Date.parse('2026-03-11T00:00:00Z');
    const month = at('month', '2026-03');
    expect(ids(evaluate('%observations.withinDays(10)', { values: { observations: bundle(month) }, now }))).toEqual(['month']);
    expect(evaluate('%observations.withinDays(9)', { values: { observations: bundle(month) }, now })).toEqual([]);
    // A year alone is 1 January.
    expect(evaluate('%observations.clinicalDate()', { values: { observations: bundle(at('year', '2025')) } }).map(String)).toEqual([expect.stringMatching(/^2025-01-01T00:00:00(\.000)?(Z|\+00:00)$/)]);
    // A partial date in the current month is not in the future: its first instant is before now.
    expect(ids(evaluate('%observations.usable()', { values: { observations: bundle(at('this-month', '2026-06')) } }))).toEqual(['this-month']);
    expect(evaluate('%observations.usable()', { values: { observations: bundle(at('next-month', '2026-07')) } })).toEqual([]);
  });

  test('dates without an offset are UTC; offsets are honoured', () => {
    const now = Date.parse('2026-03-11T00:00:00Z');
    // 2026-03-01T01:00+02:00 is 2026-02-28T23:00Z, one hour outside the 10-day window.
    const shifted = at('shifted', '2026-03-01T01:00:00+02:00');
    const local = at('local', '2026-03-01T00:00:00');
    expect(ids(evaluate('%observations.withinDays(10)', { values: { observations: bundle(shifted, local) }, now }))).toEqual(['local']);
  });

  test('each type has its clinical date', () => {
    const resources = bundle(
      condition('onset-period', [], { onsetPeriod: { start: '2026-01-02' }, recordedDate: '2026-05-05' }),
      condition('recorded', [], { recordedDate: '2026-01-03' }),
      observation('period-end', '718-7', { effectiveDateTime: undefined, effectivePeriod: { start: '2026-01-01', end: '2026-01-04' } }),
      observation('issued', '718-7', { effectiveDateTime: undefined, issued: '2026-01-05T10:00:00Z' }),
      { resourceType: 'Procedure', id: 'proc', status: 'completed', performedPeriod: { start: '2026-01-06' } },
      { resourceType: 'ServiceRequest', id: 'sr', status: 'active', authoredOn: '2026-01-07' },
    );
    const days = evaluate('%all.clinicalDate()', { values: { all: resources } }).map((d) => String(d).slice(0, 10));
    expect(days).toEqual(['2026-01-02', '2026-01-03', '2026-01-04', '2026-01-05', '2026-01-06', '2026-01-07']);
  });

  test("withStatus('a,b') filters on status", () => {
    const list = bundle(observation('f', '718-7'), observation('p', '718-7', { status: 'preliminary' }), observation('r', '718-7', { status: 'registered' }));
    expect(ids(evaluate("%observations.withStatus('registered, preliminary')", { values: { observations: list } }))).toEqual(['p', 'r']);
  });
});

describe('latest()', () => {
  test('the newest dated item; undated ones are ignored', () => {
    const list = bundle(
      observation('old', '718-7', { effectiveDateTime: '2026-01-01' }),
      observation('new', '718-7', { effectiveDateTime: '2026-05-01T08:00:00Z' }),
      observation('undated', '718-7', { effectiveDateTime: undefined }),
      observation('mid', '718-7', { effectiveDateTime: '2026-03-01' }),
    );
    expect(ids(evaluate('%observations.latest()', { values: { observations: list } }))).toEqual(['new']);
  });

  test('ties: the later one in the record', () => {
    const list = bundle(observation('first', '718-7', { effectiveDateTime: '2026-05-01' }), observation('second', '718-7', { effectiveDateTime: '2026-05-01' }));
    expect(ids(evaluate('%observations.latest()', { values: { observations: list } }))).toEqual(['second']);
  });

  test('empty and all-undated inputs give an empty result', () => {
    expect(evaluate('%observations.latest()', { values: { observations: bundle() } })).toEqual([]);
    expect(evaluate('%observations.latest()', { values: { observations: bundle(observation('u', '718-7', { effectiveDateTime: undefined })) } })).toEqual([]);
  });
});

describe('latestWhere(criteria)', () => {
  test('the newest item for which the criteria hold, skipping newer ones that fail them', () => {
    const list = bundle(
      observation('old-ok', '718-7', { effectiveDateTime: '2026-01-01', valueQuantity: { value: 9, unit: 'g/dL', system: 'http://unitsofmeasure.org', code: 'g/dL' } }),
      observation('mid-ok', '718-7', { effectiveDateTime: '2026-03-01', valueQuantity: { value: 10, unit: 'g/dL', system: 'http://unitsofmeasure.org', code: 'g/dL' } }),
      observation('new-no-value', '718-7', { effectiveDateTime: '2026-05-01' }),
    );
    expect(ids(evaluate("%observations.latestWhere(valueIn('g/dL').exists())", { values: { observations: list } }))).toEqual(['mid-ok']);
    expect(ids(evaluate("%observations.latestWhere(valueIn('g/dL') < 9.5)", { values: { observations: list } }))).toEqual(['old-ok']);
    expect(evaluate("%observations.latestWhere(valueIn('g/dL') > 20)", { values: { observations: list } })).toEqual([]);
  });
});

describe('ageInMonths([at]) and ageInYears([at])', () => {
  const patient = { resourceType: 'Patient', id: 'p', birthDate: '2020-03-15' };

  test.each([
    ['@2020-09-14', 5],
    ['@2020-09-15', 6],
    ['@2020-09-14T23:59:59Z', 5],
    ['@2021-03-14', 11],
    ['@2021-03-15', 12],
    ['@2020-03-15', 0],
  ])('born 2020-03-15, at %s -> %i completed months', (at, months) => {
    expect(evaluate(`%patient.ageInMonths(${at})`, { values: { patient } })).toEqual([months]);
  });

  test('at a resource: its clinical date', () => {
    const obs = observation('o', '718-7', { effectiveDateTime: '2020-09-15T08:00:00Z' });
    expect(evaluate('%patient.ageInMonths(%o)', { values: { patient }, vars: { o: [obs] } })).toEqual([6]);
  });

  test('without an argument: at the request clock', () => {
    expect(evaluate('%patient.ageInMonths()', { values: { patient }, now: Date.parse('2026-03-14T23:59:59Z') })).toEqual([71]);
    expect(evaluate('%patient.ageInMonths()', { values: { patient }, now: Date.parse('2026-03-15T00:00:00Z') })).toEqual([72]);
    expect(evaluate('%patient.ageInYears()', { values: { patient }, now: Date.parse('2026-03-14T12:00:00Z') })).toEqual([5]);
    expect(evaluate('%patient.ageInYears()', { values: { patient }, now: Date.parse('2026-03-15T12:00:00Z') })).toEqual([6]);
  });

  test('unknown birth date or an empty `at`: empty', () => {
    expect(evaluate('%patient.ageInMonths()', { values: { patient: { resourceType: 'Patient', id: 'x' } } })).toEqual([]);
    expect(evaluate('%patient.ageInMonths(%none)', { values: { patient }, vars: { none: [] } })).toEqual([]);
    expect(evaluate('%patient.ageInMonths()', { values: { patient: null } })).toEqual([]);
  });
});

describe('valueIn(unit[, molarFactor])', () => {
  const hb = (valueQuantity: Json) => observation('hb', '718-7', { valueQuantity });

  test('g/L -> g/dL', () => {
    expect(evaluate("%o.valueIn('g/dL')", { vars: { o: [hb({ value: 121, unit: 'g/L', system: UCUM, code: 'g/L' })] } })).toEqual([12.1]);
  });

  test('mmol/L x 1.611 -> g/dL for hemoglobin', () => {
    const [v] = evaluate("%o.valueIn('g/dL', 1.611)", { vars: { o: [hb({ value: 7.5, unit: 'mmol/L', system: UCUM, code: 'mmol/L' })] } }) as number[];
    expect(v).toBeCloseTo(7.5 * 1.611, 10);
    // ... and to g/L with the same factor.
    const [gl] = evaluate("%o.valueIn('g/L', 1.611)", { vars: { o: [hb({ value: 7.5, unit: 'mmol/L', system: UCUM, code: 'mmol/L' })] } }) as number[];
    expect(gl).toBeCloseTo(7.5 * 16.11, 8);
  });

  test('mmol/L without a molar factor cannot become g/dL: empty', () => {
    expect(evaluate("%o.valueIn('g/dL')", { vars: { o: [hb({ value: 7.5, unit: 'mmol/L', system: UCUM, code: 'mmol/L' })] } })).toEqual([]);
  });

  test('ng/mL = ug/L', () => {
    const ferritin = observation('f', '2276-4', { valueQuantity: { value: 20, unit: 'ng/mL', system: UCUM, code: 'ng/mL' } });
    expect(evaluate("%o.valueIn('ug/L')", { vars: { o: [ferritin] } })).toEqual([20]);
  });

  test('a unit-only quantity ("g/dL", no system or code) converts', () => {
    expect(evaluate("%o.valueIn('g/dL')", { vars: { o: [hb({ value: 12.1, unit: 'g/dL' })] } })).toEqual([12.1]);
    expect(evaluate("%o.valueIn('g/L')", { vars: { o: [hb({ value: 12.1, unit: 'g/dL' })] } })).toEqual([121]);
  });

  test('common non-UCUM spellings are understood (gm/dl, mcg/L)', () => {
    expect(evaluate("%o.valueIn('g/dL')", { vars: { o: [hb({ value: 11, unit: 'gm/dl' })] } })).toEqual([11]);
    expect(evaluate("%o.valueIn('ng/mL')", { vars: { o: [hb({ value: 30, unit: 'mcg/L' })] } })).toEqual([30]);
  });

  test('an unconvertible unit, no unit or no value: empty', () => {
    expect(evaluate("%o.valueIn('g/dL')", { vars: { o: [hb({ value: 12, unit: 'furlongs' })] } })).toEqual([]);
    expect(evaluate("%o.valueIn('g/dL')", { vars: { o: [hb({ value: 12, unit: '%' })] } })).toEqual([]);
    expect(evaluate("%o.valueIn('g/dL')", { vars: { o: [hb({ value: 12 })] } })).toEqual([]);
    expect(evaluate("%o.valueIn('g/dL')", { vars: { o: [hb({ unit: 'g/dL' })] } })).toEqual([]);
    expect(evaluate("%o.valueIn('g/dL')", { vars: { o: [observation('nv', '718-7')] } })).toEqual([]);
  });

  test('a UCUM code wins over a display unit', () => {
    expect(evaluate("%o.valueIn('g/dL')", { vars: { o: [hb({ value: 120, unit: 'grams per litre', system: UCUM, code: 'g/L' })] } })).toEqual([12]);
  });

  // BUG (reported): fhirpath.js 5 keeps an FP_Quantity's value as an FP_Decimal_Native object, not a number, so
  // quantityIn() sees NaN and valueIn() on a quantity literal or toQuantity() result is always empty.
  test('on a FHIRPath quantity literal', () => {
    expect(evaluate("(12.1 'g/dL').valueIn('g/L')")).toEqual([121]);
  });

  test('several observations give several numbers, in order; unconvertible ones are skipped', () => {
    const list = [hb({ value: 100, unit: 'g/L' }), hb({ value: 3, unit: 'furlongs' }), hb({ value: 9.5, unit: 'g/dL' })];
    expect(evaluate("%o.valueIn('g/dL')", { vars: { o: list } })).toEqual([10, 9.5]);
  });
});

describe('fallPair(spanDays, laterWithinDays, unit[, molarFactor])', () => {
  const hbAt = (id: string, when: string, value: number, unit = 'g/dL') => observation(id, '718-7', { effectiveDateTime: when, valueQuantity: { value, unit } });
  const ids = (expr: string, list: Json[]) => evaluate(expr, { vars: { o: list } }).map((r) => (r as Json).id);

  test('the earlier and the later result of the largest fall within the span', () => {
    const list = [hbAt('a', '2026-06-01', 12), hbAt('b', '2026-06-05', 9.5), hbAt('c', '2026-06-06', 10.5)];
    expect(ids("%o.fallPair(7, 30, 'g/dL')", list)).toEqual(['a', 'b']);
  });

  test('pairs further apart than the span, rises, and a later result outside the recent window give nothing', () => {
    expect(ids("%o.fallPair(7, 30, 'g/dL')", [hbAt('a', '2026-05-01', 12), hbAt('b', '2026-06-01', 8)])).toEqual([]);
    expect(ids("%o.fallPair(7, 30, 'g/dL')", [hbAt('a', '2026-06-01', 9), hbAt('b', '2026-06-02', 10)])).toEqual([]);
    expect(ids("%o.fallPair(30, 30, 'g/dL')", [hbAt('a', '2026-04-20', 12), hbAt('b', '2026-05-10', 9)])).toEqual([]);
    expect(ids("%o.fallPair(30, 60, 'g/dL')", [hbAt('a', '2026-04-20', 12), hbAt('b', '2026-05-10', 9)])).toEqual(['a', 'b']);
  });

  test('units are converted (mmol/L with the molar factor); the size is valueIn() of the pair', () => {
    const list = [hbAt('a', '2026-06-01', 120, 'g/L'), hbAt('b', '2026-06-03', 6, 'mmol/L')];
    const [fall] = evaluate("%o.fallPair(7, 30, 'g/dL', 1.611).select(valueIn('g/dL', 1.611)).aggregate(iif($total.empty(), $this, $total - $this))", { vars: { o: list } }) as number[];
    expect(fall).toBeCloseTo(12 - 6 * 1.611, 8);
  });
});

describe('trendLine(label, unit[, molarFactor])', () => {
  const hbAt = (id: string, when: string, value: number, unit = 'g/dL') => observation(id, '718-7', { effectiveDateTime: when, valueQuantity: { value, unit } });

  test('oldest first, one decimal, the unit once, at the end', () => {
    const list = [hbAt('b', '2026-06-05', 10.14), hbAt('a', '2026-06-01', 12.9)];
    expect(evaluate("%o.trendLine('Hb', 'g/dL')", { vars: { o: list } })).toEqual(['Hb 12.9 (2026-06-01) → 10.1 g/dL (2026-06-05)']);
  });

  test('values are shown in the unit of the newest result; only the last 6 are kept', () => {
    const list = [hbAt('a', '2026-06-01', 12.5), hbAt('b', '2026-06-05', 101, 'g/L')];
    expect(evaluate("%o.trendLine('Hb', 'g/dL')", { vars: { o: list } })).toEqual(['Hb 125 (2026-06-01) → 101 g/L (2026-06-05)']);
    const many = Array.from({ length: 8 }, (_, i) => hbAt(`h${i}`, `2026-06-0${i + 1}`, 10 + i));
    expect(String(evaluate("%o.trendLine('Hb', 'g/dL')", { vars: { o: many } })[0]).split('→')).toHaveLength(6);
  });

  test('nothing without a convertible result', () => {
    expect(evaluate("%o.trendLine('Hb', 'g/dL')", { vars: { o: [hbAt('a', '2026-06-01', 3, 'furlongs')] } })).toEqual([]);
  });
});

describe('compareValue(threshold[, molarFactor])', () => {
  const ferritin = (value: number, unit: string) => observation('f', '2276-4', { effectiveDateTime: '2026-06-01', valueQuantity: { value, unit } });

  test('below, at and above a threshold quantity, in the threshold unit', () => {
    expect(evaluate("%o.compareValue(15 'ug/L')", { vars: { o: [ferritin(14.9, 'ng/mL'), ferritin(15, 'ug/L'), ferritin(0.016, 'mg/L')] } })).toEqual([-1, 0, 1]);
  });

  test('a unitless threshold compares the bare value; an unconvertible value gives nothing', () => {
    expect(evaluate('%o.compareValue(1.5)', { vars: { o: [observation('i', '6301-6', { valueQuantity: { value: 1.6 } })] } })).toEqual([1]);
    expect(evaluate("%o.compareValue(15 'ug/L')", { vars: { o: [ferritin(3, 'furlongs')] } })).toEqual([]);
  });
});

describe('sentences()', () => {
  test('splits after sentence ends and at line breaks, keeping decimals', () => {
    expect(evaluate("'Nodule 1.5 cm. No effusion!\nBilateral opacities'.sentences()")).toEqual(['Nodule 1.5 cm.', 'No effusion!', 'Bilateral opacities']);
  });
});

describe('now() and today()', () => {
  test('now() is the request clock, not the wall clock', () => {
    const clock = Date.parse('2001-02-03T04:05:06.789Z');
    const [now] = evaluate('now()', { now: clock });
    expect(Date.parse(String(now))).toBe(clock);
  });

  test('now() is the same instant throughout one evaluation', () => {
    expect(evaluate('now() = now()', { now: NOW })).toEqual([true]);
    expect(evaluate("now() - 365 days < now()", { now: NOW })).toEqual([true]);
  });

  test('today() is the request clock’s UTC date', () => {
    expect(evaluate('today()', { now: Date.parse('2026-06-15T23:30:00Z') }).map(String)).toEqual(['2026-06-15']);
  });

  test('now() drives the window functions', () => {
    const o = observation('o', '718-7', { effectiveDateTime: '2026-01-01' });
    expect(ids(evaluate('%o.where(clinicalDate() >= now() - 200 days)', { vars: { o: [o] }, now: NOW }))).toEqual(['o']);
    expect(evaluate('%o.where(clinicalDate() >= now() - 100 days)', { vars: { o: [o] }, now: NOW })).toEqual([]);
  });
});

describe('medication() and evidence()', () => {
  const rxnorm = 'http://www.nlm.nih.gov/research/umls/rxnorm';

  test('medication(): inline concept, contained Medication, or a referenced one', () => {
    const inline = { resourceType: 'MedicationRequest', id: 'a', medicationCodeableConcept: { text: 'Prednisone 20 mg' } };
    const contained = { resourceType: 'MedicationRequest', id: 'b', medicationReference: { reference: '#med' }, contained: [{ resourceType: 'Medication', id: 'med', code: { text: 'Azathioprine 50 mg' } }] };
    const referenced = { resourceType: 'MedicationRequest', id: 'c', medicationReference: { reference: 'Medication/m1' } };
    const referenceable = new Map<string, Json>([['Medication/m1', { resourceType: 'Medication', id: 'm1', code: { coding: [{ system: rxnorm, code: '3002' }], text: 'Cyclophosphamide' } }]]);
    expect(evaluate('%m.medication().text', { vars: { m: [inline, contained, referenced] }, referenceable })).toEqual(['Prednisone 20 mg', 'Azathioprine 50 mg', 'Cyclophosphamide']);
  });

  test('evidence(): a result as "finding: value unit (interpretation) on date"', () => {
    const o = {
      resourceType: 'Observation',
      status: 'final',
      code: { coding: [{ system: LOINC, code: '718-7', display: 'Hemoglobin' }] },
      valueQuantity: { value: 8.2, unit: 'g/dL' },
      interpretation: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation', code: 'L' }] }],
      effectiveDateTime: '2026-05-28T09:30:00Z',
    };
    expect(evaluate('%o.evidence()', { vars: { o: [o] } })).toEqual(['Hemoglobin: 8.2 g/dL (L) on 2026-05-28']);
  });
});
