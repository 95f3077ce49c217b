// Clinical time functions (clinical-rules §2): one "now" per request, clinical dates, windows, the newest item,
// and ages. Each is linear in its input, except the sorts (n log n).
import { completedMonths, parseFhirDate } from '../../evaluation/clinical-time';
import { dataOf, dateTimeNode, epochOf, fpTypes } from '../nodes';
import { scopeOf, type FpContext } from '../scope';

type Json = Record<string, unknown>;
const DAY_MS = 86_400_000;

/** now(): the server clock read once when the request arrived. */
export function now(this: FpContext): unknown[] {
  return [dateTimeNode(this, scopeOf(this).now)];
}

export function today(this: FpContext): unknown[] {
  return [new fpTypes.FP_Date(this, new Date(scopeOf(this).now).toISOString().slice(0, 10))];
}

/** clinicalDate(): each item's clinical date as a DateTime (undated items give nothing). O(n). */
export function clinicalDate(this: FpContext, inputs: unknown[]): unknown[] {
  const out: unknown[] = [];
  for (const n of inputs) {
    const t = epochOf(n);
    if (t !== undefined) out.push(dateTimeNode(this, t));
  }
  return out;
}

/** withinDays(n): items dated no more than n days before now and not after now (undated never within). O(n). */
export function withinDays(this: FpContext, inputs: unknown[], days: number): unknown[] {
  const end = scopeOf(this).now;
  const start = end - days * DAY_MS;
  return inputs.filter((n) => {
    const t = epochOf(n);
    return t !== undefined && t >= start && t <= end;
  });
}

/** datedBetween(from, to): items dated from `from` to `to` inclusive (DateTimes; undated never match). O(n). */
export function datedBetween(this: FpContext, inputs: unknown[], from: unknown[], to: unknown[]): unknown[] {
  const start = from.length ? epochOf(from[0]) : undefined;
  const end = to.length ? epochOf(to[0]) : undefined;
  if (start === undefined || end === undefined) return [];
  return inputs.filter((n) => {
    const t = epochOf(n);
    return t !== undefined && t >= start && t <= end;
  });
}

/**
 * latestWhere(criteria): the newest dated item for which the criteria hold, testing newest first and stopping at the
 * first match (where(...).latest() would test every item). O(n log n) for the sort plus one criteria call per item tried.
 */
export function latestWhere(this: FpContext, inputs: unknown[], criteria: (item: unknown) => unknown[]): unknown[] {
  const dated = inputs.map((n, i) => ({ n, i, t: epochOf(n) })).filter((x): x is { n: unknown; i: number; t: number } => x.t !== undefined);
  dated.sort((a, b) => b.t - a.t || b.i - a.i);
  for (const { n } of dated) {
    const r = criteria(n);
    if (r.length === 1 && r[0] === true) return [n];
  }
  return [];
}

/** latest(): the newest dated item (ties: the later one in the record). O(n). */
export function latest(this: FpContext, inputs: unknown[]): unknown[] {
  let best: unknown;
  let bestT = -Infinity;
  for (const n of inputs) {
    const t = epochOf(n);
    if (t !== undefined && t >= bestT) {
      best = n;
      bestT = t;
    }
  }
  return best === undefined ? [] : [best];
}

function birthEpoch(node: unknown): number | undefined {
  const d = dataOf(node);
  if (d && typeof d === 'object') return parseFhirDate((d as Json).birthDate);
  return epochOf(node);
}

function ageMonths(ctx: FpContext, inputs: unknown[], at: unknown[] | undefined): number | undefined {
  const birth = inputs.length ? birthEpoch(inputs[0]) : undefined;
  const when = at === undefined ? scopeOf(ctx).now : at.length ? epochOf(at[0]) : undefined;
  return birth === undefined || when === undefined ? undefined : completedMonths(birth, when);
}

/** ageInMonths([at]) on a Patient (or a birth date): completed months at `at` (default now). O(1). */
export function ageInMonths(this: FpContext, inputs: unknown[], at?: unknown[]): unknown[] {
  const months = ageMonths(this, inputs, at);
  return months === undefined ? [] : [months];
}

/** ageInYears([at]): completed years at `at` (default now). O(1). */
export function ageInYears(this: FpContext, inputs: unknown[], at?: unknown[]): unknown[] {
  const months = ageMonths(this, inputs, at);
  return months === undefined ? [] : [Math.floor(months / 12)];
}
