// Text and FHIR resource templates with {{FHIRPath}} placeholders: compiled once at load, rendered per
// request. In text, a line that is only a placeholder (after an optional bullet) repeats per value and
// disappears when there is none; elsewhere values are joined with ", ".
import { toPlain } from '../fhirpath/nodes';
import { type CompiledExpression, type ExpressionRuntime } from '../fhirpath/runtime';
import { describeValue } from './evidence';

// A placeholder never spans `}}`: `{{%a}} and {{%b}}` is two placeholders, not one whose FHIRPath is `%a}} and {{%b`.
const PLACEHOLDER = /\{\{((?:(?!\}\})[\s\S])+?)\}\}/g;
const WHOLE = /^\{\{((?:(?!\}\})[\s\S])+?)\}\}$/;
const LIST_LINE = /^(\s*(?:[-*]|\d+\.)?\s*)\{\{((?:(?!\}\})[\s\S])+?)\}\}\s*$/;

export interface TemplateExpression {
  expression: CompiledExpression;
  /** JSON pointer of the string holding it (for load-time issues). */
  pointer: string;
}

type Line = { kind: 'list'; prefix: string; expr: CompiledExpression } | { kind: 'inline'; parts: (string | CompiledExpression)[] };

export interface CompiledText {
  readonly lines: Line[];
  readonly expressions: TemplateExpression[];
}

export type CompiledValue =
  | { kind: 'literal'; value: unknown }
  | { kind: 'whole'; expr: CompiledExpression }
  | { kind: 'text'; text: CompiledText }
  | { kind: 'array'; items: CompiledValue[] }
  | { kind: 'object'; entries: [string, CompiledValue][] }
  /** `{"$base": "{{expr}}", "$append": {"a.b": value}}`: a copy of a resource with values appended to arrays. */
  | { kind: 'merge'; base: CompiledExpression; appends: [string[], CompiledValue][] };

export type Evaluate = (expr: CompiledExpression) => unknown[];

function compileInline(line: string, runtime: ExpressionRuntime, pointer: string, found: TemplateExpression[]): (string | CompiledExpression)[] {
  const parts: (string | CompiledExpression)[] = [];
  let last = 0;
  for (const m of line.matchAll(PLACEHOLDER)) {
    parts.push(line.slice(last, m.index));
    const expression = runtime.compile((m[1] ?? '').trim());
    found.push({ expression, pointer });
    parts.push(expression);
    last = (m.index ?? 0) + m[0].length;
  }
  parts.push(line.slice(last));
  return parts.filter((p) => p !== '');
}

export function compileText(text: string | string[], runtime: ExpressionRuntime, pointer: string): CompiledText {
  const expressions: TemplateExpression[] = [];
  const source = Array.isArray(text) ? text.join('\n') : text;
  const lines: Line[] = source.split('\n').map((line) => {
    const list = LIST_LINE.exec(line);
    if (list) {
      const expr = runtime.compile((list[2] ?? '').trim());
      expressions.push({ expression: expr, pointer });
      return { kind: 'list', prefix: list[1] ?? '', expr };
    }
    return { kind: 'inline', parts: compileInline(line, runtime, pointer, expressions) };
  });
  return { lines, expressions };
}

function textOf(values: unknown[]): string[] {
  return values.map((v) => describeValue(toPlain(v))).filter((s) => s !== '');
}

export function renderText(t: CompiledText, evaluate: Evaluate): string {
  const out: string[] = [];
  for (const line of t.lines) {
    if (line.kind === 'list') {
      for (const s of textOf(evaluate(line.expr))) out.push(line.prefix + s);
    } else {
      out.push(line.parts.map((p) => (typeof p === 'string' ? p : textOf(evaluate(p)).join(', '))).join(''));
    }
  }
  // No empty section (clinical-rules §1): a label line ending with a colon whose items all rendered empty is dropped.
  const kept = out.filter((line, i) => !(/:(?:\*\*)?\s*$/.test(line) && (out[i + 1] ?? '').trim() === ''));
  return kept.join('\n').replace(/\n{3,}/g, '\n\n').trim();
}

