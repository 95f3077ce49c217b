// Function calls and infix operators: the callee is resolved at load (the service's functions first, then
// fhirpath.js's), each parameter is compiled by its kind (a lambda per item for `Expr`, a collection for `Any`,
// a checked singleton for `String`, `Integer`, ...), and empty-propagation follows the callee's table entry.
import { identifierValue, UnsupportedFhirPath, type AstNode } from './ast';
import { BUILTINS, OPERATORS, type Invocable, type ParamKind } from './builtins';
import { withDistinctFastPath } from './distinct-resources';
import { singleton, types, type Coll, type FpFunction } from './internals';
import { withThis, type Code, type Scope } from './scope';

const { TypeInfo, ResourceNode } = types;

export type CompileNode = (node: AstNode) => Code;

/** The runtime value handed to the callee for one parameter. */
type Param = (focus: Coll, s: Scope) => unknown;

const arraify = (x: unknown): Coll => (Array.isArray(x) ? x : x === null || x === undefined ? [] : [x]);

function typeSpecifier(node: AstNode, model: unknown): Param {
  const ids = (node.text ?? '').split('.').map(identifierValue);
  if (ids.length > 2) throw new UnsupportedFhirPath(`type specifier ${node.text}`);
  const info = ids.length === 2 ? new TypeInfo({ namespace: ids[0], name: ids[1] as string }) : new TypeInfo({ name: ids[0] as string });
  if (!info.isValid(model)) {
    return () => {
      throw new Error(`"${String(info)}" cannot be resolved to a valid type identifier`);
    };
  }
  return () => info;
}

// fhirpath.js functions that change their context ($index, defined variables) while they run.
const SCOPE_CHANGING = new Set(['where', 'select', 'all', 'exists', 'extension', 'repeat', 'defineVariable', 'aggregate', 'sort']);

/** True when evaluating `node` may change the scope it runs in, so that it needs a copy of it (fhirpath.js's cloneCtx). */
function changesScope(node: AstNode, functions: FunctionTable): boolean {
  if (node.type === 'FunctionInvocation') {
    const functn = node.children?.[0];
    const name = identifierValue(functn?.children?.[0]?.text ?? functn?.text);
    if (SCOPE_CHANGING.has(name) && !Object.prototype.hasOwnProperty.call(functions, name)) return true;
  }
  return (node.children ?? []).some((c) => changesScope(c, functions));
}

function compileParam(kind: ParamKind, raw: AstNode, compile: CompileNode, model: unknown, functions: FunctionTable): Param {
  const node = (raw.type === 'SortDirectionArgument' || raw.type === 'SortArgument') && raw.children?.[0] ? raw.children[0] : raw;
  if (kind === 'Expr') {
    const code = compile(node);
    return (_focus, s) => (data: unknown) => {
      const $this = arraify(data);
      return code($this, withThis(s, $this));
    };
  }
  if (kind === 'ExprAtCurrent') {
    const code = compile(node);
    return (_focus, s) => (data: unknown) => code(arraify(data), withThis(s, s.$this));
  }
  if (kind === 'TypeSpecifier') return typeSpecifier(node, model);
  if (kind === 'Identifier' || kind === 'SortArgument') throw new UnsupportedFhirPath(`${kind} parameter`);
  const code = compile(node);
  // Below the top level ($this set) a subexpression that cannot change its scope may share it: same values, no copy.
  const evaluate: Param = changesScope(node, functions)
    ? (_focus, s) => {
        const $this = s.$this || s.dataRoot;
        return code($this, withThis(s, $this));
      }
    : (_focus, s) => {
        const $this = s.$this || s.dataRoot;
        return code($this, s.$this === undefined ? withThis(s, $this) : s);
      };
  if (kind === 'Any' || kind === 'AnyAtRoot') return evaluate;
  const type = Array.isArray(kind) ? kind[0] : kind;
  const orEmpty = Array.isArray(kind);
  return (focus, s) => {
    const res = evaluate(focus, s) as Coll;
    if (orEmpty && res.length === 0) return [];
    return singleton(res, type);
  };
}

const isNullable = (x: unknown): boolean => x === null || x === undefined || (Array.isArray(x) && x.length === 0);

/** fhirpath.js passes plain values, not its nodes, to table entries that do not ask for its internal structures. */
function plainArguments(fn: FpFunction): FpFunction {
  return function (this: unknown, ...args: unknown[]) {
    return (fn as (...a: unknown[]) => unknown).apply(this, args.map((a) => (Array.isArray(a) ? a.map((i) => (i instanceof ResourceNode ? i.data : i)) : a)));
  } as FpFunction;
}

