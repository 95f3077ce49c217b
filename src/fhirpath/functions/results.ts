// Result-value functions: a quantity in a given unit (UCUM, with an explicit molar factor where mass and molar
// units meet), the largest fall of a series within a window, and evidence text.
import { clinicalDateOf } from '../../evaluation/clinical-time';
import { describeValue } from '../../evaluation/evidence';
import { quantityIn, type QuantityLike } from '../../evaluation/quantities';
import { dataOf, fpTypes, toPlain } from '../nodes';
import type { FpContext } from '../scope';

type Json = Record<string, unknown>;

/**
 * largestFall(days, unit[, molarFactor]): the largest decrease of a result value from an earlier result to a later one
 * taken no more than `days` after it (e.g. an acute hemoglobin drop); empty without a pair. O(n log n): one sort, then
 * a sliding window keeping the window's maximum in a monotonic deque.
 */
export function largestFall(this: FpContext, inputs: unknown[], days: number, unit: string, molarFactor?: number): unknown[] {
  const points: { t: number; v: number }[] = [];
  for (const n of inputs) {
    const r = dataOf(n) as Json;
    const t = r && typeof r === 'object' ? clinicalDateOf(r) : undefined;
    const q = r?.valueQuantity as QuantityLike | undefined;
    const v = q ? quantityIn(q, unit, molarFactor) : undefined;
    if (t !== undefined && v !== undefined) points.push({ t, v });
  }
  points.sort((a, b) => a.t - b.t);
  const span = days * 86_400_000;
  // deque: indexes of earlier points within the window, values decreasing from front to back.
  const deque: number[] = [];
  let head = 0;
  let best: number | undefined;
  let start = 0;
  for (let j = 0; j < points.length; j++) {
    const later = points[j] as { t: number; v: number };
    // Points strictly earlier than `later` become candidates once `later` moves past their instant.
    while (start < j && (points[start] as { t: number }).t < later.t) {
      const v = (points[start] as { v: number }).v;
      while (deque.length > head && (points[deque[deque.length - 1] as number] as { v: number }).v <= v) deque.pop();
      deque.push(start);
      start++;
    }
    while (deque.length > head && later.t - (points[deque[head] as number] as { t: number }).t > span) head++;
    if (deque.length > head) {
      const fall = (points[deque[head] as number] as { v: number }).v - later.v;
      if (best === undefined || fall > best) best = fall;
    }
  }
  return best === undefined ? [] : [Number(best.toPrecision(12))];
}

/** valueIn(unit[, molarFactor]): an Observation's valueQuantity (or a Quantity) as a number in `unit`. O(n). */
export function valueIn(this: FpContext, inputs: unknown[], unit: string, molarFactor?: number): unknown[] {
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
