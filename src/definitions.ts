// Loads cds-services/: JSON Schema validation (all errors at once), FHIRPath compilation, name and
// value-set resolution and a dry run of every expression. Any issue stops the load; the result is a
// frozen registry that requests only read.
import Ajv, { type ErrorObject } from 'ajv';
import addFormats from 'ajv-formats';
import fs from 'node:fs';
import path from 'node:path';
import type { ValueSet } from 'fhir/r4';
import {
  analyzeExpression,
  type ExpressionAnalysis,
  BUILTIN_VARIABLES,
  createExpressionRuntime,
  errorMessage,
  type CompiledExpression,
  type ExpressionRuntime,
} from './expressions';
import { evaluateService, layerVariables } from './evaluation';
import type { HookName, HookRequest } from './hook-request';
import { compileText, compileValue, type CompiledText, type CompiledValue, type TemplateExpression } from './templates';
import { buildValueSetIndex, resolveValueSetUrl, type ValueSetIndex } from './terminology';

export interface LoadIssue {
  file: string;
  pointer: string;
  message: string;
}

export class DefinitionsError extends Error {
  readonly issues: LoadIssue[];
  constructor(issues: LoadIssue[]) {
    super(`${issues.length} issue(s) in the service definitions:\n${issues.map(formatIssue).join('\n')}`);
    this.name = 'DefinitionsError';
    this.issues = issues;
  }
}

export function formatIssue(i: LoadIssue): string {
  return `${i.file}#${i.pointer || '/'}: ${i.message}`;
}

export interface NamedExpression {
  readonly name: string;
  readonly expression: CompiledExpression;
  readonly file: string;
  readonly pointer: string;
}

export interface ActionDefinition {
  readonly type: 'create' | 'update' | 'delete';
  readonly description: CompiledText;
  readonly when?: string;
  readonly forEach?: string;
  readonly resource?: CompiledValue;
  /** Variables the resource template sees (`with`), as plain JSON. */
  readonly with: Record<string, unknown>;
  readonly resourceId?: CompiledText;
}

export interface SuggestionDefinition {
  readonly label: CompiledText;
  readonly when?: string;
  readonly isRecommended?: boolean;
  readonly actions: ActionDefinition[];
}

export interface Coding3 {
  system: string;
  code: string;
  display: string;
}

export interface CardDefinition {
  readonly topic: { code: string; display: string };
  readonly bind: Readonly<Record<string, string>>;
  readonly suggestionsWhen?: string;
  readonly when: string;
  readonly indicator: 'info' | 'warning' | 'critical' | { expression: string };
  readonly summary: CompiledText;
  readonly detail?: CompiledText;
  readonly source: { label: string; url: string; icon?: string };
  readonly selectionBehavior: 'any' | 'at-most-one';
  readonly suggestions: SuggestionDefinition[];
  readonly overrideReasons: Coding3[];
  readonly links: { label: string; url: string; type: 'absolute' }[];
}

export interface PrefetchKey {
  readonly query: string;
  readonly required: boolean;
}

export interface ServiceDefinition {
  readonly id: string;
  readonly hook: HookName;
  readonly title: string;
  readonly description: string;
  readonly usageRequirements?: string;
  readonly prefetch: Readonly<Record<string, PrefetchKey>>;
  /** Library expressions first, then the service's own, in evaluation order. */
  readonly expressions: readonly NamedExpression[];
  /** Named tables of the libraries used (variables of every evaluation). */
  readonly tables: Readonly<Record<string, readonly Record<string, unknown>[]>>;
  readonly checklists: readonly ChecklistDefinition[];
  readonly cards: readonly CardDefinition[];
}

export interface Registry {
  readonly services: ReadonlyMap<string, ServiceDefinition>;
  readonly valueSets: ValueSetIndex;
  readonly runtime: ExpressionRuntime;
}

const SCHEMA_DIR = 'schema';
const TOPIC_SYSTEM = 'https://iph-cds.dev/fhir/CodeSystem/card-topic';
export { TOPIC_SYSTEM };

