// Where the SMART app's work-up view reads the definitions: the FHIRPath (mostly bare `%name` references to the
// library's named expressions) for each exclusion group, test, series and event. Compiled once per service; the rules
// themselves stay in cds-services/ and are evaluated by the same engine as the cards.
import type { ServiceDefinition } from '../definitions/types';
import type { CompiledExpression, ExpressionRuntime } from '../fhirpath/runtime';

/** One test of a group: FHIRPath over the request's variables (`%name` reads a named expression). */
interface TestSource {
  id: string;
  label: string;
  /** Usable results that complete the test (newest is shown). */
  results: string;
  /** Pending orders and preliminary results of the test. */
  pending: string;
  /** Boolean: the test is part of its group for this patient. */
  required: string;
}

interface GroupSource {
  id: string;
  label: string;
  done: string;
  pending: string;
  tests: TestSource[];
}

/**
 * The checklist as v3 definitions expose it (`service.checklists`, expanded by the loader from the library's
 * `checklists` table); read structurally so this module works whether or not the loader provides it.
 */
interface LoaderChecklist {
  id: string;
  groups: readonly {
    id: string;
    label: string;
    names: { done: string; pending: string };
    tests: readonly { id: string; label: string; names: { results: string; pending: string } }[];
  }[];
}

const ref = (name: string) => `%${name}`;

function fromLoader(c: LoaderChecklist): GroupSource[] {
  return c.groups.map((g) => ({
    id: g.id,
    label: g.label,
    done: ref(g.names.done),
    pending: ref(g.names.pending),
    tests: g.tests.map((t) => ({ id: t.id, label: t.label, results: ref(t.names.results), pending: ref(t.names.pending), required: `%${t.id}Required` })),
  }));
}

// Until the v3 checklist table reaches the definitions: the library's current group and test names (clinical-rules §3).
// Only names and value-set ids: every judgement is a named expression of cds-services/libraries/iph.json.
const pendingOf = (valueSet: string, panel = valueSet) =>
  `%pendingOrders.where(code.memberOf('${valueSet}') = true or code.memberOf('${panel}') = true) | %preliminaryResults.where(code.memberOf('${valueSet}') = true)`;
const test = (id: string, label: string, valueSet: string, panel?: string, required = 'true'): TestSource => ({
  id,
  label,
  results: ref(`${id}Results`),
  pending: pendingOf(valueSet, panel),
  required,
});
const CURRENT_GROUPS: GroupSource[] = [
  { id: 'anca', label: 'ANCA', done: '%ancaDone', pending: '%ancaPending', tests: [test('mpoAnca', 'MPO-ANCA', 'mpo-anca'), test('pr3Anca', 'PR3-ANCA', 'pr3-anca')] },
  { id: 'anti-gbm', label: 'Anti-GBM', done: '%antiGbmGroupDone', pending: '%antiGbmGroupPending', tests: [test('antiGbm', 'anti-GBM IgG', 'anti-gbm')] },
  { id: 'lupus', label: 'Lupus', done: '%lupusDone', pending: '%lupusPending', tests: [test('ana', 'ANA', 'ana'), test('antiDsdna', 'anti-dsDNA', 'anti-dsdna', undefined, '%antiDsdnaRequired')] },
  {
    id: 'antiphospholipid',
    label: 'Antiphospholipid',
    done: '%antiphospholipidDone',
    pending: '%antiphospholipidPending',
    tests: [test('lupusAnticoagulant', 'lupus anticoagulant', 'lupus-anticoagulant'), test('anticardiolipinIgg', 'anticardiolipin IgG', 'anticardiolipin-igg'), test('beta2GlycoproteinIgg', 'beta-2 glycoprotein I IgG', 'beta2-glycoprotein-igg')],
  },
  { id: 'coagulation', label: 'Coagulation', done: '%coagulationDone', pending: '%coagulationPending', tests: [test('platelets', 'platelet count', 'platelets'), test('ptInr', 'PT/INR', 'pt-inr'), test('aptt', 'aPTT', 'aptt')] },
  {
    id: 'renal',
    label: 'Renal',
    done: '%renalDone',
    pending: '%renalPending',
    tests: [test('urineBlood', 'urine blood', 'urine-blood', 'urinalysis-panel'), test('urineProtein', 'urine protein', 'urine-protein', 'urinalysis-panel'), test('creatinine', 'serum creatinine', 'creatinine')],
  },
  { id: 'cardiac', label: 'Cardiac', done: '%cardiacDone', pending: '%cardiacPending', tests: [{ ...test('echo', 'echocardiogram', 'echocardiogram'), results: '%echoResults' }] },
];

// The hemoglobin cut-off of a result's date: the library's hbCutoff() table row when it has one (v3); until then the
// WHO 2024 bands of isLowHemoglobin() (clinical-rules §3), pregnancy first, nothing under 6 months.
const CURRENT_CUTOFF =
  "defineVariable('m', %patient.ageInMonths(clinicalDate())).select(iif(iif(%pregnancyConditions.empty(), false, %pregnancyConditions.datedBetween(clinicalDate() - 280 days, clinicalDate()).exists()), 11.0, iif(%m.empty() or %m < 6, {}, iif(%m < 24, 10.5, iif(%m < 60, 11.0, iif(%m < 144, 11.5, iif(%m < 180, 12.0, iif(%patient.gender = 'male', 13.0, 12.0))))))))";
