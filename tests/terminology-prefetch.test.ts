// Prefetch code lists generated from the value sets (src/definitions/prefetch-codes.ts): rendering, the URL
// length limit, what cannot be listed, and the check that rules never read codes their prefetch filters away.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import request from 'supertest';
import type { ValueSet } from 'fhir/r4';
import { readConfig } from '../src/service';
import { checkDefinitions, loadRegistry } from '../src/definitions/load';
import { checkPrefetchReads, MAX_PREFETCH_QUERY_LENGTH, renderPrefetchCodes } from '../src/definitions/prefetch-codes';
import type { LoadIssue } from '../src/definitions/types';
import { createApp } from '../src/http/app';
import { memoryStorage } from './helpers/test-storage';
import { createLogger } from '../src/logger';

const LOINC = 'http://loinc.org';
const SCT = 'http://snomed.info/sct';
const url = (id: string) => `https://iph-cds.dev/fhir/ValueSet/${id}`;
const vs = (id: string, include: ValueSet['compose']): ValueSet => ({ resourceType: 'ValueSet', id, url: url(id), status: 'active', compose: include });

const sets = new Map<string, ValueSet>(
  [
    vs('hb', { include: [{ system: LOINC, concept: [{ code: '718-7' }, { code: '59260-0' }] }] }),
    vs('creat', { include: [{ system: LOINC, concept: [{ code: '2160-0' }, { code: '38483-4' }, { code: '718-7' }] }] }),
    vs('imaging', { include: [{ system: LOINC, concept: [{ code: '36643-5' }] }, { system: SCT, concept: [{ code: '399208008' }] }] }),
    vs('icd-prefix', { include: [{ system: 'http://hl7.org/fhir/sid/icd-10-cm', filter: [{ property: 'code', op: 'regex', value: 'R05(\\..*)?' }] }] }),
    vs('odd-code', { include: [{ system: LOINC, concept: [{ code: 'a,b' }] }] }),
  ].map((v) => [v.url as string, v]),
);

function render(codes: NonNullable<Parameters<typeof renderPrefetchCodes>[0][string]['codes']>, query = 'Observation?patient={{context.patientId}}') {
  const issues: LoadIssue[] = [];
  const out = renderPrefetchCodes({ labs: { query, required: false, codes } }, sets, 'lib.json', issues);
  return { query: out.prefetch.labs?.query, listed: out.listed.get('labs'), issues: issues.map((i) => `${i.pointer}: ${i.message}`) };
}

describe('rendering codes into the query', () => {
  it('appends code=system|code,... in value-set order without repeats', () => {
    expect(render(['hb', 'creat'])).toEqual({
      query: `Observation?patient={{context.patientId}}&code=${LOINC}|718-7,${LOINC}|59260-0,${LOINC}|2160-0,${LOINC}|38483-4`,
      listed: new Set([`${LOINC}|718-7`, `${LOINC}|59260-0`, `${LOINC}|2160-0`, `${LOINC}|38483-4`]),
      issues: [],
    });
  });

  it('can take only some systems of a value set, and starts the search when the query has none', () => {
    expect(render([{ valueSet: 'imaging', systems: [SCT] }], 'Procedure').query).toBe(`Procedure?code=${SCT}|399208008`);
  });

  it('leaves keys without codes unchanged', () => {
    const out = renderPrefetchCodes({ patient: { query: 'Patient/{{context.patientId}}', required: true } }, sets, 'lib.json', []);
    expect(out.prefetch).toEqual({ patient: { query: 'Patient/{{context.patientId}}', required: true } });
  });
});

describe('what cannot be rendered is a load issue', () => {
  it.each([
    [['nope'], '/prefetch/labs/codes/0: unknown value set "nope"'],
    [['icd-prefix'], '/prefetch/labs/codes/0: value set "icd-prefix" has a regex filter on http://hl7.org/fhir/sid/icd-10-cm: its codes cannot be listed in a search'],
    [['odd-code'], '/prefetch/labs/codes/0: code "a,b" of value set "odd-code" cannot be written unescaped in a search URL'],
    [[{ valueSet: 'hb', systems: [SCT] }], '/prefetch/labs/codes/0: value set "hb" holds no code of http://snomed.info/sct'],
  ] as const)('%j', (codes, issue) => {
    expect(render([...codes]).issues).toEqual([issue]);
  });

  it('a hand-written code= next to codes', () => {
    expect(render(['hb'], `Observation?patient={{context.patientId}}&code=${LOINC}|718-7`).issues).toEqual(['/prefetch/labs/query: a query with `codes` must not also list code= by hand']);
  });

  it('a list whose rendered query would pass the length limit (patient id counted at 64 characters)', () => {
    const many = vs('many', { include: [{ system: LOINC, concept: Array.from({ length: 300 }, (_, i) => ({ code: `${10000 + i}-0` })) }] });
    const issues: LoadIssue[] = [];
    renderPrefetchCodes({ labs: { query: 'Observation?patient={{context.patientId}}', required: false, codes: ['many'] } }, new Map([[many.url as string, many]]), 'lib.json', issues);
    expect(issues).toHaveLength(1);
    expect(issues[0]?.message).toMatch(new RegExp(`lists 300 codes and renders to about \\d+ characters, over the ${MAX_PREFETCH_QUERY_LENGTH} accepted: split it into keys or use a category search`));
  });
});