/** A context per hook with plausible values: enough for a dry run to reach every branch that reads it. */
const DRY_RUN_CONTEXT: Record<HookName, Record<string, unknown>> = {
  'patient-view': { patientId: 'dry-run', userId: 'Practitioner/dry-run' },
  'order-select': {
    patientId: 'dry-run',
    userId: 'Practitioner/dry-run',
    selections: ['ServiceRequest/dry-run'],
    draftOrders: { resourceType: 'Bundle', entry: [{ resource: { resourceType: 'ServiceRequest', id: 'dry-run', status: 'draft', intent: 'order', subject: { reference: 'Patient/dry-run' } } }] },
  },
  'order-sign': {
    patientId: 'dry-run',
    userId: 'Practitioner/dry-run',
    draftOrders: { resourceType: 'Bundle', entry: [{ resource: { resourceType: 'ServiceRequest', id: 'dry-run', status: 'draft', intent: 'order', subject: { reference: 'Patient/dry-run' } } }] },
  },
};

/** An expression: one string, or an array of lines (joined with line breaks) for long rules. */
type RawExpression = string | string[];

interface RawLibrary {
  name: string;
  description: string;
  prefetch?: Record<string, PrefetchKey>;
  /** Named, unit-bearing thresholds ("15 'ug/L'"): FHIRPath literals, visible as %name to rules and card text. */
  thresholds?: Record<string, string>;
  /** Named tables (rows of plain JSON), visible as %name; a row's `valueSet` member must name a known value set. */
  tables?: Record<string, Record<string, unknown>[]>;
  checklists?: Record<string, RawChecklist>;
  functions?: Record<string, RawExpression>;
  expressions: Record<string, RawExpression>;
  templates?: Record<string, Record<string, unknown>>;
  suggestionSets?: Record<string, RawSuggestion[]>;
  cards?: RawCard[];
}

/**
 * A checklist (e.g. the exclusion work-up): tests grouped into groups. The loader expands it into named
 * expressions, inserted after the expression named `after` (see expandChecklist).
 */
interface RawChecklist {
  label: string;
  /** The expansion follows this expression (default: the library's last one). */
  after?: string;
  /**
   * FHIRPath templates per test (a test row may carry its own): `{field}` is replaced by the test row's member (e.g.
   * `{valueSet}`, `{window}`). `results`: the results that complete the test; `pending`: its pending orders and
   * preliminary results; `flag`: text appended to a done result's line (FHIRPath on the result).
   */
  results?: string;
  pending?: string;
  flag?: string;
  tests: RawChecklistTest[];
  groups?: RawChecklistGroup[];
}

interface RawChecklistTest {
  id: string;
  label: string;
  valueSet: string;
  /** FHIRPath: the test is only required when it holds (default: always). */
  requiredWhen?: string;
  results?: string;
  pending?: string;
  flag?: string;
  /** FHIRPath: the state line of a done test, on its latest result (default: evidence() + flag). */
  line?: string;
  /** FHIRPath: the state line's text when the test is neither done nor pending (default 'not on record'). */
  missingText?: string;
  [field: string]: unknown;
}

interface RawChecklistGroup {
  id: string;
  label: string;
  tests: string[];
}

/** What the loader exposes of a checklist: its groups and tests and the names that hold their state per request. */
export interface ChecklistDefinition {
  readonly id: string;
  readonly label: string;
  readonly groups: readonly {
    readonly id: string;
    readonly label: string;
    /** Boolean expressions: done, pending (every missing test pending), missing (neither). */
    readonly names: { readonly done: string; readonly pending: string; readonly missing: string; readonly results: string };
    readonly tests: readonly { readonly id: string; readonly label: string; readonly valueSet: string; readonly names: { readonly results: string; readonly pending: string; readonly needed: string } }[];
  }[];
  /** Collections of group labels / lines: done, pending, missing (a partial group with its missing tests), pending items. */
  readonly names: { readonly doneLines: string; readonly pendingGroups: string; readonly missingGroups: string; readonly missingLines: string; readonly pendingItems: string; readonly stateLines: string };
}

interface RawSuggestion {
  label: string;
  when?: string;
  isRecommended?: boolean;
  actions: RawAction[];
}

