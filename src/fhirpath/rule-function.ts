// A rule-defined function (a library's `functions`) as an invocation-table entry: its body runs once per input item,
// with the item as focus and the caller's variables. The body reads nothing else (not the caller's $this, $index or
// defineVariable names; now() is the request's), so its result on a whole resource is a function of that resource and
// the variables object. Those results are kept on the variables object (one per evaluation, or per card layer), per
// function and resource: hbCutoff() asked about the same hemoglobin by several expressions of one request is computed
// once. They die with the request (attached.ts).
import { attached } from './attached';
import { dataOf } from './nodes';
import type { FpContext } from './scope';

type Collection = unknown[];

export interface RuleFunctionBody {
  evaluate(base: unknown, vars: Record<string, unknown>): Collection;
}

export interface RuleFunctionEntry {
  fn(this: FpContext, inputs: unknown[]): Collection;
  internalStructures: true;
}

/** The resource an item is, as a memo key; undefined for anything else (elements, primitives), which is not remembered. */
function resourceOf(item: unknown): object | undefined {
  const data = dataOf(item) as { resourceType?: unknown } | null | undefined;
  return data !== null && typeof data === 'object' && typeof data.resourceType === 'string' ? data : undefined;
}

const RESULTS = Symbol('rule function results');

export function ruleFunction(body: RuleFunctionBody): RuleFunctionEntry {
  return {
    fn(this: FpContext, inputs: unknown[]) {
      const vars = this.vars;
      const byFunction = attached(vars, RESULTS, () => new Map<RuleFunctionBody, Map<object, Collection>>());
      let byResource = byFunction.get(body);
      if (byResource === undefined) byFunction.set(body, (byResource = new Map()));
      const out: Collection = [];
      for (const item of inputs) {
        const resource = resourceOf(item);
        let result = resource && byResource.get(resource);
        if (result === undefined) {
          result = body.evaluate(item, vars);
          if (resource) byResource.set(resource, result);
        }
        for (const r of result) out.push(r);
      }
      return out;
    },
    internalStructures: true,
  };
}
