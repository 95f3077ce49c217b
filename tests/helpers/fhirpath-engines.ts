// Both FHIRPath engines side by side for the differential tests: registries loaded with each, one golden or
// generated request evaluated through both, and every value reduced to plain JSON for comparison.
import path from 'node:path';
import fhirpath from 'fhirpath';
import { analyzeExpression, BUILTIN_VARIABLES } from '../../src/fhirpath/analysis';
import type { CompiledExpression } from '../../src/fhirpath/runtime';
import { loadRegistry } from '../../src/definitions/load';
import type { Registry, ServiceDefinition } from '../../src/definitions/types';
import { evaluateService } from '../../src/evaluation/evaluate';
import { renderCards } from '../../src/evaluation/cards';
import { resolvePrefetch } from '../../src/fhir/prefetch';
import { createRequestValidator } from '../../src/http/hook-request';

export const DEFINITIONS = path.join(__dirname, '..', '..', 'cds-services');

/** A deep copy made in this realm (fhirpath.js tests `instanceof Array`; structuredClone's arrays fail that under jest). */
export function copy<T>(v: T): T {
  return JSON.parse(JSON.stringify(v)) as T;
}

export interface Engines {
  compiled: Registry;
  reference: Registry;
}

export function loadBothEngines(dir = DEFINITIONS): Engines {
  return { compiled: loadRegistry(dir, 'compiled'), reference: loadRegistry(dir, 'reference') };
}

/** A value as JSON would carry it: fhirpath.js's nodes unwrapped, its decimals, dates and quantities as JSON. */
export function plain(value: unknown): unknown {
  return JSON.parse(JSON.stringify(fhirpath.resolveInternalTypes(value) ?? null)) as unknown;
}

function outcome(run: () => unknown[]): unknown {
  try {
    return { value: plain(run()) };
  } catch (e) {
    return { error: e instanceof Error ? e.message : String(e) };
  }
}

const variablesOf = new Map<string, string[]>();
function variables(source: string): string[] {
  let v = variablesOf.get(source);
  if (!v) variablesOf.set(source, (v = [...analyzeExpression(source).variables].filter((n) => !BUILTIN_VARIABLES.has(n))));
  return v;
}

/** Every compiled expression reachable from a service's cards (text and resource templates), in definition order. */
export function templateExpressions(service: ServiceDefinition): CompiledExpression[] {
  const found: CompiledExpression[] = [];
  const seen = new Set<unknown>();
  const walk = (v: unknown): void => {
    if (!v || typeof v !== 'object' || seen.has(v)) return;
    seen.add(v);
    const o = v as Record<string, unknown>;
    if (typeof o.source === 'string' && typeof o.evaluate === 'function') {
      found.push(o as unknown as CompiledExpression);
      return;
    }
    for (const x of Array.isArray(v) ? v : Object.values(o)) walk(x);
  };
  walk(service.cards);
  return found;
}

export interface EngineRun {
  /** name -> {value} or {error}, for every named expression. */
  named: Record<string, unknown>;
  /** One entry per template placeholder, in definition order. */
  templates: { source: string; result: unknown }[];
  failures: { name: string; message: string }[];
  /** Rendered cards without their random uuids. */
  cards: unknown;
}

function withoutUuids(v: unknown): unknown {
  return JSON.parse(JSON.stringify(v, (k, x: unknown) => (k === 'uuid' ? undefined : x))) as unknown;
}

const requestValidator = createRequestValidator();

/** One request through one engine: validation, prefetch, every named expression, every template, the cards. */
export async function runEngine(registry: Registry, serviceId: string, body: unknown, now: number): Promise<EngineRun> {
  const service = registry.services.get(serviceId) as ServiceDefinition;
  const request = requestValidator.validateHookRequest(service.hook, copy(body));
  const prefetch = await resolvePrefetch(service, request);
  const evaluation = evaluateService(service, request, prefetch, now, registry.valueSets);
  const named: Record<string, unknown> = {};
  for (const e of service.expressions) named[e.name] = outcome(() => evaluation.vars[e.name] as unknown[]);
  const templates = templateExpressions(service).map((t) => {
    // Card-bound variables (a suggestion's item, ...) are not in the evaluation: read as empty, the same for both engines.
    const vars = Object.create(evaluation.vars) as Record<string, unknown>;
    for (const v of variables(t.source)) if (!(v in vars)) vars[v] = [];
    return { source: t.source, result: outcome(() => t.evaluate(evaluation.context, vars)) };
  });
  const cards = withoutUuids(renderCards(service, evaluation));
  return { named, templates, failures: [...evaluation.failures], cards };
}
