// The service's FHIRPath functions as fhirpath.js's user invocation table: one line per function, with its
// parameter types. Each function is documented in the README ("Writing rules") and in its module.
import type { ValueSetIndex } from '../../evaluation/terminology';
import type { FpContext } from '../scope';
import { from, medication, memberOfIn, usable, withStatus } from './records';
import { compareValue, evidence, fallPair, trendLine, valueIn } from './results';
import { sentences } from './text';
import { ageInMonths, ageInYears, clinicalDate, datedBetween, latest, latestWhere, now, today, withinDays } from './time';

export interface InvocationEntry {
  fn: (this: FpContext, inputs: unknown[], ...params: never[]) => unknown[];
  arity?: Record<number, string[]>;
  internalStructures: true;
}

type Fn = (this: FpContext, inputs: unknown[], ...params: never[]) => unknown[];
const entry = (fn: Fn, arity?: Record<number, string[]>): InvocationEntry => ({ fn, ...(arity ? { arity } : {}), internalStructures: true });

export function buildInvocationTable(valueSets: ValueSetIndex): Record<string, InvocationEntry> {
  return {
    now: entry(now),
    today: entry(today),
    from: entry(from as Fn, { 2: ['String', 'String'] }),
    memberOf: entry(memberOfIn(valueSets) as Fn, { 1: ['String'] }),
    clinicalDate: entry(clinicalDate),
    withinDays: entry(withinDays as Fn, { 1: ['Integer'] }),
    datedBetween: entry(datedBetween as Fn, { 2: ['Any', 'Any'] }),
    usable: entry(usable),
    withStatus: entry(withStatus as Fn, { 1: ['String'] }),
    fallPair: entry(fallPair as Fn, { 3: ['Integer', 'Integer', 'String'], 4: ['Integer', 'Integer', 'String', 'Number'] }),
    trendLine: entry(trendLine as Fn, { 2: ['String', 'String'], 3: ['String', 'String', 'Number'] }),
    compareValue: entry(compareValue as Fn, { 1: ['Any'], 2: ['Any', 'Number'] }),
    sentences: entry(sentences),
    latestWhere: entry(latestWhere as Fn, { 1: ['Expr'] }),
    latest: entry(latest),
    ageInMonths: entry(ageInMonths as Fn, { 0: [], 1: ['Any'] }),
    ageInYears: entry(ageInYears as Fn, { 0: [], 1: ['Any'] }),
    valueIn: entry(valueIn as Fn, { 1: ['String'], 2: ['String', 'Number'] }),
    medication: entry(medication),
    evidence: entry(evidence),
  };
}
