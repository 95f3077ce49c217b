// Evaluates a service's named expressions for one request, in order: each sees %context (the hook
// context), every prefetch key (a list of resources), %unavailable (keys that could not be read) and
// every earlier name. One failing expression yields empty and is reported, never a failed request.
import type { ServiceDefinition } from '../definitions/types';
import { createVariables, type RequestScope } from '../fhirpath/scope';
import { errorMessage } from '../errors';
import { MAX_REFERENCE_LENGTH } from '../limits';
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
    if (typeof fullUrl === 'string' && fullUrl.length <= MAX_REFERENCE_LENGTH) map.set(fullUrl, r);
  };
  const draft = request.context.draftOrders as unknown as { entry?: { resource?: Json; fullUrl?: string }[] } | undefined;
  for (const e of Array.isArray(draft?.entry) ? draft.entry : []) if (e?.resource && typeof e.resource === 'object') add(e.resource, e.fullUrl);
  for (const list of keys.values()) for (const r of list) add(r);
  return map;
}

/** What a named expression's getter needs from its request (kept on the variables object under a symbol). */
interface LazyState {
  context: Json;
  vars: Record<string, unknown>;
  failures: { name: string; message: string }[];
  values: (unknown[] | undefined)[];
}
const STATE = Symbol('evaluation state');
const lazyNames = new WeakMap<ServiceDefinition, object>();

/**
 * Demand-driven: each name is computed the first time something reads it (a card's `when`, a template, another
 * expression), so expressions that no firing card needs are never evaluated. Definition order still guarantees that an
 * expression only reads earlier names (checked at load). The getters live on one prototype per service, built once,
 * so a request only allocates its values, not a closure and a property per name.
 */
function lazyNamesOf(service: ServiceDefinition): object {
  let proto = lazyNames.get(service);
  if (proto) return proto;
  proto = {};
  service.expressions.forEach((named, i) => {
    Object.defineProperty(proto, named.name, {
      enumerable: true,
      get(this: { [STATE]: LazyState }) {
        const state = this[STATE];
        let value = state.values[i];
        if (value === undefined) {
          // Empty while it is computed: a name read again during its own evaluation sees no value.
          state.values[i] = [];
          try {
            value = named.expression.evaluate(state.context, state.vars);
          } catch (e) {
            value = [];
            state.failures.push({ name: named.name, message: errorMessage(e) });
          }
          state.values[i] = value;
        }
        return value;
      },
    });
  });
  lazyNames.set(service, proto);
  return proto;
}

export function evaluateService(service: ServiceDefinition, request: HookRequest, prefetch: ResolvedPrefetch, now: number, valueSets: ValueSetIndex): Evaluation {
  const index = buildRecordIndex(prefetch.values, valueSets);
  const scope: RequestScope = { now, index, referenceable: referenceableResources(request, index.keys as ReadonlyMap<string, Json[]>) };
  const initial: Record<string, unknown> = { unavailable: Object.keys(prefetch.unavailable) };
  for (const key of Object.keys(service.prefetch)) initial[key] = index.keys.get(key) ?? [];
  for (const [name, rows] of Object.entries(service.tables)) initial[name] = rows;
  const context = request.context as Json;
  const failures: { name: string; message: string }[] = [];
  const vars = Object.assign(Object.create(lazyNamesOf(service)) as Record<string, unknown>, createVariables(scope, initial));
  const state: LazyState = { context, vars, failures, values: new Array<unknown[] | undefined>(service.expressions.length) };
  Object.defineProperty(vars, STATE, { value: state });
  return { context, vars, failures };
}

/** True only for the singleton collection [true]. */
export function isTrue(value: unknown): boolean {
  return Array.isArray(value) && value.length === 1 && value[0] === true;
}

/**
 * An evaluation's variables with `extra` in front: a new object beside them (same lazy names, same state, so no name is
 * computed twice), not one with them as its prototype. An object that becomes a prototype stays referenced from V8's
 * prototype bookkeeping until the next full GC, so every card layer kept its whole request alive through each young-
 * generation GC. Defined, not assigned: a layer may shadow a name the evaluation computes (a card's bound `priority`
 * over the library default). The memos kept under other symbols (src/fhirpath/attached.ts) are not copied: a layer
 * has its own.
 */
export function layerVariables(vars: Record<string, unknown>, extra: Record<string, unknown>): Record<string, unknown> {
  const layered = Object.create(Object.getPrototypeOf(vars) as object) as Record<string, unknown>;
  for (const k of Object.getOwnPropertyNames(vars)) Object.defineProperty(layered, k, Object.getOwnPropertyDescriptor(vars, k) as PropertyDescriptor);
  const state = (vars as { [STATE]?: LazyState })[STATE];
  if (state) Object.defineProperty(layered, STATE, { value: state });
  for (const [k, v] of Object.entries(extra)) Object.defineProperty(layered, k, { value: v, enumerable: true, writable: true, configurable: true });
  return layered;
}
