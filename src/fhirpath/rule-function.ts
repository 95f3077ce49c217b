// A rule-defined function (a library's `functions`) as an invocation-table entry: its body runs once per input item,
// with the item as focus and the caller's variables. The body reads nothing else (not the caller's $this, $index or
// defineVariable names; now() is the request's), so its result on a whole resource is a function of that resource and
// the variables object. Those results are remembered per variables object (one per evaluation, or per card layer) and
// per resource: hbCutoff() asked about the same hemoglobin by six expressions of one request is computed once. Both
// keys are weak, so nothing outlives the request.
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

export function ruleFunction(body: RuleFunctionBody): RuleFunctionEntry {
  const remembered = new WeakMap<object, WeakMap<object, Collection>>();
  return {
    fn(this: FpContext, inputs: unknown[]) {
      const vars = this.vars;
      let byResource = remembered.get(vars);
      if (byResource === undefined) remembered.set(vars, (byResource = new WeakMap()));
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
