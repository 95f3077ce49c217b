// Paths: member access over FHIR JSON with the model's types (choice types `value[x]`, primitive extensions
// `_x`, a type name at the start of a path), `%variables`, `$this`, `$index` and the indexer `[n]`.
import { attached } from '../attached';
import { identifierValue, stringLiteralValue, child, type AstNode } from './ast';
import { types, type Coll, type ResourceNodeLike } from './internals';
import type { Code, Root, Scope } from './scope';

const { ResourceNode, TypeInfo } = types;
const { makeResNode } = ResourceNode;

type PathInfo = { ctx: unknown; path: string; fhirNodeDataType: string; parentResNode: unknown; propName: string; index: number };
type Json = { __path__?: PathInfo; resourceType?: unknown };

interface Model {
  pathsDefinedElsewhere: Record<string, string>;
  choiceTypePaths: Record<string, string[]>;
  path2Type: Record<string, string>;
  path2TypeWithoutElements: Record<string, string>;
}
/** A child element as fhirpath.js's makeChildResNodes names it: JSON field, node path and FHIR type. */
interface Child {
  field: string;
  /** `_` + field, the primitive's extension member, made once: a string built per read is slow to look up. */
  extensionField: string;
  path: string;
  type: string | null;
}
/** The children a member name may be under one parent path: one, or one per type of a choice element. */
type Children = { choice: false; child: Child } | { choice: true; children: Child[] };

function childrenAt(model: Model, parentPath: string, key: string): Children {
  let childPath = parentPath + '.' + key;
  childPath = model.pathsDefinedElsewhere[childPath] || childPath;
  const finish = (field: string, path: string): Child => ({ field, extensionField: '_' + field, path: model.path2TypeWithoutElements[path] || path, type: model.path2Type[path] ?? null });
  const types = model.choiceTypePaths[childPath];
  if (types) return { choice: true, children: types.map((t) => finish(key + t, childPath + t)) };
  return { choice: false, child: finish(key, key === 'extension' ? 'Extension' : childPath) };
}

const isSome = (x: unknown): boolean => !(x === null || x === undefined || (Array.isArray(x) && x.length === 0));

type Node = ResourceNodeLike & { _data?: Record<string, unknown> | null };

/** fhirpath.js's makeChildResNodes, with the model lookups of each parent path done once and kept. */
function pushChildren(result: Coll, root: Root, parent: Node, key: string, extensionKey: string, model: Model, cache: Map<string, Children>): void {
  const data = parent.data as Record<string, unknown> | null | undefined;
  let toAdd: unknown;
  let _toAdd: unknown;
  let path: string | null = null;
  let type: string | null = null;
  if (parent.path) {
    let children = cache.get(parent.path);
    if (children === undefined) cache.set(parent.path, (children = childrenAt(model, parent.path, key)));
    if (children.choice) {
      for (const c of children.children) {
        toAdd = data?.[c.field];
        _toAdd = data?.[c.extensionField];
        if (toAdd !== undefined || _toAdd !== undefined) {
          path = c.path;
          type = c.type;
          break;
        }
      }
    } else {
      toAdd = data?.[key];
      _toAdd = data?.[extensionKey];
      if (toAdd === undefined && _toAdd === undefined) toAdd = parent._data?.[key];
      path = children.child.path;
      type = children.child.type;
    }
  } else {
    toAdd = data?.[key];
    _toAdd = data?.[extensionKey];
    if (toAdd === undefined && _toAdd === undefined) toAdd = parent._data?.[key];
  }
  if (!isSome(toAdd) && !isSome(_toAdd)) return;
  const extra = _toAdd as unknown[] | null | undefined;
  if (Array.isArray(toAdd)) {
    for (let i = 0; i < toAdd.length; i++) result.push(makeResNode(root, toAdd[i], parent, path, extra && extra[i], type, key, i));
    for (let i = toAdd.length; i < (extra?.length || 0); i++) result.push(makeResNode(root, null, parent, path, (extra as unknown[])[i], type, key, i));
  } else if (toAdd == null && Array.isArray(extra)) {
    for (let i = 0; i < extra.length; i++) result.push(makeResNode(root, null, parent, path, extra[i], type, key, i));
  } else {
    result.push(makeResNode(root, toAdd, parent, path, _toAdd, type, key));
  }
}

