// The terminology coverage report (src/definitions/coverage.ts): every value set a rule names cites a source,
// and the table counts codes per system and regex filters.
import path from 'node:path';
import type { ValueSet } from 'fhir/r4';
import { coverageOf, formatCoverage, SOURCE_EXTENSION, sourcesOf } from '../src/definitions/coverage';
import { checkDefinitions } from '../src/definitions/load';

const { coverage, issues } = checkDefinitions(path.join(__dirname, '..', 'cds-services'));
const row = (id: string) => coverage.find((r) => r.id === id);

it('loads clean', () => {
  expect(issues).toEqual([]);
});

it('every value set a rule names cites at least one source (name and location)', () => {
  const uncited = coverage.filter((r) => r.used && r.sources.length === 0).map((r) => r.id);
  expect(uncited).toEqual([]);
  expect(coverage.filter((r) => r.used).length).toBeGreaterThan(50);
});

it('the widened value sets cite their published expansion by OID', () => {
  expect(row('pregnancy')?.sources.map((s) => s.oid)).toContain('2.16.840.1.113883.3.526.3.378');
  expect(row('dah-alternative-cause')?.sources.map((s) => s.oid)).toContain('2.16.840.1.113883.3.526.3.376');
  expect(row('creatinine')?.sources.map((s) => s.oid)).toContain('2.16.840.1.113883.3.666.5.2363');
});

it('marks what the rules name, from memberOf() and from() alike', () => {
  expect(row('pregnancy')?.used).toBe(true); // from('conditions', 'pregnancy')
  expect(row('interpretation-low')?.used).toBe(true); // memberOf('interpretation-low')
});

it('counts listed codes per system and regex filters', () => {
  expect(row('cough')).toMatchObject({ codes: { 'ICD-10-CM': 1, 'SNOMED CT': 1 }, filters: { 'ICD-10-CM': 1 } });
  expect(row('cystic-fibrosis')?.filters).toEqual({ 'ICD-10-CM': 1 });
});

describe('a value set without a citation', () => {
  const bare: ValueSet = { resourceType: 'ValueSet', id: 'bare', url: 'https://iph-cds.dev/fhir/ValueSet/bare', status: 'active', compose: { include: [{ system: 'http://loinc.org', concept: [{ code: '718-7' }] }] } };
  const halfCited: ValueSet = { ...bare, extension: [{ url: SOURCE_EXTENSION, extension: [{ url: 'name', valueString: 'a name but no location' }] }] };

  it('has no source; a citation needs both a name and a location', () => {
    expect(sourcesOf(bare)).toEqual([]);
    expect(sourcesOf(halfCited)).toEqual([]);
  });

  it('is flagged in the table when a rule names it, and not when none does', () => {
    const used = formatCoverage(coverageOf([bare], new Set([bare.url as string])));
    expect(used).toMatch(/^\* bare .*LOINC 1 .*NO SOURCE CITED$/m);
    expect(formatCoverage(coverageOf([bare], new Set()))).toMatch(/^ {2}bare .*sources: none$/m);
  });
});

it('the table has a line per value set, with its sources', () => {
  const text = formatCoverage(coverage);
  expect(text.split('\n')).toHaveLength(coverage.length + 1);
  expect(text).toMatch(/^\* creatinine +LOINC 11 .*Creatinine Lab Test \(OID 2\.16\.840\.1\.113883\.3\.666\.5\.2363/m);
});
