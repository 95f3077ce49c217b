// Rules as data (src/definitions/checklists.ts and the library's thresholds, tables and card bindings): the real
// library's exclusion-group table expands into the names the cards and other readers use, each group's state follows
// its tests, thresholds print in card text as the rules compare them, and table defects are load-time issues.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { checkDefinitions, loadRegistry } from '../src/definitions/load';
import { evaluateService } from '../src/evaluation/evaluate';
import type { HookRequest } from '../src/cds-hooks';

type Json = Record<string, unknown>;
const DEFINITIONS = path.join(__dirname, '..', 'cds-services');
const registry = loadRegistry(DEFINITIONS);
const patientView = registry.services.get('iph-patient-view')!;
const NOW = Date.parse('2026-06-15T12:00:00Z');
const LOINC = 'http://loinc.org';

function obs(id: string, code: string, date: string, extra: Json = {}): Json {
  return { resourceType: 'Observation', id, status: 'final', code: { coding: [{ system: LOINC, code }] }, effectiveDateTime: date, ...extra };
}

function evaluate(resources: Json[], serviceRequests: Json[] = []) {
  const request = { hook: 'patient-view', hookInstance: 'x', context: { patientId: 'p', userId: 'Practitioner/u' } } as unknown as HookRequest;
  const bundle = (list: Json[]) => ({ resourceType: 'Bundle', type: 'searchset', entry: list.map((resource) => ({ resource })) });
  const values = { patient: { resourceType: 'Patient', id: 'p', birthDate: '1990-01-01', gender: 'female' }, conditions: bundle([]), observations: bundle(resources), serviceRequests: bundle(serviceRequests) };
  return evaluateService(patientView, request, { values, unavailable: {} }, NOW, registry.valueSets);
}

describe('the exclusion work-up checklist', () => {
  const workup = patientView.checklists.find((c) => c.id === 'workup')!;

  test('is exposed with the groups the contract names, each with its tests and state names', () => {
    expect(workup.groups.map((g) => g.id)).toEqual(['anca', 'anti-gbm', 'lupus', 'antiphospholipid', 'coagulation', 'renal', 'cardiac']);
    const anca = workup.groups[0]!;
    expect(anca.tests.map((t) => t.valueSet)).toEqual(['mpo-anca', 'pr3-anca']);
    for (const name of [anca.names.done, anca.names.pending, anca.names.missing, ...anca.tests.flatMap((t) => Object.values(t.names))]) {
      expect(patientView.expressions.some((e) => e.name === name)).toBe(true);
    }
  });

  test('a group is done with every test, pending when its missing tests are pending, else missing (named with its tests)', () => {
    const done = evaluate([obs('m', '6969-0', '2026-06-01', { valueQuantity: { value: 1 } }), obs('p', '6968-2', '2026-06-01', { valueQuantity: { value: 1 } })]);
    expect(done.vars.ancaGroupDone).toEqual([true]);
    const pending = evaluate([obs('m', '6969-0', '2026-06-01')], [{ resourceType: 'ServiceRequest', id: 'sr', status: 'active', intent: 'order', code: { coding: [{ system: LOINC, code: '6968-2' }] }, authoredOn: '2026-06-10' }]);
    expect([pending.vars.ancaGroupDone, pending.vars.ancaGroupPending]).toEqual([[false], [true]]);
    expect(pending.vars.workupPendingItems).toHaveLength(1);
    const partial = evaluate([obs('m', '6969-0', '2026-06-01')]);
    expect(partial.vars.ancaGroupMissing).toEqual([true]);
    expect(partial.vars.workupMissingLines).toContain('ANCA: PR3-ANCA not found');
  });

  test('anti-dsDNA is required only after a positive ANA', () => {
    const negative = evaluate([obs('a', '8061-4', '2026-06-01', { interpretation: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation', code: 'NEG' }] }] })]);
    expect(negative.vars.lupusGroupDone).toEqual([true]);
    const positive = evaluate([obs('a', '8061-4', '2026-06-01', { interpretation: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation', code: 'POS' }] }] })]);
    expect(positive.vars.lupusGroupMissing).toEqual([true]);
    expect(positive.vars.antiDsdnaNeeded).toEqual([true]);
  });
});

describe('thresholds and tables', () => {
  test('a named threshold (total IgA 7 mg/dL) decides the rule in any unit', () => {
    const ev = evaluate([obs('iga', '2458-8', '2026-06-01', { valueQuantity: { value: 6.9, unit: 'mg/dL' } })]);
    expect(ev.vars.igaDeficient).toEqual([true]);
    expect(evaluate([obs('iga', '2458-8', '2026-06-01', { valueQuantity: { value: 70, unit: 'mg/L' } })]).vars.igaDeficient).toEqual([false]);
  });

  test('a creatinine without a reference range is judged by the default limit for the age, in any unit', () => {
    const high = evaluate([obs('c', '2160-0', '2026-06-10', { valueQuantity: { value: 120, unit: 'umol/L' } })]);
    expect(high.vars.creatinineHigh).toHaveLength(1);
    const normal = evaluate([obs('c', '2160-0', '2026-06-10', { valueQuantity: { value: 1.2, unit: 'mg/dL' } })]);
    expect(normal.vars.creatinineHigh).toEqual([]);
  });
});

describe('table and checklist defects are load-time issues', () => {
  function withEdit(edit: (lib: Json) => void) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iph-rule-data-'));
    try {
      fs.cpSync(DEFINITIONS, dir, { recursive: true });
      const file = path.join(dir, 'libraries', 'iph.json');
      const lib = JSON.parse(fs.readFileSync(file, 'utf8')) as Json;
      edit(lib);
      fs.writeFileSync(file, JSON.stringify(lib));
      return checkDefinitions(dir).issues.map((i) => `${i.file}#${i.pointer}: ${i.message}`);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }

  test('a table row naming an unknown value set', () => {
    const issues = withEdit((lib) => (((lib.tables as Json).upperLimits as Json[])[0]!.valueSet = 'no-such-set'));
    expect(issues).toContain('libraries/iph.json#/tables/upperLimits/0/valueSet: unknown value set "no-such-set"');
  });

  test('a group naming a test the checklist does not have', () => {
    const issues = withEdit((lib) => ((((lib.checklists as Json).workup as Json).groups as Json[])[0]!.tests = ['mpoAnca', 'nope']));
    expect(issues).toContain('libraries/iph.json#/checklists/workup/groups/0/tests/1: no test "nope" in this checklist');
  });
});
