// A fast path in front of fhirpath.js's union (`|`, union()) and distinct() for the common case of a collection of
// whole resources with pairwise different Type/id: no two can be equal, so the answer is the collection itself,
// without fhirpath.js's pairwise deep comparison or its key-sorted hashing of every resource. Anything else runs
// fhirpath.js's own function, so results stay identical.
import { fns, types, type Coll, type FpFunction } from './internals';

const { ResourceNode } = types;
const union = fns.combining.union as (this: unknown, a: Coll, b: Coll) => Coll;
const distinct = fns.filtering.distinctFn as (this: unknown, x: Coll) => Coll;

type Node = { data?: { resourceType?: unknown; id?: unknown } | null; _data?: unknown };

/**
 * True when every item is a ResourceNode over a resource with a string id, with no primitive extension data, and no
 * Type/id repeats. Equality of two such nodes compares their JSON member by member, so different ids (or types) make
 * them unequal.
 */
function distinctResources(items: Coll): boolean {
  if (items.length < 2) return true;
  const seen = new Set<string>();
  for (const item of items) {
    if (!(item instanceof ResourceNode)) return false;
    const { data, _data } = item as Node;
    if (_data != null || !data || typeof data.resourceType !== 'string' || typeof data.id !== 'string') return false;
    const key = `${data.resourceType}/${data.id}`;
    if (seen.has(key)) return false;
    seen.add(key);
  }
  return true;
}

const fastUnion = function (this: unknown, a: Coll, b: Coll): Coll {
  const all = a.concat(b);
  return distinctResources(all) ? all : union.call(this, a, b);
};

const fastDistinct = function (this: unknown, x: Coll): Coll {
  return distinctResources(x) ? x.slice() : distinct.call(this, x);
};

/** `fn`, or its fast-path equivalent when it is fhirpath.js's union or distinct. */
export function withDistinctFastPath(fn: FpFunction): FpFunction {
  if ((fn as unknown) === union) return fastUnion as unknown as FpFunction;
  if ((fn as unknown) === distinct) return fastDistinct as unknown as FpFunction;
  return fn;
}