interface RawAction {
  type: 'create' | 'update' | 'delete';
  description: string;
  when?: string;
  forEach?: string;
  template?: string;
  with?: Record<string, unknown>;
  resource?: Record<string, unknown>;
  resourceId?: string;
}

interface RawCard {
  topic: { code: string; display: string };
  /** Variables the card's action templates see: template variable -> expression name (e.g. priority, reason). */
  bind?: Record<string, string>;
  /** Name of a boolean expression: the card offers its suggestions only when it holds (a shared set made inert). */
  suggestionsWhen?: string;
  when: string;
  indicator: CardDefinition['indicator'];
  summary: string;
  detail?: string | string[];
  source: { label: string; url: string; icon?: string };
  selectionBehavior?: 'any' | 'at-most-one';
  /** Suggestions, or the name of a library's suggestion set. */
  suggestions?: RawSuggestion[] | string;
  overrideReasons?: Coding3[];
  links?: { label: string; url: string; type: 'absolute' }[];
}

interface RawService {
  id: string;
  hook: HookName;
  title: string;
  description: string;
  usageRequirements?: string;
  prefetch?: Record<string, PrefetchKey>;
  uses?: string[];
  expressions: Record<string, RawExpression>;
  templates?: Record<string, Record<string, unknown>>;
  cards: RawCard[];
}

function readJsonFiles(dir: string, issues: LoadIssue[], root: string): { file: string; data: unknown }[] {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .flatMap((f) => {
      const full = path.join(dir, f);
      const rel = path.relative(root, full);
      try {
        return [{ file: rel, data: JSON.parse(fs.readFileSync(full, 'utf8')) as unknown }];
      } catch (e) {
        issues.push({ file: rel, pointer: '', message: `not valid JSON: ${errorMessage(e)}` });
        return [];
      }
    });
}

function createSchemaValidator(root: string) {
  const ajv = new Ajv({ allErrors: true, strict: false });
  addFormats(ajv);
  const schemaDir = path.join(root, SCHEMA_DIR);
  for (const f of ['expressions', 'templates', 'service', 'library', 'valueset']) {
    ajv.addSchema(JSON.parse(fs.readFileSync(path.join(schemaDir, `${f}.schema.json`), 'utf8')) as object);
  }
  return (kind: 'service' | 'library' | 'valueset', data: unknown, file: string, issues: LoadIssue[]): boolean => {
    const validate = ajv.getSchema(`https://iph-cds.dev/schema/${kind}.schema.json`);
    if (!validate) throw new Error(`schema ${kind} missing`);
    if (validate(data)) return true;
    for (const e of validate.errors ?? []) issues.push({ file, pointer: e.instancePath, message: describeAjvError(e) });
    return false;
  };
}

function describeAjvError(e: ErrorObject): string {
  if (e.keyword === 'additionalProperties') return `unknown member "${String((e.params as { additionalProperty?: string }).additionalProperty)}"`;
  if (e.keyword === 'required') return `missing member "${String((e.params as { missingProperty?: string }).missingProperty)}"`;
  if (e.keyword === 'enum') return `${e.message ?? 'invalid'}: ${JSON.stringify((e.params as { allowedValues?: unknown }).allowedValues)}`;
  return e.message ?? e.keyword;
}

