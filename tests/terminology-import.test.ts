// The value-set import tool (tools/valueset-from-expansion.ts) over a small sample expansion in fixtures/expansions.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ValueSet } from 'fhir/r4';
import { codesOf, main, mergeExpansion, oidOf, parseArgs, SOURCE_EXTENSION } from '../tools/valueset-from-expansion';
import { FIXTURES } from './helpers/golden';

const SAMPLE = path.join(FIXTURES, 'expansions', 'creatinine-lab-test-sample.json');
const source = (): ValueSet => JSON.parse(fs.readFileSync(SAMPLE, 'utf8')) as ValueSet;
const LOINC = 'http://loinc.org';

function target(): ValueSet {
  return {
    resourceType: 'ValueSet',
    id: 'creatinine',
    url: 'https://iph-cds.dev/fhir/ValueSet/creatinine',
    status: 'active',
    description: 'Creatinine results (project text that must survive an import).',
    compose: { include: [{ system: LOINC, concept: [{ code: '2160-0', display: 'Creatinine [Mass/volume] in Serum or Plasma' }] }] },
  };
}

const listed = (vs: ValueSet): string[] => (vs.compose?.include ?? []).flatMap((i) => (i.concept ?? []).map((c) => `${i.system}|${c.code}`));
const sourceParts = (vs: ValueSet): Record<string, string | undefined>[] =>
  (vs.extension ?? [])
    .filter((e) => e.url === SOURCE_EXTENSION)
    .map((e) => Object.fromEntries((e.extension ?? []).map((p) => [p.url, p.valueString ?? p.valueOid])));

describe('reading an expansion', () => {
  it('lists nested contains, skipping abstract groupings and inactive codes', () => {
    expect(codesOf(source()).map((c) => c.code)).toEqual(['2160-0', '38483-4', '14682-9', '59826-8']);
  });

  it('falls back to compose.include when there is no expansion', () => {
    const vs: ValueSet = { resourceType: 'ValueSet', status: 'active', compose: { include: [{ system: LOINC, concept: [{ code: '38483-4' }] }] } };
    expect(codesOf(vs)).toEqual([{ system: LOINC, code: '38483-4' }]);
  });

  it('finds the OID in an urn:oid identifier, else in a VSAC url', () => {
    expect(oidOf(source())).toBe('2.16.840.1.113883.3.666.5.2363');
    expect(oidOf({ resourceType: 'ValueSet', status: 'active', url: 'http://cts.nlm.nih.gov/fhir/ValueSet/2.16.840.1.113762.1.4.1248.21' })).toBe('2.16.840.1.113762.1.4.1248.21');
    expect(oidOf({ resourceType: 'ValueSet', status: 'active', url: 'https://example.org/ValueSet/x' })).toBeUndefined();
  });
});

describe('merging into a project value set', () => {
  it('adds only the codes it lacks and keeps id, url and description', () => {
    const before = target();
    const { valueSet, added } = mergeExpansion(before, source());
    expect(added.map((c) => c.code)).toEqual(['38483-4', '14682-9', '59826-8']);
    expect(listed(valueSet)).toEqual(['2160-0', '38483-4', '14682-9', '59826-8'].map((c) => `${LOINC}|${c}`));
    expect(valueSet).toMatchObject({ id: 'creatinine', url: before.url, description: before.description });
    expect(listed(before)).toEqual([`${LOINC}|2160-0`]);
  });

  it('records the source: OID, name, version, location, what was left out and why', () => {
    const { valueSet, excluded } = mergeExpansion(target(), source(), { excludeCodes: ['59826-8'], note: 'molar blood creatinine left out for the test', location: 'fixtures/expansions' });
    expect(excluded.map((c) => c.code)).toEqual(['59826-8']);
    expect(listed(valueSet)).not.toContain(`${LOINC}|59826-8`);
    expect(sourceParts(valueSet)).toEqual([
      {
        oid: 'urn:oid:2.16.840.1.113883.3.666.5.2363',
        name: 'Creatinine Lab Test',
        version: '20250207',
        url: 'http://cts.nlm.nih.gov/fhir/ValueSet/2.16.840.1.113883.3.666.5.2363',
        location: 'fixtures/expansions',
        excluded: '59826-8',
        note: 'molar blood creatinine left out for the test',
      },
    ]);
  });

  it('selects by display and by system', () => {
    expect(mergeExpansion(target(), source(), { includeDisplay: 'moles' }).added.map((c) => c.code)).toEqual(['14682-9', '59826-8']);
    expect(mergeExpansion(target(), source(), { excludeDisplay: 'in blood' }).excluded.map((c) => c.code)).toEqual(['38483-4', '59826-8']);
    expect(mergeExpansion(target(), source(), { systems: ['http://snomed.info/sct'] }).added).toEqual([]);
  });

  it('does not list a code an anchored regex filter of the same system already holds', () => {
    const withFilter = target();
    withFilter.compose?.include.push({ system: LOINC, filter: [{ property: 'code', op: 'regex', value: '38483-4|1468.*' }] });
    expect(mergeExpansion(withFilter, source()).added.map((c) => c.code)).toEqual(['59826-8']);
  });

  it('is idempotent: importing the same expansion twice adds nothing and cites it once', () => {
    const once = mergeExpansion(target(), source()).valueSet;
    const twice = mergeExpansion(once, source());
    expect(twice.added).toEqual([]);
    expect(listed(twice.valueSet)).toEqual(listed(once));
    expect(sourceParts(twice.valueSet)).toHaveLength(1);
  });

  it('creates an include for a system the value set did not hold', () => {
    const empty: ValueSet = { ...target(), compose: { include: [{ system: LOINC, filter: [{ property: 'code', op: 'regex', value: 'x' }] }] } };
    const { valueSet } = mergeExpansion(empty, source());
    expect(valueSet.compose?.include).toHaveLength(2);
    expect(valueSet.compose?.include[0]?.concept).toBeUndefined();
  });
});

describe('command line', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vs-import-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('writes the merged value set, and nothing on --dry-run', () => {
    const file = path.join(dir, 'ValueSet-creatinine.json');
    fs.writeFileSync(file, JSON.stringify(target()));
    const out = jest.spyOn(process.stdout, 'write').mockImplementation(() => true);
    try {
      main(['--expansion', SAMPLE, '--target', file, '--dry-run']);
      expect(listed(JSON.parse(fs.readFileSync(file, 'utf8')) as ValueSet)).toHaveLength(1);
      main(['--expansion', SAMPLE, '--target', file, '--exclude-code', '14682-9,59826-8']);
    } finally {
      out.mockRestore();
    }
    expect(listed(JSON.parse(fs.readFileSync(file, 'utf8')) as ValueSet)).toEqual([`${LOINC}|2160-0`, `${LOINC}|38483-4`]);
  });

  it('refuses a file that is not a ValueSet and incomplete arguments', () => {
    const file = path.join(dir, 'not-a-valueset.json');
    fs.writeFileSync(file, JSON.stringify({ resourceType: 'Bundle' }));
    expect(() => main(['--expansion', file, '--target', file])).toThrow(/not a FHIR ValueSet/);
    expect(() => parseArgs(['--expansion', SAMPLE])).toThrow(/usage/);
    expect(() => parseArgs(['--expansion'])).toThrow(/usage/);
  });
});