describe('rules must not read codes their prefetch filters away', () => {
  const listed = new Map([
    ['labs', new Set([`${LOINC}|718-7`, `${LOINC}|59260-0`])],
    ['procedures', new Set([`${LOINC}|36643-5`, `${SCT}|399208008`])],
  ]);
  const check = (reads: Record<string, string[]>) => {
    const issues: LoadIssue[] = [];
    checkPrefetchReads(listed, new Map(Object.entries(reads).map(([k, v]) => [k, new Set(v)])), sets, (key) => `${key}.json`, issues);
    return issues.map((i) => `${i.file}: ${i.message}`);
  };

  it('passes when every code read is listed, and ignores keys without codes', () => {
    expect(check({ labs: ['hb'], conditions: ['icd-prefix'] })).toEqual([]);
  });

  it('accepts a read another code-filtered key serves in full (a generic template reading every key)', () => {
    expect(check({ labs: ['imaging'], procedures: ['hb'] })).toEqual([]);
  });

  it('names the value set and the codes a partial list would filter away', () => {
    expect(check({ labs: ['creat'] })).toEqual([`labs.json: rules read value set "creat" from labs, but 2 of its codes are not in the labs query (${LOINC}|2160-0, ${LOINC}|38483-4)`]);
    expect(check({ labs: ['icd-prefix'] })).toEqual(['labs.json: rules read value set "icd-prefix" from labs, whose regex filter cannot be listed in its code search']);
  });

  it('flags a value set no search lists at all', () => {
    const unlisted = new Map(sets).set(url('hbsag-like'), vs('hbsag-like', { include: [{ system: LOINC, concept: [{ code: '5196-1' }] }] }));
    const issues: LoadIssue[] = [];
    checkPrefetchReads(listed, new Map([['labs', new Set(['hbsag-like'])]]), unlisted, () => 'lib.json', issues);
    expect(issues.map((i) => i.message)).toEqual([`rules read value set "hbsag-like" from labs, but no prefetch search lists its codes (${LOINC}|5196-1)`]);
  });
});

describe('the real definitions', () => {
  const registry = loadRegistry(path.join(__dirname, '..', 'cds-services'));
  const service = registry.services.get('iph-patient-view');

  it('generate the observation and procedure searches from the value sets, within the limit', () => {
    const obs = service?.prefetch.observations?.query ?? '';
    const proc = service?.prefetch.procedures?.query ?? '';
    expect(obs).toContain(`${LOINC}|38483-4`); // creatinine in blood (VSAC Creatinine Lab Test)
    expect(obs).toContain(`${LOINC}|718-7`);
    expect(proc).toContain(`${SCT}|399208008`); // chest radiograph recorded as a Procedure
    expect(proc).toContain(`${SCT}|169069000`); // chest CT recorded as a Procedure
    for (const q of [obs, proc]) expect(q.replace('{{context.patientId}}', 'x'.repeat(64)).length).toBeLessThanOrEqual(MAX_PREFETCH_QUERY_LENGTH);
  });

  it('discovery advertises the rendered queries', async () => {
    const app = createApp(registry, readConfig({ NODE_ENV: 'test' }), { log: createLogger({ level: 'silent' }), ...memoryStorage() });
    const res = await request(app).get('/cds-services');
    const advertised = (res.body as { services: { id: string; prefetch: Record<string, string> }[] }).services.find((s) => s.id === 'iph-patient-view');
    expect(advertised?.prefetch.observations).toBe(service?.prefetch.observations?.query);
    expect(advertised?.prefetch.observations).toContain(`${LOINC}|38483-4`);
  });
});

it('a library whose code list drops a value set its rules read is refused at load, naming the key', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iph-prefetch-'));
  try {
    fs.cpSync(path.join(__dirname, '..', 'cds-services'), dir, { recursive: true });
    const file = path.join(dir, 'libraries', 'iph.json');
    const lib = JSON.parse(fs.readFileSync(file, 'utf8')) as { prefetch: Record<string, { codes?: string[] }> };
    lib.prefetch.observations!.codes = lib.prefetch.observations!.codes!.filter((c) => c !== 'creatinine');
    fs.writeFileSync(file, JSON.stringify(lib));
    const { issues } = checkDefinitions(dir);
    expect(issues.map((i) => `${i.file}#${i.pointer}: ${i.message.split(' (')[0]}`)).toContain(
      'libraries/iph.json#/prefetch/observations/codes: rules read value set "creatinine" from observations, but no prefetch search lists its codes',
    );
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
