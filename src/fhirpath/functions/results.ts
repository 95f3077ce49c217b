// Result-value functions: a quantity in a given unit (UCUM, with an explicit molar factor where mass and molar
// units meet), comparison with a named threshold, the largest fall of a series within a window, a trend line, and
// evidence text.
import { clinicalDateOf, isoDay } from '../../evaluation/clinical-time';
import { describeValue, formatNumber, formatUnit } from '../../evaluation/evidence';
import { quantityIn, ucumCodeOf, type QuantityLike } from '../../evaluation/quantities';
import { dataOf, fpTypes, toPlain } from '../nodes';
import { scopeOf, type FpContext } from '../scope';

type Json = Record<string, unknown>;
const DAY_MS = 86_400_000;
const UCUM = 'http://unitsofmeasure.org';

interface MeasuredPoint {
  t: number;
  v: number;
  node: unknown;
}

/** Dated results with a value convertible to `unit`, oldest first. O(n log n). */
function measuredSeries(inputs: unknown[], unit: string, molarFactor?: number): MeasuredPoint[] {
  const points: MeasuredPoint[] = [];
  for (const n of inputs) {
    const r = dataOf(n) as Json;
    const t = r && typeof r === 'object' ? clinicalDateOf(r) : undefined;
    const q = r?.valueQuantity as QuantityLike | undefined;
    const v = q ? quantityIn(q, unit, molarFactor) : undefined;
    if (t !== undefined && v !== undefined) points.push({ t, v, node: n });
  }
  return points.sort((a, b) => a.t - b.t);
}

/**
 * fallPair(spanDays, laterWithinDays, unit[, molarFactor]): the earlier and the later result of the largest fall
 * between two results taken at most `spanDays` apart, the later one dated within the last `laterWithinDays` days (an
 * acute hemoglobin drop); empty without a falling pair. O(n log n): one sort, then a sliding window keeping the
 * window's maximum in a monotonic deque.
 */
export function fallPair(this: FpContext, inputs: unknown[], spanDays: number, laterWithinDays: number, unit: string, molarFactor?: number): unknown[] {
  const points = measuredSeries(inputs, unit, molarFactor);
  const now = scopeOf(this).now;
  const laterFrom = now - laterWithinDays * DAY_MS;
  const span = spanDays * DAY_MS;
  // deque: indexes of earlier points within the window, values decreasing from front to back.
  const deque: number[] = [];
  let head = 0;
  let best: { fall: number; earlier: MeasuredPoint; later: MeasuredPoint } | undefined;
  let start = 0;
  for (let j = 0; j < points.length; j++) {
    const later = points[j] as MeasuredPoint;
    // Points strictly earlier than `later` become candidates once `later` moves past their instant.
    while (start < j && (points[start] as MeasuredPoint).t < later.t) {
      const v = (points[start] as MeasuredPoint).v;
      while (deque.length > head && (points[deque[deque.length - 1] as number] as MeasuredPoint).v <= v) deque.pop();
      deque.push(start);
      start++;
    }
    while (deque.length > head && later.t - (points[deque[head] as number] as MeasuredPoint).t > span) head++;
    if (deque.length > head && later.t >= laterFrom && later.t <= now) {
      const earlier = points[deque[head] as number] as MeasuredPoint;
      const fall = earlier.v - later.v;
      if (fall > 0 && (best === undefined || fall > best.fall)) best = { fall, earlier, later };
    }
  }
  return best ? [best.earlier.node, best.later.node] : [];
}

/**
 * trendLine(label, unit[, molarFactor]): "label v1 (date) → v2 unit (date)" over the last 6 results with a usable
 * value, oldest first, in the unit of the newest, at most one decimal (clinical-rules §1 trend line). O(n log n).
 */
export function trendLine(this: FpContext, inputs: unknown[], label: string, unit: string, molarFactor?: number): unknown[] {
  const points = measuredSeries(inputs, unit, molarFactor).slice(-6);
  const newest = points[points.length - 1];
  if (!newest) return [];
  const newestUnit = ucumCodeOf(((dataOf(newest.node) as Json).valueQuantity ?? {}) as QuantityLike) ?? unit;
  const factor = quantityIn({ value: 1, code: unit, system: UCUM }, newestUnit, molarFactor);
  const shownUnit = factor === undefined ? unit : newestUnit;
  const parts = points.map((p, i) => `${formatNumber(factor === undefined ? p.v : p.v * factor)}${i === points.length - 1 ? ` ${formatUnit(shownUnit)}` : ''} (${isoDay(p.t)})`);
  return [`${label} ${parts.join(' → ')}`];
}

/**
 * compareValue(threshold[, molarFactor]): -1, 0 or 1 as a result's value (or a quantity) is below, at or above a
 * threshold quantity, compared in the threshold's unit (a unitless threshold compares the bare value); empty when the
 * value cannot be converted. Lets a rule name its threshold once (`compareValue(%ferritinLowFrom5y) < 0`). O(n).
 */
export function compareValue(this: FpContext, inputs: unknown[], threshold: unknown[], molarFactor?: number): unknown[] {
  const t = threshold[0];
  const plain = toPlain(t);
  const limit = t instanceof fpTypes.FP_Quantity ? { value: Number(t.value), unit: t.unit.replace(/^'|'$/g, '') } : typeof plain === 'number' ? { value: plain, unit: undefined } : undefined;
  if (!limit) return [];
  const out: number[] = [];
  for (const n of inputs) {
    let q: unknown = n instanceof fpTypes.FP_Quantity ? { value: Number(n.value), code: n.unit.replace(/^'|'$/g, ''), system: UCUM } : dataOf(n);
    if (q && typeof q === 'object' && (q as Json).resourceType) q = (q as Json).valueQuantity;
    if (typeof q === 'number') q = { value: q };
    if (!q || typeof q !== 'object') continue;
    const v = limit.unit === undefined || limit.unit === '1' ? Number((q as Json).value) : quantityIn(q as QuantityLike, limit.unit, molarFactor);
    if (v !== undefined && Number.isFinite(v)) out.push(Math.sign(Number((v - limit.value).toPrecision(12))));
  }
  return out;
}

/** valueIn(unit[, molarFactor]): an Observation's valueQuantity (or a Quantity) as a number in `unit`. O(n). */
export function valueIn(this: FpContext, inputs: unknown[], unitParam: unknown, molarParam?: unknown): unknown[] {
  // Parameters read from a table row arrive as fhirpath.js nodes: unwrap them.
  const unit = String(dataOf(unitParam));
  const molarFactor = molarParam === undefined ? undefined : Number(toPlain(dataOf(molarParam)));
  const out: number[] = [];
  for (const n of inputs) {
    // fhirpath.js keeps a quantity's value as a decimal object, not a number.
    let q: unknown = n instanceof fpTypes.FP_Quantity ? { value: Number(n.value), code: n.unit.replace(/^'|'$/g, ''), system: 'http://unitsofmeasure.org' } : dataOf(n);
    if (q && typeof q === 'object' && (q as Json).resourceType) q = (q as Json).valueQuantity;
    if (!q || typeof q !== 'object') continue;
    const v = quantityIn(q as QuantityLike, unit, molarFactor);
    if (v !== undefined) out.push(v);
  }
  return out;
}

/** evidence(): card text for each item (resources as "finding: value (interpretation) on date"). O(n). */
export function evidence(this: FpContext, inputs: unknown[]): unknown[] {
  return inputs.map((n) => describeValue(toPlain(n)));
}
