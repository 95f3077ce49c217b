// The per-request state the service's FHIRPath functions read: the clock, the indexed record and the resources a
// reference may point to. It travels in fhirpath.js's variables under a name no expression can spell.
import type { RecordIndex } from '../evaluation/record-index';

type Json = Record<string, unknown>;

/** Per-request state the service's functions read (through fhirpath.js's evaluation context). */
export interface RequestScope {
  now: number;
  index: RecordIndex;
  /** Resources a reference may point to besides contained ones (draft orders, prefetched Medications). */
  referenceable: ReadonlyMap<string, Json>;
  /** DateTime values already built in this request (fhirpath.js parses them again on every comparison otherwise). */
  dateTimes?: Map<number, unknown>;
}

/** Name of the evaluation variable carrying the RequestScope; `@` keeps it out of reach of expressions. */
const SCOPE_VAR = '@scope';

/** fhirpath.js's evaluation context as a function of its user invocation table sees it (`this`). */
export interface FpContext {
  vars: Record<string, unknown>;
}

export function scopeOf(ctx: FpContext): RequestScope {
  return ctx.vars[SCOPE_VAR] as RequestScope;
}

/** Builds the variables object for one evaluation pass (the service's named expressions are read through its prototype). */
export function createVariables(scope: RequestScope, initial: Record<string, unknown>): Record<string, unknown> {
  return { ...initial, [SCOPE_VAR]: scope };
}
