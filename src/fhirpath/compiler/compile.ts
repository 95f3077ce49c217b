// compileFhirPath: turns an expression's syntax tree into nested closures once, at load. Evaluation then runs
// without fhirpath.js's interpreter (no per-node dispatch, context cloning or parameter re-wrapping), while every
// value, operator and function keeps fhirpath.js's own semantics.
import { child, parseFhirPath, UnsupportedFhirPath, type AstNode } from './ast';
import { types, constants, type Coll } from './internals';
import { compileLiteral } from './literals';
import { compileIndexer, compileMember, compileVariable, indexInvocation, thisInvocation, valuesReadFrom } from './navigation';
import { compileFunction, compileOperator, compilePolarity, type FunctionTable } from './invocation';
import { Root, Scope, type Code } from './scope';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const Factory = require('fhirpath/src/factory.js') as unknown;
const { ResourceNode, FP_Decimal_Native } = types;

export interface CompileOptions {
  /** fhirpath.js's model, e.g. `fhirpath/fhir-context/r4`. */
  model: unknown;
  /** Default values of %variables (the variables passed to evaluate win). */
  variables?: Record<string, unknown>;
  /** Functions besides fhirpath.js's, in the shape of its user invocation table; they override built-ins. */
  functions?: FunctionTable;
}

export interface CompiledFhirPath {
  readonly source: string;
  /**
   * Evaluates on a resource, any JSON value, or a collection; returns fhirpath.js's internal values, as compile() does
   * with resolveInternalTypes: false. Each of `vars`'s variables is read once per `vars` object, whatever the number of
   * evaluations on it: a variable may be a getter computed on first read, but not one that changes once read.
   */
  evaluate(resourceOrCollection: unknown, vars?: Record<string, unknown>): Coll;
}

const PASS_THROUGH = new Set(['EntireExpression', 'TermExpression', 'InvocationTerm', 'ParenthesizedTerm']);
const OPERATOR_TYPES = new Set([
  'EqualityExpression', 'InequalityExpression', 'AdditiveExpression', 'MultiplicativeExpression', 'UnionExpression',
  'OrExpression', 'AndExpression', 'XorExpression', 'ImpliesExpression', 'TypeExpression', 'MembershipExpression',
]);

function compiler(options: CompileOptions): (node: AstNode) => Code {
  const functions = options.functions ?? {};
  const { model } = options;
  const compile = (node: AstNode): Code => {
    if (PASS_THROUGH.has(node.type)) return compile(child(node));
    if (OPERATOR_TYPES.has(node.type)) return compileOperator(node, compile, model, functions);
    switch (node.type) {
      case 'LiteralTerm': {
        if (node.children?.length) return compile(child(node));
        const text = node.text;
        return () => [text];
      }
      case 'InvocationExpression': {
        const steps = (node.children ?? []).map(compile);
        if (steps.length === 2) {
          const [a, b] = steps as [Code, Code];
          return (focus, s) => b(a(focus, s), s);
        }
        return (focus, s) => steps.reduce((acc, step) => step(acc, s), focus);
      }
      case 'MemberInvocation':
        return compileMember(node, model);
      case 'FunctionInvocation':
        return compileFunction(node, functions, compile, model);
      case 'ExternalConstantTerm':
        return compileVariable(node);
      case 'ThisInvocation':
        return thisInvocation;
      case 'IndexInvocation':
        return indexInvocation;
      case 'IndexerExpression':
        return compileIndexer(compile(child(node, 0)), compile(child(node, 1)));
      case 'PolarityExpression':
        return compilePolarity(node, compile(child(node)));
      case 'StringLiteral':
      case 'NumberLiteral':
      case 'LongNumberLiteral':
      case 'BooleanLiteral':
      case 'NullLiteral':
      case 'QuantityLiteral':
      case 'DateLiteral':
      case 'DateTimeLiteral':
      case 'TimeLiteral':
        return compileLiteral(node, model);
      default:
        throw new UnsupportedFhirPath(node.type);
    }
  };
  return compile;
}

type PathInfo = { ctx: unknown; path: string; fhirNodeDataType: string; parentResNode: unknown; propName: string; index: number };

function rootItem(root: Root, i: unknown): unknown {
  const j = i as { __path__?: PathInfo; resourceType?: unknown } | null | undefined;
  const p = j?.__path__;
  if (p) return ResourceNode.makeResNode(p.ctx, j, p.parentResNode, p.path, null, p.fhirNodeDataType, p.propName, p.index);
  return j?.resourceType ? ResourceNode.makeResNode(root, j, null, null, null, null) : i;
}

/** The descriptors of an object's string-named own properties (not the memos kept under symbols, attached.ts). */
function namedDescriptors(o: object): PropertyDescriptorMap {
  const all = Object.getOwnPropertyDescriptors(o);
  return Object.fromEntries(Object.getOwnPropertyNames(o).map((k) => [k, all[k] as PropertyDescriptor]));
}

/**
 * Compiles a FHIRPath expression with fhirpath.js's semantics. Throws UnsupportedFhirPath for a construct outside
 * the compiled subset (callers then use fhirpath.js for the whole expression) and fhirpath.js's parse errors as is.
 */
export function compileFhirPath(expression: string, options: CompileOptions): CompiledFhirPath {
  const ast = parseFhirPath(expression);
  const code = compiler(options)(child(ast));
  const defaults = options.variables;
  const model = options.model;
  return {
    source: expression,
    evaluate(resourceOrCollection, vars) {
      constants.reset();
      const given = vars ?? {};
      // Descriptors, not values: a variable may be a getter computed on first read (the service's named expressions).
      const all = defaults ? Object.defineProperties({ ...defaults }, namedDescriptors(given)) : given;
      const processed: Record<string, unknown> = { ucum: 'http://unitsofmeasure.org', factory: Factory };
      // The caller's own object is read once per name across evaluations; an object merged with defaults is new each time.
      const root = new Root(all, processed, model, [], FP_Decimal_Native.getDecimal, all === given ? valuesReadFrom(given) : new Map());
      const input = Array.isArray(resourceOrCollection) ? resourceOrCollection : resourceOrCollection === null || resourceOrCollection === undefined ? [] : [resourceOrCollection];
      const dataRoot = input.map((i) => rootItem(root, i));
      root.dataRoot = dataRoot;
      processed.context = dataRoot;
      const result = code(dataRoot, new Scope(root, undefined, undefined, undefined));
      // As fhirpath.js returns results: without null or undefined items.
      return result.some((n) => n === null || n === undefined) ? result.filter((n) => n !== null && n !== undefined) : result;
    },
  };
}

export { UnsupportedFhirPath };
