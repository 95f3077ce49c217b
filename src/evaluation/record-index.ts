// One request's patient data, indexed once: the resources of each prefetch key (Bundles flattened,
// OperationOutcome entries dropped) and, per key, the resources by `system|code` of their main code,
// so that expressions select small collections instead of scanning whole charts.
import type { CodeableConcept, Coding, FhirResource } from 'fhir/r4';
import type { ValueSetIndex } from './terminology';

type AnyResource = FhirResource & Record<string, unknown>;

/** The element that says what a resource is about, per resource type (what a `code` search matches). */
export function mainCodings(resource: AnyResource): Coding[] {
  const r = resource as Record<string, unknown>;
  const concepts: unknown[] = [];
  switch (resource.resourceType) {
    case 'MedicationRequest':
      concepts.push(r.medicationCodeableConcept);
      break;
    case 'NutritionOrder': {
      const oralDiet = r.oralDiet as { type?: unknown } | undefined;
      if (Array.isArray(oralDiet?.type)) concepts.push(...oralDiet.type);
      break;
    }
    default:
      concepts.push(r.code);
  }
  const out: Coding[] = [];
  for (const c of concepts) {
    const codings = (c as CodeableConcept | undefined)?.coding;
    if (Array.isArray(codings)) for (const coding of codings) if (coding && typeof coding === 'object') out.push(coding);
  }
  return out;
}

/** The resources a prefetch value carries: a resource, or the non-OperationOutcome entries of a Bundle. */
export function resourcesOf(value: unknown): AnyResource[] {
  if (!value || typeof value !== 'object') return [];
  const v = value as { resourceType?: unknown; entry?: unknown };
  if (v.resourceType === 'Bundle') {
    const entries = Array.isArray(v.entry) ? v.entry : [];
    const out: AnyResource[] = [];
    for (const e of entries) {
      const res = (e as { resource?: unknown } | null)?.resource as AnyResource | undefined;
      if (res && typeof res === 'object' && typeof res.resourceType === 'string' && res.resourceType !== 'OperationOutcome') out.push(res);
    }
    return out;
  }
  return typeof v.resourceType === 'string' && v.resourceType !== 'OperationOutcome' ? [value as AnyResource] : [];
}

export interface RecordIndex {
  readonly keys: ReadonlyMap<string, AnyResource[]>;
  /** Resources of `key` whose main code is in the value set, in record order. Memoised per request. */
  coded(key: string, valueSetUrl: string): AnyResource[];
}

export function buildRecordIndex(values: Record<string, unknown>, valueSets: ValueSetIndex): RecordIndex {
  const keys = new Map<string, AnyResource[]>();
  const byCode = new Map<string, Map<string, AnyResource[]>>();
  for (const [key, value] of Object.entries(values)) {
    const resources = resourcesOf(value);
    keys.set(key, resources);
    const codes = new Map<string, AnyResource[]>();
    for (const res of resources) {
      for (const c of mainCodings(res)) {
        if (typeof c.system !== 'string' || typeof c.code !== 'string') continue;
        const k = `${c.system}|${c.code}`;
        const list = codes.get(k);
        if (!list) codes.set(k, [res]);
        else if (list[list.length - 1] !== res) list.push(res);
      }
    }
    byCode.set(key, codes);
  }
  const memo = new Map<string, AnyResource[]>();
  return {
    keys,
    coded(key, url) {
      const memoKey = `${key}\u0000${url}`;
      const hit = memo.get(memoKey);
      if (hit) return hit;
      const found = new Set<AnyResource>();
      for (const [k, list] of byCode.get(key) ?? []) {
        const bar = k.indexOf('|');
        if (valueSets.contains(url, k.slice(0, bar), k.slice(bar + 1))) for (const r of list) found.add(r);
      }
      const order = keys.get(key) ?? [];
      const result = found.size === 0 ? [] : order.filter((r) => found.has(r));
      memo.set(memoKey, result);
      return result;
    },
  };
}