const CURRENT_BAND =
  "defineVariable('m', %patient.ageInMonths(clinicalDate())).select(iif(iif(%pregnancyConditions.empty(), false, %pregnancyConditions.datedBetween(clinicalDate() - 280 days, clinicalDate()).exists()), 'pregnancy', iif(%m.empty(), {}, iif(%m < 6, 'under 6 months', iif(%m < 24, '6-23 months', iif(%m < 60, '24-59 months', iif(%m < 144, '5-11 years', iif(%m < 180, '12-14 years', '15 years and over'))))))))";

export interface CompiledTest {
  id: string;
  label: string;
  results: CompiledExpression;
  pending: CompiledExpression;
  required: CompiledExpression;
}

export interface CompiledGroup {
  id: string;
  label: string;
  done: CompiledExpression;
  pending: CompiledExpression;
  tests: CompiledTest[];
}

/** Expressions on one item (`%item`, a result or a dated probe). */
export interface ItemExpressions {
  date: CompiledExpression;
  line: CompiledExpression;
  hbValue: CompiledExpression;
  hbLow: CompiledExpression;
  hbCutoff: CompiledExpression;
  hbBand: CompiledExpression;
  ferritinValue: CompiledExpression;
  /** Each ferritin judged against its own cut-off, when the library has the per-result function (v3 isLowFerritin). */
  ferritinLow?: CompiledExpression;
  resultState: CompiledExpression;
}

export interface WorkupDefinitions {
  groups: CompiledGroup[];
  /** Collections over the whole record. */
  hemoglobin: CompiledExpression;
  ferritin: CompiledExpression;
  ferritinLatestLow: CompiledExpression;
  ferritinLatest: CompiledExpression;
  events: { kind: 'hemoptysis' | 'infiltrate' | 'bal' | 'iron-therapy'; items: CompiledExpression }[];
  infectionChecked: CompiledExpression;
  infectionResults: CompiledExpression;
  celiacDiagnosed: CompiledExpression;
  celiacSuspected: CompiledExpression;
  celiacLines: CompiledExpression;
  onGlutenFreeDiet: CompiledExpression;
  under3Years: CompiledExpression;
  unavailableLabels: CompiledExpression;
  item: ItemExpressions;
}

/** How far back the chart reaches (issue 17: up to 5 years). */
export const SERIES_DAYS = 1826;

export function compileWorkupDefinitions(service: ServiceDefinition, runtime: ExpressionRuntime): WorkupDefinitions {
  const c = (s: string) => runtime.compile(s);
  const loader = ((service as unknown as { checklists?: LoaderChecklist[] }).checklists ?? []).find((x) => x.id === 'workup');
  const groups = loader ? fromLoader(loader) : CURRENT_GROUPS;
  const hasCutoffTable = runtime.functionNames.has('hbCutoff');
  const window = `datedBetween(now() - ${SERIES_DAYS} days, now())`;
  return {
    groups: groups.map((g) => ({
      id: g.id,
      label: g.label,
      done: c(g.done),
      pending: c(g.pending),
      tests: g.tests.map((t) => ({ id: t.id, label: t.label, results: c(t.results), pending: c(t.pending), required: c(t.required) })),
    })),
    hemoglobin: c(`%hemoglobinResults.${window}`),
    ferritin: c(`from('observations', 'ferritin').usable().${window}`),
    ferritinLatest: c('%ferritinLatest'),
    ferritinLatestLow: c('%ferritinLatestLow'),
    events: [
      { kind: 'hemoptysis', items: c(`from('conditions', 'hemoptysis').usable().${window}`) },
      { kind: 'infiltrate', items: c(`from('conditions', 'lung-infiltrate').usable().combine(%reports.usable().where(conclusionCode.memberOf('lung-infiltrate') = true)).${window}`) },
      { kind: 'bal', items: c(`from('procedures', 'bal-procedure').usable().combine(%balHemosiderinResults).combine(from('observations', 'bal-microbiology').usable()).${window}`) },
      // No iron code is listed in terminology.md: iron therapy is recognised by ingredient name, as drug classes are (§5).
      { kind: 'iron-therapy', items: c(`%medicationRequests.where(medication().text.combine(medication().coding.display).where(lower().matches('\\\\b(iron|ferrous|ferric)\\\\b')).exists())`) },
    ],
    infectionChecked: c('%infectionChecked'),
    infectionResults: c("from('observations', 'bal-microbiology').usable().withinDays(365)"),
    celiacDiagnosed: c('%celiacDiagnosed'),
    celiacSuspected: c('%celiacSuspected'),
    celiacLines: c('%celiacConditions.usable().evidence() | %celiacSerologyRecent.evidence()'),
    onGlutenFreeDiet: c('%onGlutenFreeDiet'),
    under3Years: c('%under3Years'),
    unavailableLabels: c('%unavailableDataLabels'),
    item: {
      date: c('%item.clinicalDate()'),
      line: c('%item.evidence()'),
      hbValue: c("%item.valueIn('g/dL', 1.611)"),
      hbLow: c('%item.isLowHemoglobin()'),
      hbCutoff: c(hasCutoffTable ? '%item.hbCutoff().cutoff.toDecimal()' : `%item.${CURRENT_CUTOFF}`),
      hbBand: c(hasCutoffTable ? '%item.hbCutoff().band' : `%item.${CURRENT_BAND}`),
      ferritinValue: c("%item.valueIn('ug/L')"),
      ...(runtime.functionNames.has('isLowFerritin') ? { ferritinLow: c('%item.isLowFerritin()') } : {}),
      resultState: c("iif(%item.intersect(%positiveResults).exists(), 'positive', iif(%item.intersect(%negativeResults).exists(), 'negative', iif(%item.intersect(%stateResults).exists(), 'unclassified', {})))"),
    },
  };
}
