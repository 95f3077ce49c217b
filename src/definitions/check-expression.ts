// Static checks of expressions and prefetch templates: names, functions, value sets and from() keys resolve,
// and prefetch tokens are CDS Hooks 2.0 tokens.
import { errorMessage } from '../errors';
import { resolveValueSetUrl, type ValueSetIndex } from '../evaluation/terminology';
import { analyzeExpression, BUILTIN_VARIABLES, type ExpressionAnalysis } from '../fhirpath/analysis';
import type { ExpressionRuntime } from '../fhirpath/runtime';
import { escapePointer } from './issues';
import type { LoadIssue, PrefetchKey } from './types';

export interface Scope {
  /** Variables visible at this point (prefetch keys, earlier names, built-ins). */
  variables: Set<string>;
  prefetchKeys: Set<string>;
  /** Rule-defined functions of the libraries this service uses, with the variables their bodies read. */
  functions: Map<string, ExpressionAnalysis>;
  /** Where the value sets named by the rules are recorded (prefetch code lists and the coverage report use it). */
  usage?: ValueSetUsage;
}

export interface ValueSetUsage {
  /** Canonical urls of every value set a rule names (memberOf, from). */
  valueSets: Set<string>;
  /** Per prefetch key, the value sets rules read from it with from(key, valueSet). */
  reads: Map<string, Set<string>>;
}

export function createValueSetUsage(): ValueSetUsage {
  return { valueSets: new Set(), reads: new Map() };
}

/** Rule-defined functions of every library: which library defines each, and what its body reads. */
export type LibraryFunctions = Map<string, { library: string; analysis: ExpressionAnalysis }>;

/** The analysis of an expression, or undefined with an issue when it does not parse. */
export function analyzeOrReport(source: string, file: string, pointer: string, issues: LoadIssue[]): ExpressionAnalysis | undefined {
  try {
    return analyzeExpression(source);
  } catch (e) {
    issues.push({ file, pointer, message: `FHIRPath does not parse: ${errorMessage(e).split('\n')[0]}` });
    return undefined;
  }
}

/**
 * Static checks of one expression (its source, or its analysis when the caller has analysed it already): names,
 * functions, value sets, prefetch keys of from().
 */
export function checkExpression(
  expression: string | ExpressionAnalysis,
  scope: Scope,
  runtime: ExpressionRuntime,
  valueSets: ValueSetIndex,
  file: string,
  pointer: string,
  issues: LoadIssue[],
  libraryFunctions: LibraryFunctions,
): void {
  const analysis = typeof expression === 'string' ? analyzeOrReport(expression, file, pointer, issues) : expression;
  if (!analysis) return;
  for (const v of analysis.variables) {
    if (!scope.variables.has(v) && !analysis.defined.has(v) && !BUILTIN_VARIABLES.has(v)) {
      issues.push({ file, pointer, message: `undefined variable %${v}` });
    }
  }
  for (const f of analysis.functions) {
    const defined = libraryFunctions.get(f);
    if (runtime.forbiddenFunctions.has(f)) issues.push({ file, pointer, message: `function ${f}() is not allowed in rules (it reaches the network or the console)` });
    else if (defined && !scope.functions.has(f)) issues.push({ file, pointer, message: `function ${f}() belongs to library "${defined.library}", which this service does not use` });
    else if (!runtime.functionNames.has(f)) issues.push({ file, pointer, message: `unknown function ${f}()` });
    // A function body runs with the caller's variables: they must be visible here.
    for (const v of scope.functions.get(f)?.variables ?? []) {
      if (!scope.variables.has(v) && !BUILTIN_VARIABLES.has(v) && !scope.functions.get(f)?.defined.has(v)) {
        issues.push({ file, pointer, message: `function ${f}() reads %${v}, which is not defined before this expression` });
      }
    }
  }
  for (const call of analysis.calls) {
    const vsArg = call.name === 'memberOf' ? 0 : call.name === 'from' ? 1 : -1;
    if (vsArg >= 0) {
      const ref = call.literals[vsArg];
      // memberOf(valueSet) over a table's rows (a row's `valueSet` member, or a variable holding it) reads value sets
      // the table check verifies; any other non-literal argument is an issue.
      const tableValueSet = call.name === 'memberOf' && /^(valueSet|%[A-Za-z]+)$/.test(call.params[0] ?? '');
      if (ref === undefined && !tableValueSet) issues.push({ file, pointer, message: `${call.name}() needs a literal value-set url or name` });
      else if (ref !== undefined && !valueSets.has(resolveValueSetUrl(ref))) issues.push({ file, pointer, message: `unknown value set "${ref}"` });
      else if (ref !== undefined && scope.usage) {
        scope.usage.valueSets.add(resolveValueSetUrl(ref));
        const key = call.literals[0];
        if (call.name === 'from' && key !== undefined) scope.usage.reads.set(key, (scope.usage.reads.get(key) ?? new Set()).add(ref));
      }
    }
    if (call.name === 'from') {
      const key = call.literals[0];
      if (key === undefined || !scope.prefetchKeys.has(key)) issues.push({ file, pointer, message: `from() names no prefetch key of this service: "${key ?? '(not a literal)'}"` });
    }
  }
}

export function checkPrefetch(prefetch: Record<string, Pick<PrefetchKey, 'query'>>, file: string, issues: LoadIssue[]): void {
  for (const [key, p] of Object.entries(prefetch)) {
    for (const m of p.query.matchAll(/\{\{([^}]*)\}\}/g)) {
      const token = (m[1] ?? '').trim();
      const ok = /^context\.[A-Za-z]+$/.test(token) || ['userPractitionerId', 'userPractitionerRoleId', 'userPatientId', 'userRelatedPersonId'].includes(token);
      if (!ok) issues.push({ file, pointer: `/prefetch/${escapePointer(key)}/query`, message: `prefetch token {{${token}}} is not a CDS Hooks 2.0 token` });
    }
  }
}