export function compileValue(value: unknown, runtime: ExpressionRuntime, pointer: string, found: TemplateExpression[]): CompiledValue {
  if (typeof value === 'string') {
    const whole = WHOLE.exec(value);
    if (whole) {
      const expr = runtime.compile((whole[1] ?? '').trim());
      found.push({ expression: expr, pointer });
      return { kind: 'whole', expr };
    }
    if (!value.includes('{{')) return { kind: 'literal', value };
    const text = compileText(value, runtime, pointer);
    found.push(...text.expressions);
    return { kind: 'text', text };
  }
  if (Array.isArray(value)) return { kind: 'array', items: value.map((v, i) => compileValue(v, runtime, `${pointer}/${i}`, found)) };
  if (value && typeof value === 'object' && '$base' in value) {
    const v = value as { $base?: unknown; $append?: Record<string, unknown> };
    const whole = typeof v.$base === 'string' ? WHOLE.exec(v.$base) : null;
    if (!whole) throw new Error(`${pointer}/$base must be a single {{expression}}`);
    const base = runtime.compile((whole[1] ?? '').trim());
    found.push({ expression: base, pointer: `${pointer}/$base` });
    const appends = Object.entries(v.$append ?? {}).map(([p, x]): [string[], CompiledValue] => [p.split('.'), compileValue(x, runtime, `${pointer}/$append/${p}`, found)]);
    return { kind: 'merge', base, appends };
  }
  if (value && typeof value === 'object') {
    return {
      kind: 'object',
      entries: Object.entries(value).map(([k, v]) => [k, compileValue(v, runtime, `${pointer}/${k.replace(/~/g, '~0').replace(/\//g, '~1')}`, found)]),
    };
  }
  return { kind: 'literal', value };
}

/** Renders a compiled JSON template; members that render empty (no value) are left out, as CDS Hooks requires. */
export function renderValue(c: CompiledValue, evaluate: Evaluate): unknown {
  switch (c.kind) {
    case 'literal':
      return c.value;
    case 'whole': {
      const values = evaluate(c.expr).map(toPlain);
      if (values.length === 0) return undefined;
      return values.length === 1 ? structuredClone(values[0]) : structuredClone(values);
    }
    case 'text': {
      const s = renderText(c.text, evaluate);
      return s === '' ? undefined : s;
    }
    case 'array': {
      const items = c.items.flatMap((i) => {
        const v = renderValue(i, evaluate);
        if (v === undefined) return [];
        // A whole placeholder inside an array spreads its values into the array.
        return i.kind === 'whole' && Array.isArray(v) ? v : [v];
      });
      return items.length ? items : undefined;
    }
    case 'object': {
      const out: Record<string, unknown> = {};
      for (const [k, v] of c.entries) {
        const r = renderValue(v, evaluate);
        if (r !== undefined && !(typeof r === 'object' && r !== null && !Array.isArray(r) && Object.keys(r).length === 0)) out[k] = r;
      }
      return Object.keys(out).length ? out : undefined;
    }
    case 'merge': {
      const base = evaluate(c.base).map(toPlain)[0];
      if (!base || typeof base !== 'object') return undefined;
      const copy = structuredClone(base) as Record<string, unknown>;
      for (const [path, valueTemplate] of c.appends) {
        const value = renderValue(valueTemplate, evaluate);
        if (value === undefined) continue;
        let target: Record<string, unknown> = copy;
        for (const key of path.slice(0, -1)) {
          if (!target[key] || typeof target[key] !== 'object') target[key] = {};
          target = target[key] as Record<string, unknown>;
        }
        const last = path[path.length - 1] as string;
        const existing = target[last];
        target[last] = [...(Array.isArray(existing) ? existing : existing === undefined ? [] : [existing]), value];
      }
      return copy;
    }
    default:
      return undefined;
  }
}
