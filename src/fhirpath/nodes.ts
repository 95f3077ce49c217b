// fhirpath.js's value wrappers (ResourceNode, FP_DateTime, FP_Quantity) as the service's functions meet them:
// unwrapping to FHIR JSON, building real DateTimes, and converting results to plain JSON for templates.
import { clinicalDateOf, parseFhirDate } from '../evaluation/clinical-time';
import { scopeOf, type FpContext } from './scope';

// fhirpath.js's internal types: needed to return real DateTimes and to recognise its wrappers.
// eslint-disable-next-line @typescript-eslint/no-require-imports
export const fpTypes = require('fhirpath/src/types.js') as {
  FP_DateTime: new (ctx: unknown, s: string) => { asStr?: string; toString(): string };
  FP_Date: new (ctx: unknown, s: string) => unknown;
  FP_TimeBase: abstract new (...args: never[]) => { toString(): string };
  FP_Quantity: abstract new (...args: never[]) => { value: number; unit: string };
  ResourceNode: { makeResNode(ctx: unknown, data: unknown, p: null, path: null, d: null, t: string | null): unknown } & (abstract new (...args: never[]) => { data: unknown });
};

type Json = Record<string, unknown>;

export function dataOf(node: unknown): unknown {
  return node instanceof fpTypes.ResourceNode ? node.data : node;
}

/** The instant of a date, a DateTime or a resource's clinical date (clinical-rules §2). */
export function epochOf(node: unknown): number | undefined {
  if (node instanceof fpTypes.FP_TimeBase) return parseFhirDate(node.toString());
  const d = dataOf(node);
  if (typeof d === 'string') return parseFhirDate(d);
  if (d && typeof d === 'object' && typeof (d as Json).resourceType === 'string') return clinicalDateOf(d as Json);
  return undefined;
}

export function dateTimeNode(ctx: FpContext, ms: number): unknown {
  const scope = scopeOf(ctx);
  const cache = (scope.dateTimes ??= new Map());
  let node = cache.get(ms);
  if (node === undefined) {
    node = new fpTypes.FP_DateTime(ctx, new Date(ms).toISOString());
    cache.set(ms, node);
  }
  return node;
}

export function resourceNode(ctx: unknown, resource: unknown): unknown {
  return fpTypes.ResourceNode.makeResNode(ctx, resource, null, null, null, null);
}

/** The codings of a CodeableConcept, or a Coding itself. */
export function codingsOfConcept(value: unknown): Json[] {
  if (!value || typeof value !== 'object') return [];
  const v = value as Json;
  if (Array.isArray(v.coding)) return v.coding as Json[];
  if ('code' in v || 'system' in v) return [v];
  return [];
}

/** Converts fhirpath.js results (ResourceNodes, FP types) to plain JSON values for templates. */
export function toPlain(v: unknown): unknown {
  if (v instanceof fpTypes.ResourceNode) return v.data;
  if (v instanceof fpTypes.FP_Quantity) return { value: Number(v.value), unit: String(v.unit).replace(/^'|'$/g, '') };
  if (v instanceof fpTypes.FP_TimeBase) return v.toString();
  if (v && typeof v === 'object' && typeof (v as { toString?: unknown }).toString === 'function' && v.constructor?.name?.startsWith('FP_')) {
    return Number((v as { toString(): string }).toString());
  }
  return v;
}
