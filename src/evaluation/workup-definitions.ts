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

const ref = (name: string) => `%${name}`;

/** The exclusion work-up checklist the loader expands from the library's `checklists` table (id `workup`). */
function workupGroups(service: ServiceDefinition): GroupSource[] {
  const checklist = service.checklists.find((x) => x.id === 'workup');
  if (!checklist) throw new Error(`service ${service.id} has no "workup" checklist`);
  return checklist.groups.map((g) => ({
    id: g.id,
    label: g.label,
    done: ref(g.names.done),
    pending: ref(g.names.pending),
    tests: g.tests.map((t) => ({ id: t.id, label: t.label, results: ref(t.names.results), pending: ref(t.names.pending), required: ref(t.names.needed) })),
  }));
}

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
  /** Each ferritin judged against its own cut-off (isLowFerritin: age at its date and the CRP around it). */
  ferritinLow: CompiledExpression;
  resultState: CompiledExpression;
}

export interface WorkupDefinitions {
  groups: CompiledGroup[];
  /** Collections over the whole record. */
  hemoglobin: CompiledExpression;
  ferritin: CompiledExpression;
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
  const groups = workupGroups(service);
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
      hbCutoff: c('%item.hbCutoff().cutoff.toDecimal()'),
      hbBand: c('%item.hbCutoff().band'),
      ferritinValue: c("%item.valueIn('ug/L')"),
      ferritinLow: c('%item.isLowFerritin()'),
      resultState: c("iif(%item.intersect(%positiveResults).exists(), 'positive', iif(%item.intersect(%negativeResults).exists(), 'negative', iif(%item.intersect(%stateResults).exists(), 'unclassified', {})))"),
    },
  };
}