function escapePointer(s: string): string {
  return s.replace(/~/g, '~0').replace(/\//g, '~1');
}

interface Scope {
  /** Variables visible at this point (prefetch keys, earlier names, built-ins). */
  variables: Set<string>;
  prefetchKeys: Set<string>;
  /** Rule-defined functions of the libraries this service uses, with the variables their bodies read. */
  functions: Map<string, ExpressionAnalysis>;
}

/** Rule-defined functions of every library: which library defines each, and what its body reads. */
type LibraryFunctions = Map<string, { library: string; analysis: ExpressionAnalysis }>;

/** Static checks of one expression: names, functions, value sets, prefetch keys of from(). */
function checkExpression(
  source: string,
  scope: Scope,
  runtime: ExpressionRuntime,
  valueSets: ValueSetIndex,
  file: string,
  pointer: string,
  issues: LoadIssue[],
  libraryFunctions: LibraryFunctions,
): void {
  let analysis;
  try {
    analysis = analyzeExpression(source);
  } catch (e) {
    issues.push({ file, pointer, message: `FHIRPath does not parse: ${errorMessage(e).split('\n')[0]}` });
    return;
  }
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
      // memberOf(valueSet) over a table's rows: the rows' value sets are checked with the table.
      if (ref === undefined && call.name === 'from') issues.push({ file, pointer, message: `${call.name}() needs a literal value-set url or name` });
      else if (ref !== undefined && !valueSets.has(resolveValueSetUrl(ref))) issues.push({ file, pointer, message: `unknown value set "${ref}"` });
    }
    if (call.name === 'from') {
      const key = call.literals[0];
      if (key === undefined || !scope.prefetchKeys.has(key)) issues.push({ file, pointer, message: `from() names no prefetch key of this service: "${key ?? '(not a literal)'}"` });
    }
  }
}

function sourceOf(raw: RawExpression): string {
  return Array.isArray(raw) ? raw.join('\n') : raw;
}

