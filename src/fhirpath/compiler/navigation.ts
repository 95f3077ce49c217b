// Paths: member access over FHIR JSON with the model's types (choice types `value[x]`, primitive extensions
// `_x`, a type name at the start of a path), `%variables`, `$this`, `$index` and the indexer `[n]`.
import { identifierValue, stringLiteralValue, child, type AstNode } from './ast';
import { types, util, type Coll } from './internals';
import type { Code, Root } from './scope';

const { ResourceNode, TypeInfo } = types;
const { makeResNode } = ResourceNode;

type PathInfo = { ctx: unknown; path: string; fhirNodeDataType: string; parentResNode: unknown; propName: string; index: number };
type Json = { __path__?: PathInfo; resourceType?: unknown };

export function compileMember(node: AstNode, model: unknown): Code {
  const key = identifierValue(child(node).text);
  const atRoot = node.atRoot;
  const typeAtRoot = atRoot ? new TypeInfo({ name: key }) : undefined;
  return (focus, s) => {
    const result: Coll = [];
    for (let i = 0; i < focus.length; i++) {
      const item = focus[i] as Json | undefined;
      const p = item?.__path__;
      const res = makeResNode(s.root, item, null, p?.path, null, p?.fhirNodeDataType);
      if ((res.data as Json | undefined)?.resourceType === key) {
        result.push(res);
      } else if (
        typeAtRoot &&
        (atRoot === 1 || (s.$index !== undefined ? s.dataRoot[s.$index] === s.$this?.[0] : s.dataRoot === s.$this)) &&
        res.getTypeInfo().is(typeAtRoot, model)
      ) {
        result.push(res);
      } else {
        const children = util.makeChildResNodes(s.root as never, res, key, model);
        for (let j = 0; j < children.length; j++) result.push(children[j]);
      }
    }
    return result;
  };
}

// A variable's value as fhirpath.js first reads it: resources (and values carrying a path) become ResourceNodes.
// Remembered per value so that a 20,000-resource prefetch key is wrapped once per request, not once per expression.
const wrapped = new WeakMap<object, Coll>();

function wrapItem(root: Root, i: unknown): unknown {
  const j = i as Json | null | undefined;
  const p = j?.__path__;
  if (p) return makeResNode(p.ctx, j, p.parentResNode, p.path, null, p.fhirNodeDataType);
  return j?.resourceType ? makeResNode(root, j, null, null, null, null) : i;
}

function wrapValue(root: Root, value: unknown): unknown {
  if (!Array.isArray(value)) return wrapItem(root, value);
  let w = wrapped.get(value);
  if (w === undefined) {
    w = value.map((i) => wrapItem(root, i));
    wrapped.set(value, w);
  }
  return w;
}

export function compileVariable(node: AstNode): Code {
  const name = node.delimitedText ? stringLiteralValue(node.delimitedText) : (node.text ?? '');
  return (_f, s) => {
    const root = s.root;
    let value: unknown;
    if (name in root.vars && !root.processedUserVarNames.has(name)) {
      value = wrapValue(root, root.vars[name]);
      root.processedVars[name] = value;
      root.processedUserVarNames.add(name);
    } else if (name in root.processedVars) {
      value = root.processedVars[name];
    } else if (s.definedVars && name in s.definedVars) {
      value = s.definedVars[name];
    } else {
      throw new Error('Attempting to access an undefined environment variable: ' + name);
    }
    return value === undefined || value === null ? [] : Array.isArray(value) ? value : [value];
  };
}

export const thisInvocation: Code = (_f, s) => s.$this ?? s.dataRoot;

export const indexInvocation: Code = (_f, s) => (s.$index === undefined ? [] : [s.$index]);

export function compileIndexer(coll: Code, index: Code): Code {
  return (focus, s) => {
    const c = coll(focus, s);
    const idx = index(focus, s);
    if (idx.length === 0) return [];
    const n = parseInt(String(idx[0]), 10);
    return !Number.isNaN(n) && c.length > n && n >= 0 ? [c[n]] : [];
  };
}
