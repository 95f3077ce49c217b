// JSON Schema validation for every document the service reads (hook requests, feedback, definitions, the
// trusted-clients file): one ajv factory and one wording of its errors as OperationOutcome issues.
import fs from 'node:fs';
import path from 'node:path';
import Ajv2020 from 'ajv/dist/2020';
import type { ErrorObject } from 'ajv';
import addFormats from 'ajv-formats';
import type { IssueInput } from './errors';
import { PROJECT_ROOT } from './project-root';
// eslint-disable-next-line @typescript-eslint/no-require-imports
const draft07MetaSchema = require('ajv/dist/refs/json-schema-draft-07.json') as Record<string, unknown>;

/** Same relative location from src/ (jest, ts) and dist/ (built), so no configuration is needed. */
export const SCHEMA_DIR = path.join(PROJECT_ROOT, 'cds-services', 'schema');

/** An OperationOutcome with 100,000 issues would be its own denial of service. */
export const MAX_ISSUES = 50;

export interface SchemaAjvOptions {
  /** ajv strict mode (unknown keywords are errors): on for schemas this service writes inline. */
  strict?: boolean;
}

/**
 * ajv configured the way every schema of this service needs: all errors at once, formats, the `x-expected` wording
 * annotation, and both JSON Schema dialects the schema files declare (2020-12 and draft-07).
 */
export function createSchemaAjv(options: SchemaAjvOptions = {}): Ajv2020 {
  // verbose: the error's parentSchema carries our 'x-expected' wording; it only adds references, no copies.
  const ajv = new Ajv2020({ allErrors: true, verbose: true, allowUnionTypes: true, strictTypes: false, strict: options.strict ?? false, strictRequired: false });
  addFormats(ajv);
  ajv.addMetaSchema(draft07MetaSchema);
  ajv.addKeyword({ keyword: 'x-expected', schemaType: 'string' });
  return ajv;
}

export function loadSchemaFile(fileName: string, schemaDir: string = SCHEMA_DIR): Record<string, unknown> {
  return JSON.parse(fs.readFileSync(path.join(schemaDir, fileName), 'utf8')) as Record<string, unknown>;
}

export function isJsonObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

/** `/context/selections/0` -> `context.selections[0]`; keys that are not identifiers are bracketed and quoted. */
export function formatJsonPath(segments: readonly string[]): string {
  let out = '';
  for (const seg of segments) {
    if (/^(0|[1-9][0-9]*)$/.test(seg)) out += `[${seg}]`;
    else if (IDENTIFIER.test(seg)) out += out === '' ? seg : `.${seg}`;
    else out += `[${JSON.stringify(seg.length > 80 ? `${seg.slice(0, 80)}…` : seg)}]`;
  }
  return out;
}

function pointerSegments(pointer: string): string[] {
  if (pointer === '') return [];
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

const TYPE_NOUNS: Record<string, string> = {
  string: 'a string',
  object: 'an object',
  array: 'an array',
  integer: 'an integer',
  number: 'a number',
  boolean: 'a boolean',
  null: 'null',
};

function describeTypes(type: unknown): string {
  const list = Array.isArray(type) ? type : [type];
  return list.map((t) => TYPE_NOUNS[String(t)] ?? String(t)).join(' or ');
}

function expectedWording(err: ErrorObject): string | undefined {
  const parent = err.parentSchema as Record<string, unknown> | undefined;
  const expected = parent?.['x-expected'];
  return typeof expected === 'string' ? expected : undefined;
}

/** One error in words: "must be a string", "is required" ... (the same wording for every document). */
export function describeProblem(err: ErrorObject): string {
  const p = err.params as Record<string, unknown>;
  const expected = expectedWording(err);
  if (expected !== undefined) return `must be ${expected}`;
  switch (err.keyword) {
    case 'type':
      return `must be ${describeTypes(p.type)}`;
    case 'const':
      return `must be ${JSON.stringify(p.allowedValue)}`;
    case 'enum':
      return `must be one of ${(p.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`;
    case 'pattern':
      return 'does not have the expected form';
    case 'format':
      return `must be a valid ${String(p.format)}`;
    case 'minLength':
      return p.limit === 1 ? 'must not be empty' : `must have at least ${String(p.limit)} characters`;
    case 'maxLength':
      return `must have at most ${String(p.limit)} characters`;
    case 'minItems':
      return p.limit === 1 ? 'must not be empty' : `must have at least ${String(p.limit)} items`;
    case 'maxItems':
      return `must have at most ${String(p.limit)} items`;
    case 'minimum':
      return `must be at least ${String(p.limit)}`;
    case 'additionalProperties':
      return `has an unknown member "${String(p.additionalProperty)}"`;
    case 'required':
      return `has a missing member "${String(p.missingProperty)}"`;
    default:
      return `is invalid (${err.message ?? err.keyword})`;
  }
}

function issueCode(keyword: string): IssueInput['code'] {
  switch (keyword) {
    case 'required':
    case 'dependentRequired':
      return 'required';
    case 'type':
    case 'minItems':
    case 'maxItems':
      return 'structure';
    default:
      return 'invalid';
  }
}

/** Branch errors of a failed anyOf say less than the anyOf's own wording, and an `if` error only repeats its `then`. */
function dropRedundantErrors(errors: readonly ErrorObject[]): ErrorObject[] {
  const anyOfPaths = errors.filter((e) => e.keyword === 'anyOf' || e.keyword === 'oneOf').map((e) => `${e.schemaPath}/`);
  return errors.filter((e) => e.keyword !== 'if' && !anyOfPaths.some((prefix) => e.schemaPath.startsWith(prefix)));
}

/**
 * One issue per ajv error (duplicates merged), worded as a sentence and located by a JSON path,
 * `subject` naming the document when the error is about the root ("The request body").
 */
export function formatSchemaErrors(errors: readonly ErrorObject[] | null | undefined, subject: string): IssueInput[] {
  const issues: IssueInput[] = [];
  const seen = new Set<string>();
  const relevant = dropRedundantErrors(errors ?? []);
  for (const err of relevant) {
    const segments = pointerSegments(err.instancePath);
    const p = err.params as Record<string, unknown>;
    let location: string;
    let diagnostics: string;
    if (err.keyword === 'required' && typeof p.missingProperty === 'string') {
      location = formatJsonPath([...segments, p.missingProperty]);
      diagnostics = `${location} is required`;
    } else if (err.keyword === 'dependentRequired' && typeof p.missingProperty === 'string') {
      location = formatJsonPath([...segments, p.missingProperty]);
      diagnostics = `${location} is required when ${formatJsonPath([...segments, String(p.property)])} is present`;
    } else {
      location = formatJsonPath(segments);
      diagnostics = `${location === '' ? subject : location} ${describeProblem(err)}`;
    }
    const key = `${location}\u0000${diagnostics}`;
    if (seen.has(key)) continue;
    seen.add(key);
    issues.push({ code: issueCode(err.keyword), diagnostics, ...(location === '' ? {} : { expression: [location] }) });
  }
  if (issues.length > MAX_ISSUES) {
    const more = issues.length - MAX_ISSUES;
    issues.length = MAX_ISSUES;
    issues.push({ code: 'too-costly', diagnostics: `${more} further problems were not listed` });
  }
  return issues;
}

