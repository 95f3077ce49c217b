// Rules as data (src/definitions/checklists.ts, checklist-orders.ts and the library's thresholds, tables and card
// bindings): the real library's exclusion-group table expands into the names the cards and other readers use, each
// group's state follows its tests, its orders into the suggestion set the cards offer, thresholds print in card text
// as the rules compare them, and table defects are load-time issues.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { checkDefinitions, loadRegistry } from '../src/definitions/load';
import { expandOrders } from '../src/definitions/checklist-orders';
import type { LoadIssue, RawChecklist } from '../src/definitions/types';
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

describe('checklist orders expand into a suggestion set', () => {
  const coding = (code: string) => ({ system: LOINC, code, display: `display ${code}` });
  const order = (code: string, extra: Json = {}) => ({ code: coding(code), text: `text ${code}`, kind: 'laboratory', ...extra });
  const checklist: RawChecklist = {
    label: 'c',
    orderTemplate: 'serviceRequest',
    suggestionSet: 'orders',
    tests: [
      { id: 'a', label: 'test A', valueSet: 'x', order: order('1-1') },
      { id: 'b', label: 'test B', valueSet: 'x', order: order('2-2', { description: 'Order the B panel' }) },
      { id: 'c', label: 'test C', valueSet: 'x', order: 'b' },
      { id: 'd', label: 'test D', valueSet: 'x', order: order('4-4') },
    ],
    suggestions: [{ tests: ['a'] }, { label: 'Order A and B', tests: ['a', 'b'] }, { tests: ['b', 'c'] }, { label: 'Order A with D', tests: ['a'], alongside: ['d'] }],
  };
  const expressions: Record<string, string> = {};
  const issues: LoadIssue[] = [];
  const set = expandOrders('c', checklist, 'lib.json', issues, expressions);

  test('one order: labelled by its description, offered when its test is needed, no second condition', () => {
    expect(issues).toEqual([]);
    expect(set[0]).toEqual({ label: 'Order test A', when: 'aNeeded', actions: [{ type: 'create', description: 'Order test A', template: 'serviceRequest', with: { code: coding('1-1'), text: 'text 1-1', kind: 'laboratory' } }] });
  });

  test('several orders: offered when one test is needed (a named condition), one action per order with its own condition', () => {
    expect(set[1]!.when).toBe('aOrBNeeded');
    expect(expressions.aOrBNeeded).toBe('%aNeeded or %bNeeded');
    expect(set[1]!.actions.map((a) => [a.description, a.when])).toEqual([
      ['Order test A', 'aNeeded'],
      ['Order the B panel', 'bNeeded'],
    ]);
  });

  test('tests met by one order (c is ordered by b) give one action', () => {
    expect(set[2]).toMatchObject({ label: 'Order the B panel', when: 'bOrCNeeded' });
    expect(set[2]!.actions).toHaveLength(1);
    expect(set[2]!.actions[0]!.when).toBeUndefined();
  });

  test('an alongside test is ordered with the others when neither done nor pending', () => {
    expect(set[3]!.when).toBe('aNeeded');
    expect(set[3]!.actions.map((a) => a.when)).toEqual(['aNeeded', 'dWithANeeded']);
    expect(expressions.dWithANeeded).toBe('%aNeeded and %dDone.not() and %dPending.not()');
  });

  test('the real work-up: ANA missing offers ANA with anti-dsDNA; a positive ANA offers anti-dsDNA alone', () => {
    const none = evaluate([]);
    expect([none.vars.anaNeeded, none.vars.antiDsdnaWithAnaNeeded, none.vars.antiDsdnaNeeded]).toEqual([[true], [true], [false]]);
    expect(none.vars.mpoAncaOrPr3AncaNeeded).toEqual([true]);
    const pos = { interpretation: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation', code: 'POS' }] }] };
    const positive = evaluate([obs('a', '8061-4', '2026-06-01', pos)]);
    expect([positive.vars.anaNeeded, positive.vars.antiDsdnaWithAnaNeeded, positive.vars.antiDsdnaNeeded]).toEqual([[false], [false], [true]]);
    const urine = evaluate([obs('u', '5794-3', '2026-06-10', { valueString: 'negative' })]);
    expect([urine.vars.urineBloodNeeded, urine.vars.urineProteinNeeded, urine.vars.urineBloodOrUrineProteinNeeded]).toEqual([[false], [true], [true]]);
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

  const workup = (lib: Json) => (lib.checklists as Json).workup as { tests: Json[]; suggestions: Json[]; orderTemplate?: string };
  const testRow = (lib: Json, id: string) => workup(lib).tests.find((t) => t.id === id)!;

  test('a test row whose order has no code is a schema error at that order', () => {
    const issues = withEdit((lib) => delete (testRow(lib, 'mpoAnca').order as Json).code);
    expect(issues).toContain('libraries/iph.json#/checklists/workup/tests/0/order: has a missing member "code"');
  });

  test('a suggestion listing a test without an order', () => {
    const issues = withEdit((lib) => delete testRow(lib, 'pr3Anca').order);
    expect(issues).toEqual(['libraries/iph.json#/checklists/workup/suggestions/0/tests/1: test "pr3Anca" has no order']);
  });

  test('a test ordered by a test that is not in the checklist', () => {
    const issues = withEdit((lib) => (testRow(lib, 'urineProtein').order = 'urineSediment'));
    expect(issues).toEqual(['libraries/iph.json#/checklists/workup/suggestions/8/tests/1: test "urineProtein" is ordered by test "urineSediment", which this checklist does not have']);
  });

  test('a suggestion of several orders without a label', () => {
    const issues = withEdit((lib) => delete workup(lib).suggestions[0]!.label);
    expect(issues).toEqual(['libraries/iph.json#/checklists/workup/suggestions/0/label: a suggestion of several orders needs a label']);
  });

  test('a suggestion naming a test the checklist does not have', () => {
    const issues = withEdit((lib) => (workup(lib).suggestions[1]!.tests = ['antiGbm', 'nope']));
    expect(issues).toContain('libraries/iph.json#/checklists/workup/suggestions/1/tests/1: no test "nope" in this checklist');
  });

  test('suggestions without the template their orders fill', () => {
    const issues = withEdit((lib) => delete workup(lib).orderTemplate);
    expect(issues).toContain('libraries/iph.json#/checklists/workup: is invalid (must have properties suggestionSet, orderTemplate when property suggestions is present)');
  });
});
