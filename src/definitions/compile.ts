// Compiles named expressions, library functions and card templates of the definitions, checking each as it goes.
import { errorMessage } from '../errors';
import { compileText, compileValue, type CompiledText, type CompiledValue, type TemplateExpression } from '../evaluation/templates';
import type { ValueSetIndex } from '../evaluation/terminology';
import type { ExpressionRuntime } from '../fhirpath/runtime';
import { analyzeOrReport, checkExpression, type LibraryFunctions, type Scope, type ValueSetUsage } from './check-expression';
import { escapePointer } from './issues';
import type { ActionDefinition, CardDefinition, LoadIssue, NamedExpression, RawCard, RawExpression, RawLibrary, RawSuggestion } from './types';

function sourceOf(raw: RawExpression): string {
  return Array.isArray(raw) ? raw.join('\n') : raw;
}

export function compileNamed(
  raw: Record<string, RawExpression>,
  file: string,
  scope: Scope,
  runtime: ExpressionRuntime,
  valueSets: ValueSetIndex,
  issues: LoadIssue[],
  libraryFunctions: LibraryFunctions,
): NamedExpression[] {
  const out: NamedExpression[] = [];
  for (const [name, rawSource] of Object.entries(raw)) {
    const source = sourceOf(rawSource);
    const pointer = `/expressions/${escapePointer(name)}`;
    if (scope.variables.has(name)) issues.push({ file, pointer, message: `name "${name}" is already defined (prefetch key, built-in or earlier expression)` });
    const before = issues.length;
    checkExpression(source, scope, runtime, valueSets, file, pointer, issues, libraryFunctions);
    if (issues.length === before) {
      try {
        out.push({ name, expression: runtime.compile(source), file, pointer });
      } catch (e) {
        issues.push({ file, pointer, message: `FHIRPath does not compile: ${errorMessage(e).split('\n')[0]}` });
      }
    }
    scope.variables.add(name);
  }
  return out;
}

export interface TemplateCheck extends TemplateExpression {
  extraVariables: string[];
  /** The file that holds the template (a library's cards are checked for each service that uses it). */
  file: string;
}

