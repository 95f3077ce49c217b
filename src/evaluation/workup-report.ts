// The SMART app's JSON: the exclusion work-up checklist (one row per group with each test's latest result or pending
// order), the infection check, the celiac status, and the hemoglobin/ferritin series with the WHO cut-off of each date
// and the findings on the same time axis. Every value comes from evaluating the definitions (workup-definitions.ts).
import { toPlain } from '../fhirpath/nodes';
import type { CompiledExpression } from '../fhirpath/runtime';
import { isoDay, parseFhirDate } from './clinical-time';
import type { Evaluation } from './evaluate';
import { isTrue, layerVariables } from './evaluate';
import type { WorkupDefinitions } from './workup-definitions';
import { SERIES_DAYS } from './workup-definitions';

type Json = Record<string, unknown>;
export type GroupState = 'done' | 'pending' | 'missing';

export interface ResultView {
  text: string;
  date?: string;
  state?: 'positive' | 'negative' | 'unclassified';
}

export interface TestView {
  id: string;
  label: string;
  state: 'done' | 'pending' | 'missing' | 'not-required';
  latest?: ResultView;
  pending: ResultView[];
}

export interface GroupView {
  id: string;
  label: string;
  state: GroupState;
  tests: TestView[];
}

export interface HemoglobinPoint {
  date: string;
  /** g/dL (mmol/L converted). */
  value: number;
  low: boolean;
  cutoff?: number;
  band?: string;
  text: string;
}

export interface CutoffStep {
  date: string;
  cutoff?: number;
  band?: string;
}

export interface WorkupReport {
  patient: { id: string; birthDate?: string; gender?: string };
  evaluatedAt: string;
  unavailable: string[];
  checklist: {
    groups: GroupView[];
    infection: { checked: boolean; results: ResultView[] };
    celiac: { status: 'diagnosed' | 'suspected' | 'not diagnosed'; glutenFreeDiet: boolean; lines: string[] };
    notChecked: string[];
  };
  series: {
    from: string;
    to: string;
    hemoglobin: HemoglobinPoint[];
    /** The WHO hemoglobin cut-off in force from each date on (none under 6 months or with an unknown age). */
    cutoffs: CutoffStep[];
    ferritin: { date: string; value: number; low?: boolean; text: string }[];
    events: { date: string; kind: 'hemoptysis' | 'infiltrate' | 'bal' | 'iron-therapy'; text: string }[];
  };
}

const DAY_MS = 86_400_000;

function plainValues(values: unknown[]): unknown[] {
  return values.map(toPlain);
}

/** Evaluates template-style: the evaluation's variables, with `%item` in front when given. */
function evaluator(evaluation: Evaluation) {
  const run = (expr: CompiledExpression, item?: unknown): unknown[] => {
    const vars = item === undefined ? evaluation.vars : layerVariables(evaluation.vars, { item: [item] });
    try {
      return expr.evaluate(evaluation.context, vars);
    } catch (e) {
      evaluation.failures.push({ name: `app: ${expr.source}`, message: e instanceof Error ? e.message : String(e) });
      return [];
    }
  };
  const first = (expr: CompiledExpression, item?: unknown): unknown => plainValues(run(expr, item))[0];
  return {
    run,
    flag: (expr: CompiledExpression, item?: unknown) => isTrue(run(expr, item)),
    text: (expr: CompiledExpression, item?: unknown) => {
      const v = first(expr, item);
      return typeof v === 'string' ? v : undefined;
    },
    number: (expr: CompiledExpression, item?: unknown) => {
      const v = first(expr, item);
      return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
    },
    day: (expr: CompiledExpression, item?: unknown) => {
      const v = first(expr, item);
      return typeof v === 'string' ? v.slice(0, 10) : undefined;
    },
  };
}

type Run = ReturnType<typeof evaluator>;

function resultView(ev: Run, defs: WorkupDefinitions, item: unknown): ResultView {
  const state = ev.text(defs.item.resultState, item);
  return {
    text: ev.text(defs.item.line, item) ?? '',
    ...(ev.day(defs.item.date, item) ? { date: ev.day(defs.item.date, item) } : {}),
    ...(state === 'positive' || state === 'negative' || state === 'unclassified' ? { state } : {}),
  };
}

function newest(ev: Run, defs: WorkupDefinitions, items: unknown[]): unknown {
  let best: unknown;
  let bestDay = '';
  for (const item of items) {
    const day = ev.day(defs.item.date, item) ?? '';
    if (best === undefined || day > bestDay) {
      best = item;
      bestDay = day;
    }
  }
  return best;
}

function checklist(ev: Run, defs: WorkupDefinitions): GroupView[] {
  return defs.groups.map((g) => {
    const state: GroupState = ev.flag(g.done) ? 'done' : ev.flag(g.pending) ? 'pending' : 'missing';
    const tests = g.tests.map((t): TestView => {
      const results = ev.run(t.results);
      const pending = ev.run(t.pending);
      const latest = results.length ? resultView(ev, defs, newest(ev, defs, results)) : undefined;
      const required = ev.flag(t.required);
      return {
        id: t.id,
        label: t.label,
        state: results.length ? 'done' : pending.length ? 'pending' : required ? 'missing' : 'not-required',
        ...(latest ? { latest } : {}),
        pending: pending.map((p) => resultView(ev, defs, p)),
      };
    });
    return { id: g.id, label: g.label, state, tests };
  });
}

function byDate<T extends { date: string }>(list: T[]): T[] {
  return list.sort((a, b) => (a.date < b.date ? -1 : a.date > b.date ? 1 : 0));
}

