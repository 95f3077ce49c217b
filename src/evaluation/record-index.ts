// One request's patient data, indexed once: the resources of each prefetch key (Bundles flattened,
// OperationOutcome entries dropped) and, per key, the resources by `system|code` of their main code,
// so that expressions select small collections instead of scanning whole charts. Building it is O(n) in the codings;
// each coded(key, valueSet) is O(distinct codes + resources of the key), memoised per request. Codings whose system
// or code is over-long (limits.ts) are never indexed: they match no value set.
import type { CodeableConcept, Coding, FhirResource } from 'fhir/r4';
import { MAX_CODE_LENGTH, MAX_SYSTEM_LENGTH } from '../limits';
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

/** Per prefetch key: system -> code -> the key's resources with that main coding, in record order. */
type CodeTable = Map<string, Map<string, AnyResource[]>>;

export interface RecordIndex {
  readonly keys: ReadonlyMap<string, AnyResource[]>;
  /** Resources of `key` whose main code is in the value set, in record order. Memoised per request. */
  coded(key: string, valueSetUrl: string): AnyResource[];
}

export function buildRecordIndex(values: Record<string, unknown>, valueSets: ValueSetIndex): RecordIndex {
  const keys = new Map<string, AnyResource[]>();
  const byCode = new Map<string, CodeTable>();
  for (const [key, value] of Object.entries(values)) {
    const resources = resourcesOf(value);
    keys.set(key, resources);
    // Nested maps rather than one map on system + code: no key string built per coding.
    const systems: CodeTable = new Map();
    for (const res of resources) {
      for (const c of mainCodings(res)) {
        const { system, code } = c;
        if (typeof system !== 'string' || typeof code !== 'string' || system.length > MAX_SYSTEM_LENGTH || code.length > MAX_CODE_LENGTH) continue;
        let codes = systems.get(system);
        if (!codes) systems.set(system, (codes = new Map()));
        const list = codes.get(code);
        if (!list) codes.set(code, [res]);
        else if (list[list.length - 1] !== res) list.push(res);
      }
    }
    byCode.set(key, systems);
  }
  const memo = new Map<string, AnyResource[]>();
  return {
    keys,
    coded(key, url) {
      const memoKey = `${key}\u0000${url}`;
      const hit = memo.get(memoKey);
      if (hit) return hit;
      const found = new Set<AnyResource>();
      for (const [system, codes] of byCode.get(key) ?? []) {
        for (const [code, resources] of codes) if (valueSets.contains(url, system, code)) for (const r of resources) found.add(r);
      }
      const order = keys.get(key) ?? [];
      const result = found.size === 0 ? [] : order.filter((r) => found.has(r));
      memo.set(memoKey, result);
      return result;
    },
  };
}
