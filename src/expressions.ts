// The FHIRPath runtime: fhirpath.js with the R4 model and this service's functions (registered through
// its user invocation table, no patching), static analysis of expressions for load-time checks, and
// evaluation of named expressions in order.
import fhirpath from 'fhirpath';
import r4 from 'fhirpath/fhir-context/r4';
import { clinicalDateOf, completedMonths, isoDay, parseFhirDate } from './clinical-time';
import { describeValue, formatNumber } from './evidence';
import { quantityIn, ucumCodeOf, type QuantityLike } from './quantities';
import type { RecordIndex } from './record-index';
import { resolveValueSetUrl, type ValueSetIndex } from './terminology';

// fhirpath.js's internal types: needed to return real DateTimes and to recognise its wrappers.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const fpTypes = require('fhirpath/src/types.js') as {
  FP_DateTime: new (ctx: unknown, s: string) => { asStr?: string; toString(): string };
  FP_Date: new (ctx: unknown, s: string) => unknown;
  FP_TimeBase: abstract new (...args: never[]) => { toString(): string };
  FP_Quantity: abstract new (...args: never[]) => { value: number; unit: string };
  ResourceNode: { makeResNode(ctx: unknown, data: unknown, p: null, path: null, d: null, t: string | null): unknown } & (abstract new (...args: never[]) => { data: unknown });
};

type Json = Record<string, unknown>;

/** Per-request state the service's functions read (through fhirpath.js's evaluation context). */
export interface RequestScope {
  now: number;
  index: RecordIndex;
  /** Resources a reference may point to besides contained ones (draft orders, prefetched Medications). */
  referenceable: ReadonlyMap<string, Json>;
  /** DateTime values already built in this request (fhirpath.js parses them again on every comparison otherwise). */
  dateTimes?: Map<number, unknown>;
}

/** Name of the evaluation variable carrying the RequestScope; `@` keeps it out of reach of expressions. */
const SCOPE_VAR = '@scope';

interface FpContext {
  vars: Record<string, unknown>;
}

function scopeOf(ctx: FpContext): RequestScope {
  return ctx.vars[SCOPE_VAR] as RequestScope;
}

function dataOf(node: unknown): unknown {
  return node instanceof fpTypes.ResourceNode ? node.data : node;
}

function epochOf(node: unknown): number | undefined {
  if (node instanceof fpTypes.FP_TimeBase) return parseFhirDate(node.toString());
  const d = dataOf(node);
  if (typeof d === 'string') return parseFhirDate(d);
  if (d && typeof d === 'object' && typeof (d as Json).resourceType === 'string') return clinicalDateOf(d as Json);
  return undefined;
}

function dateTimeNode(ctx: FpContext, ms: number): unknown {
  const scope = scopeOf(ctx);
  const cache = (scope.dateTimes ??= new Map());
  let node = cache.get(ms);
  if (node === undefined) {
    node = new fpTypes.FP_DateTime(ctx, new Date(ms).toISOString());
    cache.set(ms, node);
  }
  return node;
}

function resourceNode(ctx: unknown, resource: unknown): unknown {
  return fpTypes.ResourceNode.makeResNode(ctx, resource, null, null, null, null);
}

function codingsOfConcept(value: unknown): Json[] {
  if (!value || typeof value !== 'object') return [];
  const v = value as Json;
  if (Array.isArray(v.coding)) return v.coding as Json[];
  if ('code' in v || 'system' in v) return [v];
  return [];
}

function birthEpoch(node: unknown): number | undefined {
  const d = dataOf(node);
  if (d && typeof d === 'object') return parseFhirDate((d as Json).birthDate);
  return epochOf(node);
}

/** The drug a MedicationRequest orders: its CodeableConcept, or the code of the Medication it references. */
function medicationConcept(req: Json, scope: RequestScope): unknown {
  if (req.medicationCodeableConcept) return req.medicationCodeableConcept;
  const ref = (req.medicationReference as Json | undefined)?.reference;
  if (typeof ref !== 'string') return undefined;
  if (ref.startsWith('#')) {
    const contained = Array.isArray(req.contained) ? (req.contained as Json[]) : [];
    return contained.find((c) => c.resourceType === 'Medication' && c.id === ref.slice(1))?.code;
  }
  const target = scope.referenceable.get(ref) ?? scope.referenceable.get(ref.split('/').slice(-2).join('/'));
  return target?.resourceType === 'Medication' ? target.code : undefined;
}

