// Validation of CDS Hooks 2.0 hook requests (cds-services/schema/hook-request.schema.json) into HttpError(400)
// OperationOutcome issues, plus selections/draftOrders lookups.
import type { ValidateFunction } from 'ajv';
import type { FhirResource } from 'fhir/r4';
import type { HookName, HookRequest } from '../cds-hooks';
import { HttpError, type IssueInput } from '../errors';
import { createSchemaAjv, formatJsonPath, formatSchemaErrors, isJsonObject, loadSchemaFile, MAX_ISSUES, SCHEMA_DIR } from '../schema';

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

