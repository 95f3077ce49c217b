// Per-request memos kept on the request's own objects (under a symbol, not enumerable), not in module-level WeakMaps.
// A WeakMap entry whose value leads back to its key (a node's context holds the variables that are the key) outlives
// its request in V8's young-generation GC: every scavenge copied the whole of each earlier request's evaluation, 0.65 MB
// per typical call, until the next full GC. A property dies with its owner.

/** `owner[key]`, created by `create` on first use; on an object that cannot take a property, a fresh value each time. */
export function attached<T>(owner: object, key: symbol, create: () => T): T {
  const o = owner as Record<symbol, T | undefined>;
  const existing = o[key];
  if (existing !== undefined) return existing;
  const value = create();
  if (Object.isExtensible(owner)) Object.defineProperty(owner, key, { value, enumerable: false });
  return value;
}