const USABLE_CLINICAL = new Set(['active', 'recurrence', 'relapse']);
const USABLE_VERIFICATION = new Set(['confirmed', 'provisional', 'unconfirmed']);
const USABLE_RESULT = new Set(['final', 'amended', 'corrected']);

function conceptCodes(c: unknown): string[] {
  return codingsOfConcept(c).map((x) => x.code).filter((x): x is string => typeof x === 'string');
}

function isUsable(r: Json): boolean {
  switch (r.resourceType) {
    case 'Condition': {
      const clinical = conceptCodes(r.clinicalStatus);
      const verification = conceptCodes(r.verificationStatus);
      return (r.clinicalStatus === undefined || clinical.some((c) => USABLE_CLINICAL.has(c))) &&
        (r.verificationStatus === undefined || verification.some((c) => USABLE_VERIFICATION.has(c)));
    }
    case 'Observation':
    case 'DiagnosticReport':
      return USABLE_RESULT.has(r.status as string);
    case 'Procedure':
      return r.status === 'completed';
    default:
      return true;
  }
}

interface MeasuredPoint {
  t: number;
  v: number;
  node: unknown;
}

/** Dated results with a value convertible to `unit`, oldest first. */
function measuredSeries(inputs: unknown[], unit: string, molarFactor?: number): MeasuredPoint[] {
  const points: MeasuredPoint[] = [];
  for (const n of inputs) {
    const r = dataOf(n) as Json;
    const t = r && typeof r === 'object' ? clinicalDateOf(r) : undefined;
    const q = r?.valueQuantity as QuantityLike | undefined;
    const v = q ? quantityIn(q, unit, molarFactor) : undefined;
    if (t !== undefined && v !== undefined) points.push({ t, v, node: n });
  }
  return points.sort((a, b) => a.t - b.t);
}

/** Report text longer than this is not read for sentences (a report conclusion is a few lines). */
const MAX_TEXT = 20_000;

interface InvocationEntry {
  fn: (this: FpContext, inputs: unknown[], ...params: never[]) => unknown[];
  arity?: Record<number, string[]>;
  internalStructures: true;
}

