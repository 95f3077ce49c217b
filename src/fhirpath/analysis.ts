// Static analysis of FHIRPath expressions for load-time checks: the %variables, functions and defineVariable
// names an expression uses, from fhirpath.js's own parse tree; and the names fhirpath.js itself provides.
import fhirpath from 'fhirpath';

export interface ExpressionAnalysis {
  variables: Set<string>;
  functions: Set<string>;
  /** Names introduced with defineVariable('x', ...) inside the expression. */
  defined: Set<string>;
  /** Every function call with its string-literal parameters (undefined where a parameter is not a literal). */
  calls: { name: string; literals: (string | undefined)[]; params: string[] }[];
}

interface AstNode {
  type: string;
  text?: string;
  terminalNodeText?: string[];
  children?: AstNode[];
}

/** Walks a fhirpath.js parse tree for %variables, function names and defineVariable names. */
export function analyzeExpression(expr: string): ExpressionAnalysis {
  const ast = fhirpath.parse(expr) as AstNode;
  const result: ExpressionAnalysis = { variables: new Set(), functions: new Set(), defined: new Set(), calls: [] };
  const stack: AstNode[] = [ast];
  while (stack.length) {
    const node = stack.pop() as AstNode;
    if (node.type === 'ExternalConstant') {
      const id = node.children?.[0];
      const name = (id?.text ?? node.text ?? '').replace(/^`|`$/g, '').replace(/^'|'$/g, '');
      if (name) result.variables.add(name);
    } else if (node.type === 'Functn') {
      const id = node.children?.find((c) => c.type === 'Identifier');
      const name = id?.text ?? '';
      if (name) result.functions.add(name);
      const params = node.children?.find((c) => c.type === 'ParamList')?.children ?? [];
      const literals = params.map((p) => p.text?.match(/^'(.*)'$/)?.[1]);
      result.calls.push({ name, literals, params: params.map((p) => p.text ?? '') });
      if (name === 'defineVariable' && literals[0]) result.defined.add(literals[0]);
    }
    for (const c of node.children ?? []) stack.push(c);
  }
  return result;
}

/** Functions fhirpath.js itself provides (its invocation table; it is not exported, so listed here). */
export const BUILTIN_FUNCTIONS: ReadonlySet<string> = new Set(
  ('resolve memberOf empty not exists all allTrue anyTrue allFalse anyFalse subsetOf supersetOf isDistinct distinct count ' +
    'where extension select coalesce sort aggregate sum min max avg single first last type ofType is as tail take skip ' +
    'combine union intersect exclude iif trace defineVariable toInteger toLong toDecimal toString toDate toDateTime toTime ' +
    'toBoolean toQuantity hasValue getValue convertsToBoolean convertsToInteger convertsToLong convertsToDecimal ' +
    'convertsToString convertsToDate convertsToDateTime convertsToTime convertsToQuantity indexOf lastIndexOf substring ' +
    'startsWith endsWith contains upper lower replace matches matchesFull replaceMatches length toChars join split trim ' +
    'encode decode escape unescape abs ceiling exp floor ln log power round sqrt truncate lowBoundary highBoundary now ' +
    'today timeOfDay yearOf monthOf dayOf hourOf minuteOf secondOf millisecondOf timezoneOffsetOf dateOf timeOf repeat ' +
    'children descendants').split(/\s+/),
);

/** Functions that reach the network in fhirpath.js; never allowed in rules (we override memberOf offline). */
export const FORBIDDEN_FUNCTIONS: ReadonlySet<string> = new Set(['resolve', 'trace']);

/** Variables fhirpath.js always provides. */
export const BUILTIN_VARIABLES: ReadonlySet<string> = new Set(['context', 'ucum', 'factory', 'sct', 'loinc']);
