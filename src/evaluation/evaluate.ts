// Evaluates a service's named expressions for one request, in order: each sees %context (the hook
// context), every prefetch key (a list of resources), %unavailable (keys that could not be read) and
// every earlier name. One failing expression yields empty and is reported, never a failed request.
import type { ServiceDefinition } from '../definitions/types';
import { createVariables, type RequestScope } from '../fhirpath/scope';
import { errorMessage } from '../errors';
import type { HookRequest } from '../cds-hooks';
import type { ResolvedPrefetch } from '../fhir/prefetch';
import { buildRecordIndex } from './record-index';
import type { ValueSetIndex } from './terminology';

type Json = Record<string, unknown>;

export interface Evaluation {
  readonly context: Json;
  readonly vars: Record<string, unknown>;
  /** Expressions that threw on this request's data (name and message; messages may quote data: strip before logging). */
  readonly failures: { name: string; message: string }[];
}

function referenceableResources(request: HookRequest, keys: ReadonlyMap<string, Json[]>): Map<string, Json> {
  const map = new Map<string, Json>();
  const add = (r: Json, fullUrl?: unknown) => {
    if (typeof r.resourceType === 'string' && typeof r.id === 'string') map.set(`${r.resourceType}/${r.id}`, r);
    if (typeof fullUrl === 'string') map.set(fullUrl, r);
  };
  const draft = request.context.draftOrders as unknown as { entry?: { resource?: Json; fullUrl?: string }[] } | undefined;
  for (const e of Array.isArray(draft?.entry) ? draft.entry : []) if (e?.resource && typeof e.resource === 'object') add(e.resource, e.fullUrl);
  for (const list of keys.values()) for (const r of list) add(r);
  return map;
}

export function evaluateService(service: ServiceDefinition, request: HookRequest, prefetch: ResolvedPrefetch, now: number, valueSets: ValueSetIndex): Evaluation {
  const index = buildRecordIndex(prefetch.values, valueSets);
  const scope: RequestScope = { now, index, referenceable: referenceableResources(request, index.keys as ReadonlyMap<string, Json[]>) };
  const initial: Record<string, unknown> = { unavailable: Object.keys(prefetch.unavailable) };
  for (const key of Object.keys(service.prefetch)) initial[key] = index.keys.get(key) ?? [];
  for (const [name, rows] of Object.entries(service.tables)) initial[name] = rows;
  const vars = createVariables(scope, initial);
  const context = request.context as Json;
  const failures: { name: string; message: string }[] = [];
  // Demand-driven: each name is computed the first time something reads it (a card's `when`, a template, another
  // expression), so expressions that no firing card needs are never evaluated. Definition order still guarantees that
  // an expression only reads earlier names (checked at load).
  for (const named of service.expressions) {
    let value: unknown[] | undefined;
    Object.defineProperty(vars, named.name, {
      enumerable: true,
      configurable: true,
      get() {
        if (value === undefined) {
          value = [];
          try {
            value = named.expression.evaluate(context, vars);
          } catch (e) {
            failures.push({ name: named.name, message: errorMessage(e) });
          }
        }
        return value;
      },
    });
  }
  return { context, vars, failures };
}

/** True only for the singleton collection [true]. */
export function isTrue(value: unknown): boolean {
  return Array.isArray(value) && value.length === 1 && value[0] === true;
}

/**
 * Variables layered in front of an evaluation's (prototype chain: no copy, no lazy name forced). Defined, not
 * assigned: a layer may shadow a name the evaluation computes (a card's bound `priority` over the library default).
 */
export function layerVariables(vars: Record<string, unknown>, extra: Record<string, unknown>): Record<string, unknown> {
  const layered = Object.create(vars) as Record<string, unknown>;
  for (const [k, v] of Object.entries(extra)) Object.defineProperty(layered, k, { value: v, enumerable: true, writable: true, configurable: true });
  return layered;
}