/** A dated stand-in for "a result on this day", so the cut-off functions can be asked about any date. */
function probe(t: number): Json {
  return { resourceType: 'Observation', status: 'final', effectiveDateTime: new Date(t).toISOString() };
}

/**
 * The cut-off in force from each date on, asked of the definitions: sampled every 30 days, and each change located to
 * the day by bisection (age bands change on birthdays, pregnancy 280 days after a pregnancy Condition).
 */
function cutoffSteps(ev: Run, defs: WorkupDefinitions, from: number, to: number): CutoffStep[] {
  const at = (t: number): CutoffStep => {
    const p = probe(t);
    const cutoff = ev.number(defs.item.hbCutoff, p);
    const band = ev.text(defs.item.hbBand, p);
    return { date: isoDay(t), ...(cutoff !== undefined ? { cutoff } : {}), ...(band ? { band } : {}) };
  };
  const same = (a: CutoffStep, b: CutoffStep) => a.cutoff === b.cutoff && a.band === b.band;
  const day = (t: number) => Math.floor(t / DAY_MS) * DAY_MS;
  let t0 = day(from);
  let s0 = at(t0);
  const steps = [s0];
  while (t0 < to) {
    const t1 = Math.min(t0 + 30 * DAY_MS, day(to));
    if (t1 <= t0) break;
    const s1 = at(t1);
    if (!same(s0, s1)) {
      let lo = t0;
      let hi = t1;
      while (hi - lo > DAY_MS) {
        const mid = day(lo + (hi - lo) / 2);
        if (same(at(mid), s0)) lo = mid;
        else hi = mid;
      }
      steps.push(at(hi));
    }
    t0 = t1;
    s0 = s1;
  }
  return steps;
}

function series(ev: Run, defs: WorkupDefinitions, now: number, birth: number | undefined): WorkupReport['series'] {
  const hemoglobin: HemoglobinPoint[] = [];
  for (const r of ev.run(defs.hemoglobin)) {
    const value = ev.number(defs.item.hbValue, r);
    const date = ev.day(defs.item.date, r);
    if (value === undefined || date === undefined) continue;
    const cutoff = ev.number(defs.item.hbCutoff, r);
    const band = ev.text(defs.item.hbBand, r);
    hemoglobin.push({ date, value: Number(value.toFixed(2)), low: ev.flag(defs.item.hbLow, r), ...(cutoff !== undefined ? { cutoff } : {}), ...(band ? { band } : {}), text: ev.text(defs.item.line, r) ?? '' });
  }
  byDate(hemoglobin);

  const from = Math.max(now - SERIES_DAYS * DAY_MS, birth ?? -Infinity);
  const cutoffs = cutoffSteps(ev, defs, from, now);

  const ferritin: WorkupReport['series']['ferritin'] = [];
  for (const r of ev.run(defs.ferritin)) {
    const value = ev.number(defs.item.ferritinValue, r);
    const date = ev.day(defs.item.date, r);
    if (value === undefined || date === undefined) continue;
    const low = ev.flag(defs.item.ferritinLow, r);
    ferritin.push({ date, value: Number(value.toFixed(2)), ...(low !== undefined ? { low } : {}), text: ev.text(defs.item.line, r) ?? '' });
  }

  const events: WorkupReport['series']['events'] = [];
  for (const e of defs.events) {
    for (const r of ev.run(e.items)) {
      const plain = toPlain(r) as Json;
      // Medication orders are dated by authoredOn (not a clinical date of the contract).
      const date = ev.day(defs.item.date, r) ?? (typeof plain.authoredOn === 'string' ? plain.authoredOn.slice(0, 10) : undefined);
      if (date === undefined) continue;
      events.push({ date, kind: e.kind, text: ev.text(defs.item.line, r) ?? '' });
    }
  }
  return { from: isoDay(from), to: isoDay(now), hemoglobin, cutoffs, ferritin: byDate(ferritin), events: byDate(events) };
}

export function buildWorkupReport(defs: WorkupDefinitions, evaluation: Evaluation, patientId: string, now: number): WorkupReport {
  const ev = evaluator(evaluation);
  const patient = (toPlain((evaluation.vars.patient as unknown[] | undefined)?.[0]) ?? {}) as Json;
  const celiacStatus = ev.flag(defs.celiacDiagnosed) ? 'diagnosed' : ev.flag(defs.celiacSuspected) ? 'suspected' : 'not diagnosed';
  const notChecked = ['Drug and toxin history', 'Capillaritis (lung biopsy is considered, especially in adults)'];
  if (ev.flag(defs.under3Years)) notChecked.push("Cow's-milk hypersensitivity (Heiner syndrome)");
  return {
    patient: {
      id: patientId,
      ...(typeof patient.birthDate === 'string' ? { birthDate: patient.birthDate } : {}),
      ...(typeof patient.gender === 'string' ? { gender: patient.gender } : {}),
    },
    evaluatedAt: new Date(now).toISOString(),
    unavailable: ev.run(defs.unavailableLabels).map(toPlain).filter((s): s is string => typeof s === 'string'),
    checklist: {
      groups: checklist(ev, defs),
      infection: { checked: ev.flag(defs.infectionChecked), results: ev.run(defs.infectionResults).map((r) => resultView(ev, defs, r)) },
      celiac: {
        status: celiacStatus,
        glutenFreeDiet: ev.flag(defs.onGlutenFreeDiet),
        lines: ev.run(defs.celiacLines).map(toPlain).filter((s): s is string => typeof s === 'string'),
      },
      notChecked,
    },
    series: series(ev, defs, now, parseFhirDate(patient.birthDate)),
  };
}
