// Clinical time (src/evaluation/clinical-time.ts) as clinical-rules §2 reads dates: partial dates are their first
// instant, no offset means UTC, offsets are honoured, and each resource type has one clinical date.
import { clinicalDateOf, completedMonths, isoDay, parseFhirDate } from '../src/evaluation/clinical-time';

const utc = (...a: [number, number, number?, number?, number?, number?, number?]) => Date.UTC(...a);

describe('parseFhirDate', () => {
  test.each([
    ['2026', utc(2026, 0, 1)],
    ['2026-03', utc(2026, 2, 1)],
    ['2026-03-07', utc(2026, 2, 7)],
    ['2026-03-07T10:20', utc(2026, 2, 7, 10, 20)],
    ['2026-03-07T10:20:30', utc(2026, 2, 7, 10, 20, 30)],
    ['2026-03-07T10:20:30.5', utc(2026, 2, 7, 10, 20, 30, 500)],
    ['2026-03-07T10:20:30.123Z', utc(2026, 2, 7, 10, 20, 30, 123)],
    ['2026-03-07T10:20:30Z', utc(2026, 2, 7, 10, 20, 30)],
    ['2026-03-07T10:20:30+02:00', utc(2026, 2, 7, 8, 20, 30)],
    ['2026-03-07T10:20:30-05:30', utc(2026, 2, 7, 15, 50, 30)],
    ['2026-03-07T01:15:00+01:45', utc(2026, 2, 6, 23, 30)],
    ['  2026-03-07  ', utc(2026, 2, 7)],
  ])('%s', (text, expected) => {
    expect(parseFhirDate(text)).toBe(expected);
  });

  test.each([['not a date'], ['2026-3-7'], ['20260307'], ['2026-03-07T10'], ['2026-03-07 10:20'], [''], ['2026-03-07T10:20:30+0200']])('rejects %j', (text) => {
    expect(parseFhirDate(text)).toBeUndefined();
  });

  test('non-strings are not dates', () => {
    expect(parseFhirDate(undefined)).toBeUndefined();
    expect(parseFhirDate(20260307)).toBeUndefined();
    expect(parseFhirDate({ value: '2026-03-07' })).toBeUndefined();
  });
});

describe('parseFhirDate against the grammar', () => {
  // The FHIR date/dateTime/instant grammar the parser implements, as a regular expression: the oracle.
  const GRAMMAR = /^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?(Z|[+-]\d{2}:\d{2})?)?)?)?$/;
  function byGrammar(text: string): number | undefined {
    const m = GRAMMAR.exec(text.trim());
    if (!m) return undefined;
    const [, y, mo = '01', d = '01', h = '00', mi = '00', s = '00', frac = '0', tz] = m;
    let t = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s), Math.round(Number(`0.${frac}`) * 1000));
    if (tz && tz !== 'Z') t -= (tz.startsWith('-') ? -1 : 1) * (Number(tz.slice(1, 3)) * 60 + Number(tz.slice(4, 6))) * 60_000;
    return Number.isFinite(t) ? t : undefined;
  }
  // Seeded so a failure reproduces: prefixes of valid dates, then one character replaced, dropped or added.
  let seed = 12345;
  const random = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) % n);
  const valid = ['2026-03-07T10:20:30.123+02:00', '1999-12-31T23:59:59.9999Z', '2024-02-29T00:00-11:30', '0001-01-01', '2026-13-40T25:61:61'];
  const alphabet = '0123456789-+:TZ. xa';
  const cases = new Set<string>();
  for (const v of valid) for (let i = 0; i <= v.length; i++) cases.add(v.slice(0, i));
  for (let k = 0; k < 3000; k++) {
    const v = valid[random(valid.length)] as string;
    const at = random(v.length + 1);
    const c = alphabet[random(alphabet.length)] as string;
    const op = random(3);
    cases.add(op === 0 ? v.slice(0, at) + c + v.slice(at + 1) : op === 1 ? v.slice(0, at) + v.slice(at + 1) : v.slice(0, at) + c + v.slice(at));
  }

  test('agrees with the grammar on every prefix and on thousands of one-character edits', () => {
    const disagreements = [...cases].filter((t) => parseFhirDate(t) !== byGrammar(t));
    expect(disagreements).toEqual([]);
    expect([...cases].filter((t) => byGrammar(t) !== undefined).length).toBeGreaterThan(100);
  });
});

