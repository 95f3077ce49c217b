// Evaluates one expression the way a request does (src/evaluation/evaluate.ts): a RecordIndex over prefetch-shaped
// values, a per-request clock, the real value sets; returns plain JSON values.
import { createVariables, type RequestScope } from '../../src/fhirpath/scope';
import { toPlain } from '../../src/fhirpath/nodes';
import { buildRecordIndex } from '../../src/evaluation/record-index';
import { runtime, valueSets } from './runtime';

type Json = Record<string, unknown>;

export const NOW = Date.parse('2026-06-15T12:00:00.000Z');

export interface EvalOptions {
  /** Prefetch-shaped values (resources or Bundles) keyed like the service's prefetch keys. */
  values?: Record<string, unknown>;
  /** Extra %variables, as plain values. */
  vars?: Record<string, unknown>;
  context?: Json;
  now?: number;
  referenceable?: Map<string, Json>;
}

export function evaluate(expression: string, options: EvalOptions = {}): unknown[] {
  const values = options.values ?? {};
  const index = buildRecordIndex(values, valueSets);
  const scope: RequestScope = { now: options.now ?? NOW, index, referenceable: options.referenceable ?? new Map() };
  const initial: Record<string, unknown> = { unavailable: [], ...(options.vars ?? {}) };
  for (const key of Object.keys(values)) initial[key] = index.keys.get(key) ?? [];
  const vars = createVariables(scope, initial);
  return runtime.compile(expression).evaluate(options.context ?? {}, vars).map(toPlain);
}