function compileNamed(
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

interface TemplateCheck extends TemplateExpression {
  extraVariables: string[];
  /** The file that holds the template (a library's cards are checked for each service that uses it). */
  file: string;
}

function compileCards(
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

/** Evaluates every expression once on an empty record: catches type errors that only show at run time. */
function dryRun(service: ServiceDefinition, checks: TemplateCheck[], valueSets: ValueSetIndex, issues: LoadIssue[]): void {
  const context = DRY_RUN_CONTEXT[service.hook];
  const request = { hook: service.hook, hookInstance: 'dry-run', context } as unknown as HookRequest;
  const evaluation = evaluateService(service, request, { values: {}, unavailable: {} }, Date.UTC(2026, 0, 1), valueSets);
  for (const named of service.expressions) void evaluation.vars[named.name];
  const byName = new Map(service.expressions.map((n) => [n.name, n]));
  for (const failure of evaluation.failures) {
    const named = byName.get(failure.name);
    if (named) issues.push({ file: named.file, pointer: named.pointer, message: `fails on an empty record: ${failure.message}` });
  }
  for (const check of checks) {
    const vars = layerVariables(evaluation.vars, Object.fromEntries(check.extraVariables.map((v) => [v, []])));
    try {
      check.expression.evaluate(context, vars);
    } catch (e) {
      issues.push({ file: check.file, pointer: check.pointer, message: `template expression fails on an empty record: ${errorMessage(e)}` });
    }
  }
}

function withoutFilters(vs: ValueSet, bad: ReadonlySet<unknown>): ValueSet {
  if (bad.size === 0 || !vs.compose) return vs;
  const include = vs.compose.include.map((inc) => (inc.filter ? { ...inc, filter: inc.filter.filter((flt) => !bad.has(flt)) } : inc));
  return { ...vs, compose: { ...vs.compose, include } };
}

function checkPrefetch(prefetch: Record<string, PrefetchKey>, file: string, issues: LoadIssue[]): void {
  for (const [key, p] of Object.entries(prefetch)) {
    for (const m of p.query.matchAll(/\{\{([^}]*)\}\}/g)) {
      const token = (m[1] ?? '').trim();
      const ok = /^context\.[A-Za-z]+$/.test(token) || ['userPractitionerId', 'userPractitionerRoleId', 'userPatientId', 'userRelatedPersonId'].includes(token);
      if (!ok) issues.push({ file, pointer: `/prefetch/${escapePointer(key)}/query`, message: `prefetch token {{${token}}} is not a CDS Hooks 2.0 token` });
    }
  }
}

/** Compiles and registers every library's functions, in file order; their variables are checked at each call site. */
function defineLibraryFunctions(
  libraries: Map<string, { file: string; data: RawLibrary }>,
  runtime: ExpressionRuntime,
  valueSets: ValueSetIndex,
  issues: LoadIssue[],
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
      const scope: Scope = { variables: new Set(), prefetchKeys: new Set(), functions: new Map([...defined].map(([n, d]) => [n, d.analysis])) };
      let analysis: ExpressionAnalysis;
      try {
        analysis = analyzeExpression(body);
      } catch (e) {
        issues.push({ file, pointer, message: `FHIRPath does not parse: ${errorMessage(e).split('\n')[0]}` });
        continue;
      }
      // A body that calls another function reads that function's variables too: they are checked at the call sites.
      for (const f of analysis.functions) {
        const callee = defined.get(f)?.analysis;
        for (const v of callee?.variables ?? []) if (!callee?.defined.has(v)) analysis.variables.add(v);
      }
      checkExpression(body, { ...scope, variables: new Set([...analysis.variables]) }, runtime, valueSets, file, pointer, issues, defined);
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

function camel(id: string): string {
  return id.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

function fhirpathString(s: string): string {
  return `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/**
 * Expands a checklist into named expressions. Per test `t`: tResults, tPendingItems (from the templates),
 * tPending, tRequired, tDone, tNeeded, tStateLine ("label: result line | pending line | missing text"). Per group `g`: gGroupDone (every required test has a result), gGroupPending
 * (not done, every required test done or pending), gGroupMissing (neither), gGroupPartial, gGroupMissingTests,
 * gGroupResults. Per checklist `c`: cDoneGroups, cDoneLines, cPendingGroups, cMissingGroups, cMissingLines,
 * cPendingItems, cStateLines.
 */
function expandChecklist(id: string, c: RawChecklist, file: string, issues: LoadIssue[]): { expressions: Record<string, string>; definition: ChecklistDefinition } {
  const out: Record<string, string> = {};
  const tests = new Map(c.tests.map((t) => [t.id, t]));
  const fill = (template: string, row: RawChecklistTest, pointer: string) =>
    template.replace(/\{([A-Za-z]+)\}/g, (m, field: string) => {
      if (row[field] === undefined) {
        issues.push({ file, pointer, message: `test "${row.id}" has no member "${field}" that the template uses` });
        return m;
      }
      return String(row[field]);
    });
  const template = (t: RawChecklistTest, member: 'results' | 'pending' | 'flag', p: string): string => {
    const source = t[member] ?? c[member];
    if (source === undefined) {
      issues.push({ file, pointer: p, message: `test "${t.id}" has no "${member}" template (and the checklist gives none)` });
      return '{}';
    }
    return fill(source, t, p);
  };
  c.tests.forEach((t, i) => {
    const p = `/checklists/${id}/tests/${i}`;
    out[`${t.id}Results`] = template(t, 'results', p);
    out[`${t.id}PendingItems`] = template(t, 'pending', p);
    out[`${t.id}Pending`] = `%${t.id}PendingItems.exists()`;
    out[`${t.id}Required`] = t.requiredWhen ?? 'true';
    out[`${t.id}Done`] = `%${t.id}Results.exists()`;
    out[`${t.id}Needed`] = `%${t.id}Required and %${t.id}Done.not() and %${t.id}Pending.not()`;
    const line = t.line ?? `evidence() + (${template(t, 'flag', p)})`;
    out[`${t.id}StateLine`] =
      `iif(%${t.id}Required, ${fhirpathString(t.label)} + ': ' + iif(%${t.id}Done, %${t.id}Results.latest().select(${line}).first(), ` +
      `iif(%${t.id}Pending, %${t.id}PendingItems.evidence().join('; '), ${t.missingText ?? "'not on record'"})), {})`;
  });
  const groups = (c.groups ?? []).map((g, gi) => {
    const n = `${camel(g.id)}Group`;
    const members = g.tests.flatMap((tid, ti) => {
      const t = tests.get(tid);
      if (!t) issues.push({ file, pointer: `/checklists/${id}/groups/${gi}/tests/${ti}`, message: `no test "${tid}" in this checklist` });
      return t ? [t] : [];
    });
    const all = (f: (t: string) => string, op: string) => members.map((t) => `(${f(t.id)})`).join(` ${op} `) || 'true';
    out[`${n}Done`] = all((t) => `%${t}Required.not() or %${t}Done`, 'and');
    out[`${n}Pending`] = `%${n}Done.not() and ${all((t) => `%${t}Required.not() or %${t}Done or %${t}Pending`, 'and')}`;
    out[`${n}Missing`] = `%${n}Done.not() and %${n}Pending.not()`;
    out[`${n}Partial`] = `%${n}Missing and (${all((t) => `%${t}Required and (%${t}Done or %${t}Pending)`, 'or')})`;
    out[`${n}MissingTests`] = members.map((t) => `iif(%${t.id}Needed, ${fhirpathString(t.label)}, {})`).join(' | ');
    out[`${n}Results`] = members.map((t) => `%${t.id}Results.latest()`).join('.combine(') + ')'.repeat(Math.max(0, members.length - 1));
    return { g, n, members };
  });
  const each = (f: (x: (typeof groups)[number]) => string) => groups.map(f).join(' | ') || '{}';
  const label = (g: RawChecklistGroup) => fhirpathString(g.label);
  out[`${id}DoneGroups`] = each(({ g, n }) => `iif(%${n}Done, ${label(g)}, {})`);
  out[`${id}DoneLines`] = each(({ g, n }) => `iif(%${n}Done, ${label(g)} + ': ' + %${n}Results.select(evidence() + (${c.flag})).join('; '), {})`);
  out[`${id}PendingGroups`] = each(({ g, n }) => `iif(%${n}Pending, ${label(g)}, {})`);
  out[`${id}MissingGroups`] = each(({ g, n }) => `iif(%${n}Missing, ${label(g)}, {})`);
  out[`${id}MissingLines`] = each(({ g, n }) => `iif(%${n}Missing, ${label(g)} + iif(%${n}Partial, ': ' + %${n}MissingTests.join(', ') + ' not found', ''), {})`);
  out[`${id}PendingItems`] = c.tests.map((t) => `%${t.id}PendingItems`).join(' | ') || '{}';
  out[`${id}StateLines`] = c.tests.map((t) => `%${t.id}StateLine`).join(' | ') || '{}';
  const definition: ChecklistDefinition = {
    id,
    label: c.label,
    groups: groups.map(({ g, n, members }) => ({
      id: g.id,
      label: g.label,
      names: { done: `${n}Done`, pending: `${n}Pending`, missing: `${n}Missing`, results: `${n}Results` },
      tests: members.map((t) => ({ id: t.id, label: t.label, valueSet: t.valueSet, names: { results: `${t.id}Results`, pending: `${t.id}PendingItems`, needed: `${t.id}Needed` } })),
    })),
    names: { doneLines: `${id}DoneLines`, pendingGroups: `${id}PendingGroups`, missingGroups: `${id}MissingGroups`, missingLines: `${id}MissingLines`, pendingItems: `${id}PendingItems`, stateLines: `${id}StateLines` },
  };
  return { expressions: out, definition };
}

/**
 * A library's named expressions in evaluation order: its thresholds first, then its expressions with each checklist's
 * expansion inserted after the expression the checklist names.
 */
/** Anchor of the checklists expanded after every expression of their library. */
const END = '\u0000end';

function libraryExpressions(lib: RawLibrary, file: string, issues: LoadIssue[]): { expressions: Record<string, RawExpression>; checklists: ChecklistDefinition[] } {
  const expansions = new Map<string, Record<string, string>[]>();
  const checklists: ChecklistDefinition[] = [];
  for (const [id, c] of Object.entries(lib.checklists ?? {})) {
    if (c.after !== undefined && !(c.after in lib.expressions)) issues.push({ file, pointer: `/checklists/${id}/after`, message: `no expression named "${c.after}" in this library` });
    const { expressions, definition } = expandChecklist(id, c, file, issues);
    const anchor = c.after ?? END;
    expansions.set(anchor, [...(expansions.get(anchor) ?? []), expressions]);
    checklists.push(definition);
  }
  const out: Record<string, RawExpression> = { ...(lib.thresholds ?? {}) };
  const put = (name: string, e: RawExpression, pointer: string) => {
    if (name in out) issues.push({ file, pointer, message: `name "${name}" is defined twice (threshold, checklist or expression)` });
    out[name] = e;
  };
  for (const [name, e] of Object.entries(lib.expressions)) {
    put(name, e, `/expressions/${escapePointer(name)}`);
    for (const x of expansions.get(name) ?? []) for (const [n, v] of Object.entries(x)) put(n, v, `/checklists`);
  }
  for (const x of expansions.get(END) ?? []) for (const [n, v] of Object.entries(x)) put(n, v, `/checklists`);
  return { expressions: out, checklists };
}

/** Tables: rows whose `valueSet` names no known value set are issues (memberOf(valueSet) reads them). */
function checkTables(lib: RawLibrary, file: string, valueSets: ValueSetIndex, issues: LoadIssue[]): void {
  for (const [name, rows] of Object.entries(lib.tables ?? {})) {
    rows.forEach((row, i) => {
      if (typeof row.valueSet === 'string' && !valueSets.has(resolveValueSetUrl(row.valueSet))) issues.push({ file, pointer: `/tables/${name}/${i}/valueSet`, message: `unknown value set "${row.valueSet}"` });
    });
  }
  for (const [id, c] of Object.entries(lib.checklists ?? {})) {
    c.tests.forEach((t, i) => {
      if (!valueSets.has(resolveValueSetUrl(t.valueSet))) issues.push({ file, pointer: `/checklists/${id}/tests/${i}/valueSet`, message: `unknown value set "${t.valueSet}"` });
    });
  }
}

/** Loads and checks every definition under `root`; returns the issues instead of throwing. */
export function checkDefinitions(root: string): { registry?: Registry; issues: LoadIssue[] } {
  const issues: LoadIssue[] = [];
  const validate = createSchemaValidator(root);

  const valueSetFiles = readJsonFiles(path.join(root, 'valuesets'), issues, root).filter((f) => validate('valueset', f.data, f.file, issues));
  const badFilters = new Set<unknown>();
  const urls = new Map<string, string>();
  for (const f of valueSetFiles) {
    const vs = f.data as ValueSet;
    const prior = urls.get(vs.url as string);
    if (prior) issues.push({ file: f.file, pointer: '/url', message: `url already defined by ${prior}` });
    urls.set(vs.url as string, f.file);
    (vs.compose?.include ?? []).forEach((inc, ii) =>
      (inc.filter ?? []).forEach((flt, fi) => {
        try {
          new RegExp(`^(?:${flt.value})$`);
        } catch (e) {
          badFilters.add(flt);
          issues.push({ file: f.file, pointer: `/compose/include/${ii}/filter/${fi}/value`, message: `regex does not compile: ${errorMessage(e)}` });
        }
      }),
    );
  }
  // A filter whose regex does not compile is already an issue: index the rest so every other check still runs.
  const valueSets = buildValueSetIndex(valueSetFiles.map((f) => withoutFilters(f.data as ValueSet, badFilters)));
  const runtime = createExpressionRuntime(valueSets);

  const libraries = new Map<string, { file: string; data: RawLibrary }>();
  for (const f of readJsonFiles(path.join(root, 'libraries'), issues, root)) {
    if (!validate('library', f.data, f.file, issues)) continue;
    const lib = f.data as RawLibrary;
    if (libraries.has(lib.name)) issues.push({ file: f.file, pointer: '/name', message: `library "${lib.name}" is defined twice` });
    libraries.set(lib.name, { file: f.file, data: lib });
  }

  for (const { file, data } of libraries.values()) checkTables(data, file, valueSets, issues);
  const libraryFunctions = defineLibraryFunctions(libraries, runtime, valueSets, issues);

  const services = new Map<string, ServiceDefinition>();
  for (const f of readJsonFiles(root, issues, root)) {
    if (!validate('service', f.data, f.file, issues)) continue;
    const raw = f.data as RawService;
    if (services.has(raw.id)) issues.push({ file: f.file, pointer: '/id', message: `service id "${raw.id}" is defined twice` });
    const used = (raw.uses ?? []).flatMap((name, i) => {
      const lib = libraries.get(name);
      if (!lib) issues.push({ file: f.file, pointer: `/uses/${i}`, message: `no library named "${name}"` });
      return lib ? [lib] : [];
    });
    // Prefetch: the libraries' templates (the data they read), then the service's own.
    const prefetch: Record<string, PrefetchKey> = {};
    for (const lib of used) Object.assign(prefetch, lib.data.prefetch ?? {});
    Object.assign(prefetch, raw.prefetch ?? {});
    checkPrefetch(prefetch, f.file, issues);
    const prefetchKeys = new Set(Object.keys(prefetch));
    const functions = new Map<string, ExpressionAnalysis>();
    for (const [name, def] of libraryFunctions) if (used.some((lib) => lib.data.name === def.library)) functions.set(name, def.analysis);
    const tables: Record<string, Record<string, unknown>[]> = {};
    for (const lib of used) Object.assign(tables, lib.data.tables ?? {});
    const scope: Scope = { variables: new Set([...prefetchKeys, 'unavailable', ...Object.keys(tables)]), prefetchKeys, functions };
    const checklists: ChecklistDefinition[] = [];
    const expressions: NamedExpression[] = [];
    const templates = new Map<string, Record<string, unknown>>();
    const suggestionSets = new Map<string, RawSuggestion[]>();
    const define = <T>(map: Map<string, T>, entries: Record<string, T> | undefined, file: string, kind: string) => {
      for (const [k, v] of Object.entries(entries ?? {})) {
        if (map.has(k)) issues.push({ file, pointer: `/${kind}/${escapePointer(k)}`, message: `${kind} "${k}" is defined twice` });
        map.set(k, v);
      }
    };
    for (const lib of used) {
      const expanded = libraryExpressions(lib.data, lib.file, issues);
      checklists.push(...expanded.checklists);
      expressions.push(...compileNamed(expanded.expressions, lib.file, scope, runtime, valueSets, issues, libraryFunctions));
      define(templates, lib.data.templates, lib.file, 'templates');
      define(suggestionSets, lib.data.suggestionSets, lib.file, 'suggestionSets');
    }
    expressions.push(...compileNamed(raw.expressions, f.file, scope, runtime, valueSets, issues, libraryFunctions));
    define(templates, raw.templates, f.file, 'templates');
    const checks: TemplateCheck[] = [];
    const topics = new Set<string>();
    const cards = [
      ...used.flatMap((lib) => compileCards(lib.data.cards ?? [], lib.file, suggestionSets, topics, templates, scope, runtime, valueSets, issues, checks)),
      ...compileCards(raw.cards, f.file, suggestionSets, topics, templates, scope, runtime, valueSets, issues, checks),
    ];
    for (const c of checks) {
      const s: Scope = { ...scope, variables: new Set([...scope.variables, ...c.extraVariables]) };
      checkExpression(c.expression.source, s, runtime, valueSets, c.file, c.pointer, issues, libraryFunctions);
    }
    const service: ServiceDefinition = {
      id: raw.id,
      hook: raw.hook,
      title: raw.title,
      description: raw.description,
      usageRequirements: raw.usageRequirements,
      prefetch,
      expressions,
      tables,
      checklists,
      cards,
    };
    if (issues.length === 0) dryRun(service, checks, valueSets, issues);
    services.set(raw.id, service);
  }
  // A library's issue is found once per service that uses it: report it once.
  const unique = [...new Map(issues.map((i) => [formatIssue(i), i])).values()];
  if (unique.length > 0) return { issues: unique };
  return { issues: unique, registry: deepFreeze({ services, valueSets, runtime }) };
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object' && !Object.isFrozen(o)) {
    Object.freeze(o);
    if (o instanceof Map) for (const v of o.values()) deepFreeze(v);
    else if (!('compile' in (o as object)) && !('contains' in (o as object))) for (const v of Object.values(o as object)) deepFreeze(v);
  }
  return o;
}

/** Loads the registry or throws DefinitionsError listing every issue. */
export function loadRegistry(root: string): Registry {
  const { registry, issues } = checkDefinitions(root);
  if (!registry) throw new DefinitionsError(issues);
  return registry;
}