function call(entry: Invocable, name: string, paramNodes: AstNode[], compile: CompileNode, model: unknown, functions: FunctionTable): Code {
  const fn = withDistinctFastPath(entry.fn) as unknown as (this: Scope, ...a: unknown[]) => unknown;
  if (!entry.arity) {
    if (paramNodes.length > 0) {
      return () => {
        throw new Error(`${name} expects no params`);
      };
    }
    return (focus, s) => arraify(fn.call(s, focus));
  }
  const kinds = entry.arity[paramNodes.length];
  if (!kinds) throw new UnsupportedFhirPath(`${name}() with ${paramNodes.length} parameter(s)`);
  const params = paramNodes.map((p, i) => compileParam(kinds[i] as ParamKind, p, compile, model, functions));
  const nullable = entry.nullable === true;
  switch (params.length) {
    case 0:
      return (focus, s) => arraify(fn.call(s, focus));
    case 1: {
      const [p0] = params as [Param];
      return (focus, s) => {
        const a = p0(focus, s);
        if (nullable && isNullable(a)) return [];
        return arraify(fn.call(s, focus, a));
      };
    }
    default:
      return (focus, s) => {
        const args: unknown[] = [focus];
        for (const p of params) args.push(p(focus, s));
        if (nullable && args.some((a, i) => i > 0 && isNullable(a))) return [];
        return arraify(fn.apply(s, args));
      };
  }
}

export interface FunctionTable {
  readonly [name: string]: Invocable & { internalStructures?: boolean };
}

export function compileFunction(node: AstNode, functions: FunctionTable, compile: CompileNode, model: unknown): Code {
  const functn = node.children?.[0];
  const name = identifierValue(functn?.children?.[0]?.text ?? functn?.text);
  if (name === 'sort') throw new UnsupportedFhirPath('sort()');
  const paramNodes = functn?.children?.find((c) => c.type === 'ParamList')?.children ?? [];
  const own = Object.prototype.hasOwnProperty.call(functions, name) ? functions[name] : undefined;
  if (own) {
    const entry = own.internalStructures ? own : { ...own, fn: plainArguments(own.fn) };
    return call(entry, name, paramNodes, compile, model, functions);
  }
  const builtin = Object.prototype.hasOwnProperty.call(BUILTINS, name) ? BUILTINS[name] : undefined;
  if (!builtin) throw new UnsupportedFhirPath(`${name}()`);
  return call(builtin, name, paramNodes, compile, model, functions);
}

const ALIASES: Record<string, Record<string, string>> = {
  TypeExpression: { is: 'is', as: 'as' },
  MembershipExpression: { contains: 'contains', in: 'in' },
};

export function compileOperator(node: AstNode, compile: CompileNode, model: unknown, functions: FunctionTable): Code {
  const symbol = node.text ?? '';
  const alias = ALIASES[node.type];
  const op = alias ? alias[symbol] : symbol;
  const entry = op !== undefined && Object.prototype.hasOwnProperty.call(OPERATORS, op) ? OPERATORS[op] : undefined;
  const operands = node.children ?? [];
  if (!entry || operands.length !== 2) throw new UnsupportedFhirPath(`operator ${symbol}`);
  const kinds = entry.arity[2] as ParamKind[];
  const [left, right] = operands.map((o, i) => compileParam(kinds[i] as ParamKind, o, compile, model, functions)) as [Param, Param];
  const fn = withDistinctFastPath(entry.fn) as unknown as (this: Scope, a: unknown, b: unknown) => unknown;
  const nullable = entry.nullable === true;
  return (focus, s) => {
    const a = left(focus, s);
    const b = right(focus, s);
    if (nullable && (isNullable(a) || isNullable(b))) return [];
    return arraify(fn.call(s, a, b));
  };
}

export function compilePolarity(node: AstNode, operand: Code): Code {
  const sign = node.text;
  return (focus, s) => {
    const rtn = operand(focus, s);
    if (rtn.length !== 1) throw new Error(`Unary ${sign} can only be applied to an individual number or Quantity.`);
    const v = rtn[0];
    if (typeof v === 'bigint' || (typeof v === 'number' && !Number.isNaN(v))) return [sign === '-' ? -v : v];
    if (v instanceof types.FP_Type) return [sign === '-' ? (v as { negate(): unknown }).negate() : v];
    throw new Error(`Unary ${sign} can only be applied to a number or Quantity.${node.start ? ` (at ${node.start.line}:${node.start.column})` : ''}`);
  };
}