export function compileCards(
  rawCards: RawCard[],
  file: string,
  suggestionSets: Map<string, RawSuggestion[]>,
  topics: Set<string>,
  templates: Map<string, Record<string, unknown>>,
  scope: Scope,
  runtime: ExpressionRuntime,
  valueSets: ValueSetIndex,
  issues: LoadIssue[],
  checks: TemplateCheck[],
): CardDefinition[] {
  const names = scope.variables;
  const requireName = (name: string | undefined, pointer: string) => {
    if (name !== undefined && !names.has(name)) issues.push({ file, pointer, message: `no expression named "${name}"` });
  };
  const text = (t: string | string[], pointer: string, extra: string[] = []): CompiledText => {
    try {
      const compiled = compileText(t, runtime, pointer);
      checks.push(...compiled.expressions.map((e) => ({ ...e, extraVariables: extra, file })));
      return compiled;
    } catch (e) {
      issues.push({ file, pointer, message: `template FHIRPath does not compile: ${errorMessage(e).split('\n')[0]}` });
      return { lines: [], expressions: [] };
    }
  };
  return rawCards.map((card, ci) => {
    const cp = `/cards/${ci}`;
    if (topics.has(card.topic.code)) issues.push({ file, pointer: `${cp}/topic/code`, message: `topic "${card.topic.code}" is used by two cards (at most one card per topic)` });
    topics.add(card.topic.code);
    requireName(card.when, `${cp}/when`);
    for (const [v, name] of Object.entries(card.bind ?? {})) requireName(name, `${cp}/bind/${escapePointer(v)}`);
    requireName(card.suggestionsWhen, `${cp}/suggestionsWhen`);
    const bound = Object.keys(card.bind ?? {});
    if (typeof card.indicator === 'object') requireName(card.indicator.expression, `${cp}/indicator/expression`);
    let rawSuggestions: RawSuggestion[] = [];
    if (typeof card.suggestions === 'string') {
      const set = suggestionSets.get(card.suggestions);
      if (!set) issues.push({ file, pointer: `${cp}/suggestions`, message: `no suggestion set named "${card.suggestions}"` });
      rawSuggestions = set ?? [];
    } else rawSuggestions = card.suggestions ?? [];
    const suggestions = rawSuggestions.map((s, si) => {
      const sp = typeof card.suggestions === 'string' ? `${cp}/suggestions(${card.suggestions})/${si}` : `${cp}/suggestions/${si}`;
      requireName(s.when, `${sp}/when`);
      const actions = s.actions.map((a, ai): ActionDefinition => {
        const ap = `${sp}/actions/${ai}`;
        requireName(a.when, `${ap}/when`);
        requireName(a.forEach, `${ap}/forEach`);
        const extra = [...bound, ...Object.keys(a.with ?? {}), ...(a.forEach ? ['item'] : [])];
        let resourceSource: Record<string, unknown> | undefined = a.resource;
        if (a.template !== undefined) {
          resourceSource = templates.get(a.template);
          if (!resourceSource) issues.push({ file, pointer: `${ap}/template`, message: `no template named "${a.template}"` });
        }
        let resource: CompiledValue | undefined;
        if (resourceSource) {
          const found: TemplateExpression[] = [];
          try {
            resource = compileValue(resourceSource, runtime, a.template ? `${ap}/template(${a.template})` : `${ap}/resource`, found);
          } catch (e) {
            issues.push({ file, pointer: `${ap}/resource`, message: `template FHIRPath does not compile: ${errorMessage(e).split('\n')[0]}` });
          }
          checks.push(...found.map((f) => ({ ...f, extraVariables: extra, file })));
        }
        return {
          type: a.type,
          description: text(a.description, `${ap}/description`, extra),
          when: a.when,
          forEach: a.forEach,
          resource,
          with: a.with ?? {},
          resourceId: a.resourceId === undefined ? undefined : text(a.resourceId, `${ap}/resourceId`, extra),
        };
      });
      return { label: text(s.label, `${sp}/label`), when: s.when, isRecommended: s.isRecommended, actions };
    });
    return {
      topic: card.topic,
      bind: card.bind ?? {},
      suggestionsWhen: card.suggestionsWhen,
      when: card.when,
      indicator: card.indicator,
      summary: text(card.summary, `${cp}/summary`),
      detail: card.detail === undefined ? undefined : text(card.detail, `${cp}/detail`),
      source: card.source,
      selectionBehavior: card.selectionBehavior ?? 'any',
      suggestions,
      overrideReasons: card.overrideReasons ?? [],
      links: card.links ?? [],
    };
  });
}

/** Compiles and registers every library's functions, in file order; their variables are checked at each call site. */
export function defineLibraryFunctions(
  libraries: Map<string, { file: string; data: RawLibrary }>,
  runtime: ExpressionRuntime,
  valueSets: ValueSetIndex,
  issues: LoadIssue[],
  usage?: ValueSetUsage,
): LibraryFunctions {
  const defined: LibraryFunctions = new Map();
  for (const { file, data } of libraries.values()) {
    for (const [name, rawBody] of Object.entries(data.functions ?? {})) {
      const body = sourceOf(rawBody);
      const pointer = `/functions/${escapePointer(name)}`;
      if (runtime.functionNames.has(name) || defined.has(name)) {
        issues.push({ file, pointer, message: `function ${name}() already exists` });
        continue;
      }
      const before = issues.length;
      // Functions defined so far are callable; variables are checked where the function is called.
      const scope: Scope = { variables: new Set(), prefetchKeys: new Set(), functions: new Map([...defined].map(([n, d]) => [n, d.analysis])), ...(usage ? { usage } : {}) };
      const analysis = analyzeOrReport(body, file, pointer, issues);
      if (!analysis) continue;
      // A body that calls another function reads that function's variables too: they are checked at the call sites.
      for (const f of analysis.functions) {
        const callee = defined.get(f)?.analysis;
        for (const v of callee?.variables ?? []) if (!callee?.defined.has(v)) analysis.variables.add(v);
      }
      checkExpression(analysis, { ...scope, variables: new Set([...analysis.variables]) }, runtime, valueSets, file, pointer, issues, defined);
      if (issues.length > before) continue;
      try {
        runtime.defineFunction(name, runtime.compile(body));
        defined.set(name, { library: data.name, analysis });
      } catch (e) {
        issues.push({ file, pointer, message: `FHIRPath does not compile: ${errorMessage(e).split('\n')[0]}` });
      }
    }
  }
  return defined;
}