/** This service's FHIRPath functions. Each is documented in the README ("Writing rules"). */
function buildInvocationTable(valueSets: ValueSetIndex): Record<string, InvocationEntry> {
  const table: Record<string, InvocationEntry> = {
    // One "now" per request: the server clock read once when the request arrived.
    now: { fn(this: FpContext) { return [dateTimeNode(this, scopeOf(this).now)]; }, internalStructures: true },
    today: {
      fn(this: FpContext) { return [new fpTypes.FP_Date(this, new Date(scopeOf(this).now).toISOString().slice(0, 10))]; },
      internalStructures: true,
    },
    // from('observations', 'hemoglobin'): resources of a prefetch key whose main code is in a value set (indexed).
    from: {
      fn(this: FpContext, _inputs: unknown[], key: string, valueSet: string) {
        return scopeOf(this).index.coded(key, resolveValueSetUrl(valueSet)).map((r) => resourceNode(this, r));
      },
      arity: { 2: ['String', 'String'] },
      internalStructures: true,
    },
    // Offline membership: true when any coding of a Coding/CodeableConcept input is in the value set.
    memberOf: {
      fn(this: FpContext, inputs: unknown[], valueSet: string) {
        if (inputs.length === 0) return [];
        const url = resolveValueSetUrl(valueSet);
        return [inputs.some((n) => codingsOfConcept(dataOf(n)).some((c) => valueSets.contains(url, c.system as string, c.code as string)))];
      },
      arity: { 1: ['String'] },
      internalStructures: true,
    },
    clinicalDate: {
      fn(this: FpContext, inputs: unknown[]) {
        const out: unknown[] = [];
        for (const n of inputs) {
          const t = epochOf(n);
          if (t !== undefined) out.push(dateTimeNode(this, t));
        }
        return out;
      },
      internalStructures: true,
    },
    // withinDays(n): resources dated no more than n days before now and not after now (undated never within).
    withinDays: {
      fn(this: FpContext, inputs: unknown[], days: number) {
        const now = scopeOf(this).now;
        const from = now - days * 86_400_000;
        return inputs.filter((n) => {
          const t = epochOf(n);
          return t !== undefined && t >= from && t <= now;
        });
      },
      arity: { 1: ['Integer'] },
      internalStructures: true,
    },
    // datedBetween(from, to): resources dated from `from` to `to` inclusive (DateTimes; undated never match).
    datedBetween: {
      fn(this: FpContext, inputs: unknown[], from: unknown[], to: unknown[]) {
        const start = from.length ? epochOf(from[0]) : undefined;
        const end = to.length ? epochOf(to[0]) : undefined;
        if (start === undefined || end === undefined) return [];
        return inputs.filter((n) => {
          const t = epochOf(n);
          return t !== undefined && t >= start && t <= end;
        });
      },
      arity: { 2: ['Any', 'Any'] },
      internalStructures: true,
    },
    // usable(): clinical-rules §2 "usable" resources. Conditions: clinicalStatus absent/active/recurrence/relapse
    // and verificationStatus absent/confirmed/provisional/unconfirmed; Observations and DiagnosticReports: status
    // final/amended/corrected; Procedures: completed. Never dated after now.
    usable: {
      fn(this: FpContext, inputs: unknown[]) {
        const now = scopeOf(this).now;
        return inputs.filter((n) => {
          const r = dataOf(n) as Json;
          if (!r || typeof r !== 'object' || !isUsable(r)) return false;
          const t = clinicalDateOf(r);
          return t === undefined || t <= now;
        });
      },
      internalStructures: true,
    },
    // withStatus('a,b'): resources whose status is one of the listed codes (a fast filter for large charts).
    withStatus: {
      fn(this: FpContext, inputs: unknown[], list: string) {
        const wanted = new Set(list.split(',').map((s) => s.trim()));
        return inputs.filter((n) => wanted.has((dataOf(n) as Json | undefined)?.status as string));
      },
      arity: { 1: ['String'] },
      internalStructures: true,
    },
    // fallPair(spanDays, laterWithinDays, unit[, molarFactor]): the earlier and the later result of the largest fall
    // between two results taken at most `spanDays` apart, the later one dated within the last `laterWithinDays` days
    // (an acute hemoglobin drop); empty without a falling pair. The size is `valueIn()` of the two.
    fallPair: {
      fn(this: FpContext, inputs: unknown[], spanDays: number, laterWithinDays: number, unit: string, molarFactor?: number) {
        const now = scopeOf(this).now;
        const points = measuredSeries(inputs, unit, molarFactor);
        const span = spanDays * 86_400_000;
        const laterFrom = now - laterWithinDays * 86_400_000;
        let best: { fall: number; earlier: unknown; later: unknown } | undefined;
        for (let j = 0; j < points.length; j++) {
          const later = points[j] as MeasuredPoint;
          if (later.t < laterFrom || later.t > now) continue;
          for (let i = j - 1; i >= 0; i--) {
            const earlier = points[i] as MeasuredPoint;
            if (later.t - earlier.t > span) break;
            const fall = earlier.v - later.v;
            if (earlier.t < later.t && fall > 0 && (best === undefined || fall > best.fall)) best = { fall, earlier: earlier.node, later: later.node };
          }
        }
        return best ? [best.earlier, best.later] : [];
      },
      arity: { 3: ['Integer', 'Integer', 'String'], 4: ['Integer', 'Integer', 'String', 'Number'] },
      internalStructures: true,
    },
    // trendLine(label, unit[, molarFactor]): "label v1 (date) → v2 unit (date)" over the last 6 results with a usable
    // value, oldest first, in the unit of the newest (clinical-rules §1 trend line); empty with no such result.
    trendLine: {
      fn(this: FpContext, inputs: unknown[], label: string, unit: string, molarFactor?: number) {
        const all = measuredSeries(inputs, unit, molarFactor);
        const points = all.slice(-6);
        const newest = points[points.length - 1];
        if (!newest) return [];
        const shownUnit = ucumCodeOf((dataOf(newest.node) as Json).valueQuantity as QuantityLike) ?? unit;
        const factor = quantityIn({ value: 1, code: unit, system: 'http://unitsofmeasure.org' }, shownUnit, molarFactor);
        const parts = points.map((p, i) => {
          const v = factor === undefined ? p.v : p.v * factor;
          return `${formatNumber(v)}${i === points.length - 1 ? ` ${factor === undefined ? unit : shownUnit}` : ''} (${isoDay(p.t)})`;
        });
        return [`${label} ${parts.join(' → ')}`];
      },
      arity: { 2: ['String', 'String'], 3: ['String', 'String', 'Number'] },
      internalStructures: true,
    },
    // sentences(): the sentences of a text (split after . ! ? followed by a space, and at line breaks), trimmed.
    sentences: {
      fn(this: FpContext, inputs: unknown[]) {
        const out: string[] = [];
        for (const n of inputs) {
          const text = dataOf(n);
          if (typeof text !== 'string') continue;
          for (const s of text.slice(0, MAX_TEXT).split(/(?<=[.!?])\s+|\n+/)) if (s.trim()) out.push(s.trim());
        }
        return out;
      },
      internalStructures: true,
    },
    // latestWhere(criteria): the newest dated item for which the criteria hold, testing newest first and stopping at
    // the first match (where(...).latest() would test every item).
    latestWhere: {
      fn(this: FpContext, inputs: unknown[], criteria: (item: unknown) => unknown[]) {
        const dated = inputs.map((n, i) => ({ n, i, t: epochOf(n) })).filter((x): x is { n: unknown; i: number; t: number } => x.t !== undefined);
        dated.sort((a, b) => b.t - a.t || b.i - a.i);
        for (const { n } of dated) {
          const r = criteria(n);
          if (r.length === 1 && r[0] === true) return [n];
        }
        return [];
      },
      arity: { 1: ['Expr'] },
      internalStructures: true,
    },
    // latest(): the newest dated item (ties: the later one in the record).
    latest: {
      fn(this: FpContext, inputs: unknown[]) {
        let best: unknown;
        let bestT = -Infinity;
        for (const n of inputs) {
          const t = epochOf(n);
          if (t !== undefined && t >= bestT) {
            best = n;
            bestT = t;
          }
        }
        return best === undefined ? [] : [best];
      },
      internalStructures: true,
    },
    // ageInMonths([at]) / ageInYears([at]) on a Patient (or a birth date): completed months/years at `at` (default now).
    ageInMonths: {
      fn(this: FpContext, inputs: unknown[], at?: unknown[]) {
        const birth = inputs.length ? birthEpoch(inputs[0]) : undefined;
        const when = at === undefined ? scopeOf(this).now : at.length ? epochOf(at[0]) : undefined;
        return birth === undefined || when === undefined ? [] : [completedMonths(birth, when)];
      },
      arity: { 0: [], 1: ['Any'] },
      internalStructures: true,
    },
    ageInYears: {
      fn(this: FpContext, inputs: unknown[], at?: unknown[]) {
        const birth = inputs.length ? birthEpoch(inputs[0]) : undefined;
        const when = at === undefined ? scopeOf(this).now : at.length ? epochOf(at[0]) : undefined;
        return birth === undefined || when === undefined ? [] : [Math.floor(completedMonths(birth, when) / 12)];
      },
      arity: { 0: [], 1: ['Any'] },
      internalStructures: true,
    },
    // valueIn(unit[, molarFactor]): an Observation's valueQuantity (or a Quantity) as a number in `unit`.
    valueIn: {
      fn(this: FpContext, inputs: unknown[], unit: string, molarFactor?: number) {
        const out: number[] = [];
        for (const n of inputs) {
          // fhirpath.js keeps a quantity's value as a decimal object, not a number.
          let q: unknown = n instanceof fpTypes.FP_Quantity ? { value: Number(n.value), code: n.unit.replace(/^'|'$/g, ''), system: 'http://unitsofmeasure.org' } : dataOf(n);
          if (q && typeof q === 'object' && (q as Json).resourceType) q = (q as Json).valueQuantity;
          if (!q || typeof q !== 'object') continue;
          const v = quantityIn(q as QuantityLike, unit, molarFactor);
          if (v !== undefined) out.push(v);
        }
        return out;
      },
      arity: { 1: ['String'], 2: ['String', 'Number'] },
      internalStructures: true,
    },
    // compareValue(threshold[, molarFactor]): -1, 0 or 1 as a result's value (or a quantity) is below, at or above a
    // threshold quantity, compared in the threshold's unit (a unitless threshold compares the bare value); empty when
    // the value cannot be converted. Lets rules name thresholds once (`compareValue(%ferritinLowFrom5y) < 0`).
    compareValue: {
      fn(this: FpContext, inputs: unknown[], threshold: unknown[], molarFactor?: number) {
        const t = threshold[0];
        const limit = t instanceof fpTypes.FP_Quantity ? { value: Number(t.value), unit: t.unit.replace(/^'|'$/g, '') } : typeof toPlain(t) === 'number' ? { value: toPlain(t) as number, unit: undefined } : undefined;
        if (!limit) return [];
        const out: number[] = [];
        for (const n of inputs) {
          let q: unknown = n instanceof fpTypes.FP_Quantity ? { value: Number(n.value), code: n.unit.replace(/^'|'$/g, ''), system: 'http://unitsofmeasure.org' } : dataOf(n);
          if (q && typeof q === 'object' && (q as Json).resourceType) q = (q as Json).valueQuantity;
          if (typeof q === 'number') q = { value: q };
          if (!q || typeof q !== 'object') continue;
          const v = limit.unit === undefined || limit.unit === '1' ? Number((q as Json).value) : quantityIn(q as QuantityLike, limit.unit, molarFactor);
          if (v !== undefined && Number.isFinite(v)) out.push(Math.sign(Number((v - limit.value).toPrecision(12))));
        }
        return out;
      },
      arity: { 1: ['Any'], 2: ['Any', 'Number'] },
      internalStructures: true,
    },
    // medication(): the CodeableConcept of the drug a MedicationRequest orders (inline or referenced Medication).
    medication: {
      fn(this: FpContext, inputs: unknown[]) {
        const scope = scopeOf(this);
        const out: unknown[] = [];
        for (const n of inputs) {
          const d = dataOf(n) as Json;
          const c = d && typeof d === 'object' ? medicationConcept(d, scope) : undefined;
          if (c) out.push(c);
        }
        return out;
      },
      internalStructures: true,
    },
    // evidence(): card text for each item (resources as "finding: value (interpretation) on date").
    evidence: {
      fn(this: FpContext, inputs: unknown[]) {
        return inputs.map((n) => describeValue(toPlain(n)));
      },
      internalStructures: true,
    },
  };
  return table;
}

