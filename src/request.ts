// Validation of CDS Hooks 2.0 hook requests (cds-services/schema/hook-request.schema.json) into HttpError(400)
// OperationOutcome issues, plus selections/draftOrders lookups. Also owns the shared ajv set-up and the
// ajv-error -> issue wording that feedback.ts reuses.
import fs from 'node:fs';
import path from 'node:path';
import Ajv2020 from 'ajv/dist/2020';
import type { ErrorObject, ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import type { FhirResource } from 'fhir/r4';
import { HttpError, type IssueInput } from './errors';
import type { HookName, HookRequest } from './hook-request';

/** Same relative location from src/ (jest, ts) and dist/ (built), so no configuration is needed. */
export const SCHEMA_DIR = path.resolve(__dirname, '..', 'cds-services', 'schema');

/** An OperationOutcome with 100,000 issues would be its own denial of service. */
const MAX_ISSUES = 50;

/**
 * Real requests nest about 15 levels (entry.resource.extension.extension.valueCodeableConcept.coding). JSON.parse
 * and ajv cope with 10,000, but JSON.stringify and structuredClone overflow the stack far earlier, and cards
 * echo draft orders back, so absurd nesting is refused here, once, iteratively.
 */
export const DEFAULT_MAX_DEPTH = 100;

const REQUEST_SCHEMA_ID = 'https://iph-cds-hooks.invalid/schema/hook-request.schema.json';

const REQUEST_DEFS: Record<HookName, string> = {
  'patient-view': 'patientViewRequest',
  'order-select': 'orderSelectRequest',
  'order-sign': 'orderSignRequest',
};

export interface RequestValidator {
  validateHookRequest(expectedHook: HookName, body: unknown): HookRequest;
}

export interface RequestValidatorOptions {
  /** Folder holding hook-request.schema.json; defaults to cds-services/schema. */
  schemaDir?: string;
  /** Deepest allowed object/array nesting, the body itself being level 0. */
  maxDepth?: number;
}

/** ajv configured the way every schema of this service needs: all errors at once, formats, annotations. */
export function createSchemaAjv(): Ajv2020 {
  // verbose: the error's parentSchema carries our 'x-expected' wording; it only adds references, no copies.
  const ajv = new Ajv2020({ allErrors: true, verbose: true, allowUnionTypes: true, strictTypes: false });
  addFormats(ajv);
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

function describeProblem(err: ErrorObject): string {
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

function clip(value: string, max = 64): string {
  return value.length > max ? `${value.slice(0, max)}…` : value;
}

/**
 * One issue per second-level member (e.g. `prefetch.patient`, `extension["org.example"]`) holding an object
 * or array nested deeper than `maxDepth`. Iterative, so the check itself cannot overflow the stack.
 */
export function findExcessiveNesting(body: Record<string, unknown>, maxDepth: number): IssueInput[] {
  const issues: IssueInput[] = [];
  for (const [topKey, topValue] of Object.entries(body)) {
    if (typeof topValue !== 'object' || topValue === null) continue;
    for (const [key, value] of Object.entries(topValue)) {
      if (typeof value !== 'object' || value === null) continue;
      const stack: [object, number][] = [[value, 2]];
      while (stack.length > 0) {
        const [node, depth] = stack.pop() as [object, number];
        if (depth > maxDepth) {
          const location = formatJsonPath([topKey, key]);
          issues.push({ code: 'structure', diagnostics: `${location} is nested more than ${maxDepth} levels deep`, expression: [location] });
          break;
        }
        for (const child of Object.values(node)) {
          if (typeof child === 'object' && child !== null) stack.push([child, depth + 1]);
        }
      }
      if (issues.length >= MAX_ISSUES) return issues;
    }
  }
  return issues;
}

function selectionIssues(request: HookRequest): IssueInput[] {
  const index = indexDraftOrders(request);
  const issues: IssueInput[] = [];
  (request.context.selections ?? []).forEach((selection, i) => {
    if (!index.has(selection)) {
      const location = `context.selections[${i}]`;
      issues.push({
        code: 'invalid',
        diagnostics: `${location} (${selection}) names no entry of context.draftOrders`,
        expression: [location],
      });
    }
  });
  return issues;
}

/** Compiles the per-hook request schemas once; the returned validator is stateless. */
export function createRequestValidator(options: RequestValidatorOptions = {}): RequestValidator {
  const { schemaDir = SCHEMA_DIR, maxDepth = DEFAULT_MAX_DEPTH } = options;
  if (!Number.isInteger(maxDepth) || maxDepth < 2) throw new RangeError('maxDepth must be an integer of at least 2');
  const ajv = createSchemaAjv();
  ajv.addSchema(loadSchemaFile('hook-request.schema.json', schemaDir));
  const validators = new Map<HookName, ValidateFunction>();
  for (const [hook, def] of Object.entries(REQUEST_DEFS) as [HookName, string][]) {
    validators.set(hook, ajv.compile({ $ref: `${REQUEST_SCHEMA_ID}#/$defs/${def}` }));
  }

  return {
    validateHookRequest(expectedHook: HookName, body: unknown): HookRequest {
      if (!isJsonObject(body)) {
        throw new HttpError(400, { code: 'structure', diagnostics: 'The request body must be a JSON object' });
      }
      // Checked before the schema: the context rules of another hook would only produce noise.
      if (typeof body.hook === 'string' && body.hook !== expectedHook) {
        throw new HttpError(400, {
          code: 'invalid',
          diagnostics: `this service handles ${expectedHook}, not ${clip(body.hook)}`,
          expression: ['hook'],
        });
      }
      const validate = validators.get(expectedHook);
      if (validate === undefined) {
        throw new HttpError(500, { code: 'exception', diagnostics: 'Internal server error' });
      }
      // ajv only descends where the schema does, so it is safe to run before the depth scan.
      const issues = validate(body) ? [] : formatSchemaErrors(validate.errors, 'The request body');
      issues.push(...findExcessiveNesting(body, maxDepth));
      if (issues.length > 0) throw new HttpError(400, issues.slice(0, MAX_ISSUES + 1));
      const request = body as unknown as HookRequest;
      if (expectedHook === 'order-select') {
        const unmatched = selectionIssues(request);
        if (unmatched.length > 0) throw new HttpError(400, unmatched.slice(0, MAX_ISSUES));
      }
      return request;
    },
  };
}

const defaultValidator = createRequestValidator();

/**
 * Validates `body` as a request for `expectedHook` and returns it typed; throws HttpError(400) with one
 * issue per problem (expression = JSON path such as `context.selections[0]`).
 */
export function validateHookRequest(expectedHook: HookName, body: unknown): HookRequest {
  return defaultValidator.validateHookRequest(expectedHook, body);
}

/** Every resource in context.draftOrders, in Bundle order (entries without a resource object skipped). */
export function draftOrderResources(request: HookRequest): FhirResource[] {
  const entries: unknown = request.context.draftOrders?.entry;
  if (!Array.isArray(entries)) return [];
  const out: FhirResource[] = [];
  for (const entry of entries as unknown[]) {
    const resource = isJsonObject(entry) ? entry.resource : undefined;
    if (isJsonObject(resource) && typeof resource.resourceType === 'string') out.push(resource as unknown as FhirResource);
  }
  return out;
}

function indexDraftOrders(request: HookRequest): Map<string, FhirResource> {
  const index = new Map<string, FhirResource>();
  for (const resource of draftOrderResources(request)) {
    if (typeof resource.id !== 'string') continue;
    const key = `${resource.resourceType}/${resource.id}`;
    // First entry wins, so a duplicated Type/id resolves the same way every time.
    if (!index.has(key)) index.set(key, resource);
  }
  return index;
}