describe('clinicalDateOf', () => {
  test.each([
    ['Condition onsetDateTime first', { resourceType: 'Condition', onsetDateTime: '2026-01-02', onsetPeriod: { start: '2025-01-01' }, recordedDate: '2024-01-01' }, '2026-01-02'],
    ['Condition onsetPeriod.start next', { resourceType: 'Condition', onsetPeriod: { start: '2025-01-01', end: '2025-06-01' }, recordedDate: '2024-01-01' }, '2025-01-01'],
    ['Condition recordedDate last', { resourceType: 'Condition', recordedDate: '2024-01-01' }, '2024-01-01'],
    ['Observation effectiveDateTime', { resourceType: 'Observation', effectiveDateTime: '2026-02-03', issued: '2026-02-05T00:00:00Z' }, '2026-02-03'],
    ['Observation effectiveInstant', { resourceType: 'Observation', effectiveInstant: '2026-02-04T00:00:00Z', issued: '2026-02-05T00:00:00Z' }, '2026-02-04'],
    ['Observation effectivePeriod.end', { resourceType: 'Observation', effectivePeriod: { start: '2026-01-01', end: '2026-01-09' } }, '2026-01-09'],
    ['Observation effectivePeriod.start without end', { resourceType: 'Observation', effectivePeriod: { start: '2026-01-01' } }, '2026-01-01'],
    ['Observation issued last', { resourceType: 'Observation', issued: '2026-02-05T00:00:00Z' }, '2026-02-05'],
    ['DiagnosticReport like Observation', { resourceType: 'DiagnosticReport', effectivePeriod: { end: '2026-01-09' } }, '2026-01-09'],
    ['Procedure performedDateTime', { resourceType: 'Procedure', performedDateTime: '2026-03-01', performedPeriod: { end: '2026-04-01' } }, '2026-03-01'],
    ['Procedure performedPeriod.end', { resourceType: 'Procedure', performedPeriod: { start: '2026-03-01', end: '2026-04-01' } }, '2026-04-01'],
    ['ServiceRequest authoredOn', { resourceType: 'ServiceRequest', authoredOn: '2026-05-01' }, '2026-05-01'],
    ['MedicationRequest authoredOn', { resourceType: 'MedicationRequest', authoredOn: '2026-05-02' }, '2026-05-02'],
    ['NutritionOrder dateTime', { resourceType: 'NutritionOrder', dateTime: '2026-05-03' }, '2026-05-03'],
  ])('%s', (_name, resource, day) => {
    const t = clinicalDateOf(resource);
    expect(t).toBeDefined();
    expect(isoDay(t as number)).toBe(day);
  });

  test('undated resources and other types have no clinical date', () => {
    expect(clinicalDateOf({ resourceType: 'Condition' })).toBeUndefined();
    expect(clinicalDateOf({ resourceType: 'Observation', effectivePeriod: 'nonsense' })).toBeUndefined();
    expect(clinicalDateOf({ resourceType: 'Patient', birthDate: '2020-01-01' })).toBeUndefined();
    expect(clinicalDateOf({ resourceType: 'Procedure', performedPeriod: {} })).toBeUndefined();
  });

  test('remembers each resource, undated ones included', () => {
    const r = { resourceType: 'Condition', recordedDate: '2024-01-01' } as Record<string, unknown>;
    const first = clinicalDateOf(r);
    r.recordedDate = '2025-01-01';
    expect(clinicalDateOf(r)).toBe(first);
    const undated = { resourceType: 'Condition' } as Record<string, unknown>;
    expect(clinicalDateOf(undated)).toBeUndefined();
    undated.recordedDate = '2025-01-01';
    expect(clinicalDateOf(undated)).toBeUndefined();
  });
});

describe('completedMonths', () => {
  test.each([
    ['same instant', utc(2020, 0, 15), utc(2020, 0, 15), 0],
    ['one day short of a month', utc(2020, 0, 15), utc(2020, 1, 14), 0],
    ['exactly one month', utc(2020, 0, 15), utc(2020, 1, 15), 1],
    ['one minute short of six months', utc(2020, 0, 15, 12, 0), utc(2020, 6, 15, 11, 59), 5],
    ['six months to the minute', utc(2020, 0, 15, 12, 0), utc(2020, 6, 15, 12, 0), 6],
    ['one second short', utc(2020, 0, 15, 12, 0, 30), utc(2020, 6, 15, 12, 0, 29), 5],
    ['one millisecond short', utc(2020, 0, 15, 12, 0, 30, 5), utc(2020, 6, 15, 12, 0, 30, 4), 5],
    ['one hour short', utc(2020, 0, 15, 12), utc(2020, 6, 15, 11, 30), 5],
    ['five years', utc(2015, 5, 1), utc(2020, 5, 1), 60],
    ['five years less a day', utc(2015, 5, 1), utc(2020, 4, 31), 59],
    ['across a year end', utc(2019, 10, 20), utc(2020, 1, 20), 3],
  ])('%s', (_name, birth, at, months) => {
    expect(completedMonths(birth, at)).toBe(months);
  });
});

test('isoDay gives the UTC calendar day', () => {
  expect(isoDay(utc(2026, 11, 31, 23, 59))).toBe('2026-12-31');
  expect(isoDay(utc(2027, 0, 1, 0, 0))).toBe('2027-01-01');
});
