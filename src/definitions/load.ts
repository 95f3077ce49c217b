// Loads cds-services/: schema validation, FHIRPath compilation, name and value-set resolution and a dry run of
// every expression. Any issue stops the load; the result is a read-only registry that requests only read.
import path from 'node:path';
import type { ValueSet } from 'fhir/r4';
import { errorMessage } from '../errors';
import { buildValueSetIndex } from '../evaluation/terminology';
import { createExpressionRuntime, type FhirPathEngine } from '../fhirpath/runtime';
import type { ExpressionAnalysis } from '../fhirpath/analysis';
import type { Scope } from './check-expression';
import { checkPrefetch, checkExpression, createValueSetUsage } from './check-expression';
import { compileCards, compileNamed, defineLibraryFunctions, type TemplateCheck } from './compile';
import { checkTables, libraryExpressions } from './checklists';
import { dryRun } from './dry-run';
import { coverageOf, type CoverageRow } from './coverage';
import { checkPrefetchReads, renderPrefetchCodes } from './prefetch-codes';
import { DefinitionsError, escapePointer, formatIssue } from './issues';
import { createSchemaValidator, readJsonFiles } from './sources';
import type { ChecklistDefinition, LoadIssue, NamedExpression, RawLibrary, RawPrefetchKey, RawService, RawSuggestion, Registry, ServiceDefinition } from './types';

function withoutFilters(vs: ValueSet, bad: ReadonlySet<unknown>): ValueSet {
  if (bad.size === 0 || !vs.compose) return vs;
  const include = vs.compose.include.map((inc) => (inc.filter ? { ...inc, filter: inc.filter.filter((flt) => !bad.has(flt)) } : inc));
  return { ...vs, compose: { ...vs.compose, include } };
}

/** Loads and checks every definition; `coverage` is the terminology report (which value sets rules name, their sources). */
export function checkDefinitions(root: string, engine: FhirPathEngine = 'compiled'): { registry?: Registry; issues: LoadIssue[]; coverage: CoverageRow[] } {
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
  const valueSetByUrl = new Map(valueSetFiles.map((f) => [(f.data as ValueSet).url as string, f.data as ValueSet]));
  const usage = createValueSetUsage();
  const runtime = createExpressionRuntime(valueSets, engine);

  const libraries = new Map<string, { file: string; data: RawLibrary }>();
  for (const f of readJsonFiles(path.join(root, 'libraries'), issues, root)) {
    if (!validate('library', f.data, f.file, issues)) continue;
    const lib = f.data as RawLibrary;
    if (libraries.has(lib.name)) issues.push({ file: f.file, pointer: '/name', message: `library "${lib.name}" is defined twice` });
    libraries.set(lib.name, { file: f.file, data: lib });
  }

  for (const { file, data } of libraries.values()) checkTables(data, file, valueSets, issues);
  const libraryFunctions = defineLibraryFunctions(libraries, runtime, valueSets, issues, usage);

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
    // Prefetch: the libraries' templates (the data they read), then the service's own; `codes` rendered from
    // the value sets, each issue reported in the file that declares the key.
    const rawPrefetch: Record<string, RawPrefetchKey> = {};
    const prefetchFile = new Map<string, string>();
    for (const [file, keys] of [...used.map((lib) => [lib.file, lib.data.prefetch] as const), [f.file, raw.prefetch] as const]) {
      for (const [key, def] of Object.entries(keys ?? {})) {
        rawPrefetch[key] = def;
        prefetchFile.set(key, file);
      }
    }
    checkPrefetch(rawPrefetch, f.file, issues);
    const prefetch: ServiceDefinition['prefetch'] = {};
    const listed = new Map<string, ReadonlySet<string>>();
    for (const [key, def] of Object.entries(rawPrefetch)) {
      const rendered = renderPrefetchCodes({ [key]: def }, valueSetByUrl, prefetchFile.get(key) ?? f.file, issues);
      Object.assign(prefetch, rendered.prefetch);
      for (const [k, v] of rendered.listed) listed.set(k, v);
    }
    const prefetchKeys = new Set(Object.keys(prefetch));
    const functions = new Map<string, ExpressionAnalysis>();
    for (const [name, def] of libraryFunctions) if (used.some((lib) => lib.data.name === def.library)) functions.set(name, def.analysis);
    const tables: Record<string, Record<string, unknown>[]> = {};
    for (const lib of used) Object.assign(tables, lib.data.tables ?? {});
    const serviceUsage = createValueSetUsage();
    const scope: Scope = { variables: new Set([...prefetchKeys, 'unavailable', ...Object.keys(tables)]), prefetchKeys, functions, usage: serviceUsage };
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
      define(suggestionSets, expanded.suggestionSets, lib.file, 'suggestionSets');
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
    checkPrefetchReads(listed, serviceUsage.reads, valueSetByUrl, (key) => prefetchFile.get(key) ?? f.file, issues);
    for (const url of serviceUsage.valueSets) usage.valueSets.add(url);
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
  const coverage = coverageOf(valueSetFiles.map((v) => v.data as ValueSet), usage.valueSets);
  if (unique.length > 0) return { issues: unique, coverage };
  return { issues: unique, coverage, registry: Object.freeze({ services: readonlyView(new Map([...services].map(([id, svc]) => [id, deepFreeze(svc)]))), valueSets, runtime }) };
}

/** A read-only view of a Map: lookups and iteration only, no set, delete or clear to call. */
function readonlyView<K, V>(map: Map<K, V>): ReadonlyMap<K, V> {
  const view: ReadonlyMap<K, V> = {
    get: (k) => map.get(k),
    has: (k) => map.has(k),
    get size() {
      return map.size;
    },
    keys: () => map.keys(),
    values: () => map.values(),
    entries: () => map.entries(),
    forEach: (cb, thisArg) => map.forEach((v, k) => cb.call(thisArg, v, k, view)),
    [Symbol.iterator]: () => map[Symbol.iterator](),
  };
  return Object.freeze(view);
}

/** Freezes plain definition data all the way down (compiled expressions and indexes are immutable by construction). */
function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object' && !Object.isFrozen(o)) {
    Object.freeze(o);
    if (!('compile' in (o as object)) && !('contains' in (o as object)) && !('evaluate' in (o as object))) for (const v of Object.values(o as object)) deepFreeze(v);
  }
  return o;
}

/** Loads the registry or throws DefinitionsError listing every issue. */
export function loadRegistry(root: string, engine: FhirPathEngine = 'compiled'): Registry {
  const { registry, issues } = checkDefinitions(root, engine);
  if (!registry) throw new DefinitionsError(issues);
  return registry;
}
