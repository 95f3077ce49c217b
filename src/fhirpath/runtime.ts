// The FHIRPath runtime: the R4 model and this service's functions, on one of two engines: the compiler
// (src/fhirpath/compiler, the default) or fhirpath.js's interpreter (the reference, and the fallback for any
// expression the compiler leaves to it). Expressions are compiled once at load and evaluated per request.
import fhirpath from 'fhirpath';
import r4 from 'fhirpath/fhir-context/r4';
import type { ValueSetIndex } from '../evaluation/terminology';
import { BUILTIN_FUNCTIONS, FORBIDDEN_FUNCTIONS } from './analysis';
import { compileFhirPath, UnsupportedFhirPath } from './compiler';
import { buildInvocationTable } from './functions/table';
import { ruleFunction } from './rule-function';

export type Collection = unknown[];

export interface CompiledExpression {
  readonly source: string;
  evaluate(base: unknown, vars: Record<string, unknown>): Collection;
}

export interface ExpressionRuntime {
  compile(expr: string): CompiledExpression;
  /**
   * Registers a rule-defined function: `name()` evaluates `body` once per input item (the item is the focus) with the
   * caller's variables, remembering its result on a resource per variables object (rule-function.ts). Must be called
   * before compiling the expressions that use it.
   */
  defineFunction(name: string, body: CompiledExpression): void;
  /** Names of every function an expression may call. */
  readonly functionNames: ReadonlySet<string>;
  readonly forbiddenFunctions: ReadonlySet<string>;
  /** Expressions the compiled engine left to fhirpath.js, with the construct that made it (`npm run check` lists them). */
  readonly referenceOnly: readonly { source: string; construct: string }[];
}

/** `compiled`: closures built at load (src/fhirpath/compiler); `reference`: fhirpath.js's interpreter. */
export type FhirPathEngine = 'compiled' | 'reference';

export function createExpressionRuntime(valueSets: ValueSetIndex, engine: FhirPathEngine = 'compiled'): ExpressionRuntime {
  const userInvocationTable = buildInvocationTable(valueSets);
  const options = { userInvocationTable, resolveInternalTypes: false } as unknown as Parameters<typeof fhirpath.compile>[2];
  const functionNames = new Set([...BUILTIN_FUNCTIONS, ...Object.keys(userInvocationTable)]);
  for (const f of FORBIDDEN_FUNCTIONS) functionNames.delete(f);
  const referenceOnly: { source: string; construct: string }[] = [];
  const reference = (expr: string): CompiledExpression => {
    const fn = fhirpath.compile(expr, r4 as never, options) as unknown as (base: unknown, vars: Record<string, unknown>) => Collection;
    return { source: expr, evaluate: (base, vars) => fn(base, vars) };
  };
  return {
    functionNames,
    forbiddenFunctions: FORBIDDEN_FUNCTIONS,
    referenceOnly,
    defineFunction(name, body) {
      if (functionNames.has(name) || FORBIDDEN_FUNCTIONS.has(name)) throw new Error(`function ${name}() already exists`);
      userInvocationTable[name] = ruleFunction(body);
      functionNames.add(name);
    },
    compile(expr) {
      if (engine === 'reference') return reference(expr);
      try {
        return compileFhirPath(expr, { model: r4, functions: userInvocationTable });
      } catch (e) {
        if (!(e instanceof UnsupportedFhirPath)) throw e;
        referenceOnly.push({ source: expr, construct: e.construct });
        return reference(expr);
      }
    },
  };
}