/** Converts fhirpath.js results (ResourceNodes, FP types) to plain JSON values for templates. */
export function toPlain(v: unknown): unknown {
  if (v instanceof fpTypes.ResourceNode) return v.data;
  if (v instanceof fpTypes.FP_Quantity) return { value: Number(v.value), unit: String(v.unit).replace(/^'|'$/g, '') };
  if (v instanceof fpTypes.FP_TimeBase) return v.toString();
  if (v && typeof v === 'object' && typeof (v as { toString?: unknown }).toString === 'function' && v.constructor?.name?.startsWith('FP_')) {
    return Number((v as { toString(): string }).toString());
  }
  return v;
}

export type Collection = unknown[];

export interface CompiledExpression {
  readonly source: string;
  evaluate(base: unknown, vars: Record<string, unknown>): Collection;
}

export interface ExpressionAnalysis {
  variables: Set<string>;
  functions: Set<string>;
  /** Names introduced with defineVariable('x', ...) inside the expression. */
  defined: Set<string>;
  /** Every function call with its string-literal parameters (undefined where a parameter is not a literal). */
  calls: { name: string; literals: (string | undefined)[] }[];
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
      result.calls.push({ name, literals });
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
const FORBIDDEN_FUNCTIONS: ReadonlySet<string> = new Set(['resolve', 'trace']);

/** Variables fhirpath.js always provides. */
export const BUILTIN_VARIABLES: ReadonlySet<string> = new Set(['context', 'ucum', 'factory', 'sct', 'loinc']);

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

/** Builds the variables object for one evaluation pass; later names are added to it as they are computed. */
export function createVariables(scope: RequestScope, initial: Record<string, unknown>): Record<string, unknown> {
  return { ...initial, [SCOPE_VAR]: scope };
}

/** fhirpath.js throws plain strings for some errors: always get a message. */
export function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