export function compileMember(node: AstNode, model: unknown): Code {
  const key = identifierValue(child(node).text);
  const extensionKey = '_' + key;
  const atRoot = node.atRoot;
  const typeAtRoot = atRoot ? new TypeInfo({ name: key }) : undefined;
  const cache = new Map<string, Children>();
  return (focus, s) => {
    const result: Coll = [];
    for (let i = 0; i < focus.length; i++) {
      const item = focus[i];
      // Most items are nodes already (makeResNode would return them as is): skip the __path__ probe for them.
      const p = item instanceof ResourceNode ? undefined : (item as Json | undefined)?.__path__;
      const res = item instanceof ResourceNode ? item : makeResNode(s.root, item, null, p?.path, null, p?.fhirNodeDataType);
      if ((res.data as Json | undefined)?.resourceType === key) {
        result.push(res);
      } else if (
        typeAtRoot &&
        (atRoot === 1 || (s.$index !== undefined ? s.dataRoot[s.$index] === s.$this?.[0] : s.dataRoot === s.$this)) &&
        res.getTypeInfo().is(typeAtRoot, model)
      ) {
        result.push(res);
      } else {
        pushChildren(result, s.root, res, key, extensionKey, model as Model, cache);
      }
    }
    return result;
  };
}

// A variable's value as fhirpath.js first reads it: resources (and values carrying a path) become ResourceNodes.
// Most values are collections an earlier expression returned, nodes already: they are used as they are. A collection
// that needs wrapping (a prefetch key's resources) is wrapped once and the result kept on it, so that a
// 20,000-resource key is wrapped once per request, not once per expression.
const WRAPPED = Symbol('collection as nodes');

function needsWrapping(i: unknown): boolean {
  if (i instanceof ResourceNode || i === null || typeof i !== 'object') return false;
  const j = i as Json;
  return j.__path__ !== undefined || Boolean(j.resourceType);
}

function wrapItem(root: Root, i: unknown): unknown {
  if (!needsWrapping(i)) return i;
  const j = i as Json;
  const p = j.__path__;
  return p ? makeResNode(p.ctx, j, p.parentResNode, p.path, null, p.fhirNodeDataType) : makeResNode(root, j, null, null, null, null);
}

function wrapValue(root: Root, value: unknown): unknown {
  if (!Array.isArray(value)) return wrapItem(root, value);
  if (!value.some(needsWrapping)) return value;
  return attached(value, WRAPPED, () => value.map((i) => wrapItem(root, i)));
}

// The %variables read from a variables object, by name, as read: the service evaluates hundreds of expressions and
// rule-function bodies on one request's variables, and reading a named expression's getter is not free.
const VALUES_READ = Symbol('variables read');

export function valuesReadFrom(vars: object): Map<string, unknown> {
  return attached(vars, VALUES_READ, () => new Map<string, unknown>());
}

/** A %variable as fhirpath.js resolves it: the caller's variables, then the built-in ones, then defineVariable names. */
function readVariable(s: Scope, name: string): unknown {
  const root = s.root;
  if (name in root.vars) {
    const value = wrapValue(root, root.vars[name]);
    root.userValues.set(name, value);
    return value;
  }
  if (name in root.processedVars) return root.processedVars[name];
  if (s.definedVars && name in s.definedVars) return s.definedVars[name];
  throw new Error('Attempting to access an undefined environment variable: ' + name);
}

export function compileVariable(node: AstNode): Code {
  const name = node.delimitedText ? stringLiteralValue(node.delimitedText) : (node.text ?? '');
  return (_f, s) => {
    const known = s.root.userValues;
    const value = known.has(name) ? known.get(name) : readVariable(s, name);
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
