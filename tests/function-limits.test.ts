// Cost and input limits of the service's FHIRPath functions and the record layer: every function on 20,000 results
// gives the right answer (the cost of each is stated in its module; the deadline is tested in eval-pool.test.ts), and
// strings past the limits of src/limits.ts (units, codes, systems, dates, references) are unusable, never parsed.
import { buildRecordIndex } from '../src/evaluation/record-index';
import { compileText, renderText } from '../src/evaluation/templates';
import { FACTOR_CACHE_ENTRIES, factorCacheSize, quantityIn } from '../src/evaluation/quantities';
import { describeValue } from '../src/evaluation/evidence';
import { MAX_CODE_LENGTH, MAX_DATE_LENGTH, MAX_REFERENCE_LENGTH, MAX_SYSTEM_LENGTH, MAX_UNIT_LENGTH } from '../src/limits';
import { evaluate, NOW } from './helpers/evaluate';
import { runtime, valueSets } from './helpers/runtime';

type Json = Record<string, unknown>;

const N = 20_000;
const LOINC = 'http://loinc.org';
const UCUM = 'http://unitsofmeasure.org';
const HEMOGLOBIN = '718-7';

/** Hemoglobin i: dated i minutes before now, 12 g/dL except the two that make one known fall. */
function hemoglobin(i: number, extra: Json = {}): Json {
  const value = i === 100 ? 14 : i === 50 ? 9 : 12;
  return {
    resourceType: 'Observation',
    id: `hb-${i}`,
    status: i % 10 === 0 ? 'preliminary' : 'final',
    code: { coding: [{ system: LOINC, code: HEMOGLOBIN }] },
    effectiveDateTime: new Date(NOW - i * 60_000).toISOString(),
    valueQuantity: { value, unit: 'g/dL', system: UCUM, code: 'g/dL' },
    ...extra,
  };
}

const results = Array.from({ length: N }, (_, i) => hemoglobin(i));
const values = { observations: { resourceType: 'Bundle', type: 'searchset', entry: results.map((resource) => ({ resource })) } };

describe('every function on 20,000 results', () => {
  test('from() and the record index select all 20,000 by value set, in record order', () => {
    const out = evaluate("from('observations', 'hemoglobin')", { values });
    expect(out).toHaveLength(N);
    expect((out[0] as Json).id).toBe('hb-0');
    expect((out[N - 1] as Json).id).toBe(`hb-${N - 1}`);
  });

  test('memberOf() over 20,000 codings', () => {
    const codings = Array.from({ length: N }, (_, i) => ({ system: LOINC, code: i === N - 1 ? HEMOGLOBIN : `x-${i}` }));
    expect(evaluate("%c.memberOf('hemoglobin')", { vars: { c: codings } })).toEqual([true]);
    expect(evaluate("%c.where(memberOf('hemoglobin')).count()", { vars: { c: codings } })).toEqual([1]);
  });

  test('usable(), withStatus(), withinDays(), datedBetween(), clinicalDate()', () => {
    const opts = { values };
    expect(evaluate("from('observations', 'hemoglobin').usable().count()", opts)).toEqual([N - N / 10]);
    expect(evaluate("from('observations', 'hemoglobin').withStatus('preliminary').count()", opts)).toEqual([N / 10]);
    // i minutes before now: within 7 days means i <= 10,080.
    expect(evaluate("from('observations', 'hemoglobin').withinDays(7).count()", opts)).toEqual([7 * 1440 + 1]);
    expect(evaluate("from('observations', 'hemoglobin').datedBetween(now() - 1 days, now()).count()", opts)).toEqual([1441]);
    expect(evaluate("from('observations', 'hemoglobin').clinicalDate().count()", opts)).toEqual([N]);
  });

  test('latest() and latestWhere() (which stops at the first match, newest first)', () => {
    expect(evaluate("from('observations', 'hemoglobin').latest().id", { values })).toEqual(['hb-0']);
    expect(evaluate("from('observations', 'hemoglobin').latestWhere(valueQuantity.value < 10).id", { values })).toEqual(['hb-50']);
    expect(evaluate("from('observations', 'hemoglobin').latestWhere(valueQuantity.value > 100).id", { values })).toEqual([]);
  });

  test('fallPair() (one sort and a sliding window) and valueIn()', () => {
    expect(evaluate("from('observations', 'hemoglobin').fallPair(7, 30, 'g/dL').count()", { values })).toEqual([2]);
    expect(evaluate("from('observations', 'hemoglobin').fallPair(7, 30, 'g/dL').select(valueIn('g/dL')).first() - from('observations', 'hemoglobin').fallPair(7, 30, 'g/dL').select(valueIn('g/dL')).last()", { values })).toEqual([5]);
    expect(evaluate("from('observations', 'hemoglobin').valueIn('g/L').count()", { values })).toEqual([N]);
    expect(evaluate("from('observations', 'hemoglobin').valueIn('g/L').max()", { values })).toEqual([140]);
  });

  test('ageInMonths() and ageInYears() read one birth date whatever the input', () => {
    const patients = Array.from({ length: N }, (_, i) => ({ resourceType: 'Patient', id: `p${i}`, birthDate: '2016-06-15' }));
    expect(evaluate('%p.ageInYears()', { vars: { p: patients } })).toEqual([10]);
    expect(evaluate('%p.ageInMonths()', { vars: { p: patients } })).toEqual([120]);
  });

  test('medication() over 20,000 orders and evidence() over 20,000 results', () => {
    const orders = Array.from({ length: N }, (_, i) => ({ resourceType: 'MedicationRequest', id: `m${i}`, medicationCodeableConcept: { text: `drug ${i}` } }));
    expect(evaluate('%m.medication().count()', { vars: { m: orders } })).toEqual([N]);
    const lines = evaluate("from('observations', 'hemoglobin').evidence()", { values }) as string[];
    expect(lines).toHaveLength(N);
    expect(lines[0]).toBe('718-7: preliminary on 2026-06-15');
    expect(lines[1]).toBe('718-7: 12 g/dL on 2026-06-15');
  });

  test('a template list line renders one line per value for 20,000 values', () => {
    const text = compileText(['Results:', '- {{%r.evidence()}}'], runtime, '/test');
    const vars = { r: results };
    const out = renderText(text, (expr) => expr.evaluate({}, vars));
    expect(out.split('\n')).toHaveLength(N + 1);
  });

  test('the record index of 20,000 resources with 20,000 distinct codes answers a value set', () => {
    const many = results.map((r, i) => ({ ...r, code: { coding: [{ system: LOINC, code: i === 7 ? HEMOGLOBIN : `c-${i}` }] } }));
    const index = buildRecordIndex({ observations: { resourceType: 'Bundle', entry: many.map((resource) => ({ resource })) } }, valueSets);
    expect(index.coded('observations', 'https://iph-cds.dev/fhir/ValueSet/hemoglobin').map((r) => r.id)).toEqual(['hb-7']);
  });
});

