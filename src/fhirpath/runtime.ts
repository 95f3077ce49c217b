// The FHIRPath runtime: fhirpath.js with the R4 model and this service's functions (registered through its user
// invocation table, no patching). Expressions are compiled once at load and evaluated per request.
import fhirpath from 'fhirpath';
import r4 from 'fhirpath/fhir-context/r4';
import type { ValueSetIndex } from '../evaluation/terminology';
import { BUILTIN_FUNCTIONS, FORBIDDEN_FUNCTIONS } from './analysis';
import { buildInvocationTable } from './functions/table';
import type { FpContext } from './scope';

export type Collection = unknown[];

export interface CompiledExpression {
  readonly source: string;
  evaluate(base: unknown, vars: Record<string, unknown>): Collection;
}

export interface ExpressionRuntime {
  compile(expr: string): CompiledExpression;
  /**
   * Registers a rule-defined function: `name()` evaluates `body` once per input item (the item is the focus) with the
   * caller's variables. Must be called before compiling the expressions that use it.
   */
  defineFunction(name: string, body: CompiledExpression): void;
  /** Names of every function an expression may call. */
  readonly functionNames: ReadonlySet<string>;
  readonly forbiddenFunctions: ReadonlySet<string>;
}

export function createExpressionRuntime(valueSets: ValueSetIndex): ExpressionRuntime {
  const userInvocationTable = buildInvocationTable(valueSets);
  const options = { userInvocationTable, resolveInternalTypes: false } as unknown as Parameters<typeof fhirpath.compile>[2];
  const functionNames = new Set([...BUILTIN_FUNCTIONS, ...Object.keys(userInvocationTable)]);
  for (const f of FORBIDDEN_FUNCTIONS) functionNames.delete(f);
  return {
    functionNames,
    forbiddenFunctions: FORBIDDEN_FUNCTIONS,
    defineFunction(name, body) {
      if (functionNames.has(name) || FORBIDDEN_FUNCTIONS.has(name)) throw new Error(`function ${name}() already exists`);
      userInvocationTable[name] = {
        fn(this: FpContext, inputs: unknown[]) {
          return inputs.flatMap((item) => body.evaluate(item, this.vars));
        },
        internalStructures: true,
      };
      functionNames.add(name);
    },
    compile(expr) {
      const fn = fhirpath.compile(expr, r4 as never, options) as unknown as (base: unknown, vars: Record<string, unknown>) => Collection;
      return { source: expr, evaluate: (base, vars) => fn(base, vars) };
    },
  };
}