describe('strings past the limits are unusable, never parsed', () => {
  test('an over-long unit is never converted and shows as unreadable in evidence', () => {
    const unit = 'g'.repeat(MAX_UNIT_LENGTH + 1);
    expect(quantityIn({ value: 12, unit }, 'g/dL')).toBeUndefined();
    expect(quantityIn({ value: 12, system: UCUM, code: unit, unit: 'g/dL' }, 'g/dL')).toBeUndefined();
    expect(describeValue({ value: 12, unit })).toBe('12 (unit unreadable)');
    const long = hemoglobin(1, { valueQuantity: { value: 12, unit: `g/dL${'('.repeat(40_000)}` } });
    expect(evaluate("from('observations', 'hemoglobin').valueIn('g/dL')", { values: { observations: long } })).toEqual([]);
    // A unit at the limit is still read.
    expect(quantityIn({ value: 12, unit: 'g/dL' + ' '.repeat(MAX_UNIT_LENGTH - 4) }, 'g/dL')).toBe(12);
  });

  test('the unit-conversion cache stays bounded whatever units arrive', () => {
    for (let i = 0; i < FACTOR_CACHE_ENTRIES + 500; i++) quantityIn({ value: 1, unit: `u${i}` }, 'g/dL');
    expect(factorCacheSize()).toBeLessThanOrEqual(FACTOR_CACHE_ENTRIES);
    expect(quantityIn({ value: 1, unit: 'g/L' }, 'g/dL')).toBe(0.1);
  });

  test('over-long codes and systems are in no value set and are not indexed', () => {
    const code = `718-7${'0'.repeat(MAX_CODE_LENGTH)}`;
    expect(valueSets.contains('https://iph-cds.dev/fhir/ValueSet/hemoglobin', LOINC, code)).toBe(false);
    expect(valueSets.contains('https://iph-cds.dev/fhir/ValueSet/hemoglobin', LOINC + '/'.repeat(MAX_SYSTEM_LENGTH), HEMOGLOBIN)).toBe(false);
    const odd = hemoglobin(1, { code: { coding: [{ system: LOINC, code }, { system: LOINC, code: HEMOGLOBIN }] } });
    expect(evaluate("from('observations', 'hemoglobin').id", { values: { observations: odd } })).toEqual(['hb-1']);
  });

  test('an over-long date is no date (undated in evidence, never within a window)', () => {
    const date = `2026-06-15T10:00:00.${'0'.repeat(MAX_DATE_LENGTH)}Z`;
    const r = hemoglobin(1, { effectiveDateTime: date });
    expect(evaluate("from('observations', 'hemoglobin').withinDays(30).count()", { values: { observations: r } })).toEqual([0]);
    expect(describeValue(r)).toBe('718-7: 12 g/dL (undated)');
  });

  test('an over-long medication reference resolves to nothing', () => {
    const ref = `Medication/${'m'.repeat(MAX_REFERENCE_LENGTH)}`;
    const referenceable = new Map<string, Json>([[ref, { resourceType: 'Medication', id: 'm', code: { text: 'Prednisone' } }]]);
    const order = { resourceType: 'MedicationRequest', id: 'o', medicationReference: { reference: ref } };
    expect(evaluate('%m.medication()', { vars: { m: [order] }, referenceable })).toEqual([]);
  });
});
