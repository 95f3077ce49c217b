// Errors as FHIR OperationOutcomes: one error class, turned into a response in exactly one place
// (errorMiddleware). Stack traces go to the log, never to the client.
import type { ErrorRequestHandler } from 'express';
import type { OperationOutcome, OperationOutcomeIssue } from 'fhir/r4';

export type IssueCode = OperationOutcomeIssue['code'];

export interface IssueInput {
  code: IssueCode;
  diagnostics: string;
  /** FHIRPath-ish / JSON-pointer locations of the problem in the request. */
  expression?: string[];
}

export class HttpError extends Error {
  readonly status: number;
  readonly issues: IssueInput[];
  readonly headers: Record<string, string>;

  constructor(status: number, issues: IssueInput | IssueInput[], headers: Record<string, string> = {}) {
    const list = Array.isArray(issues) ? issues : [issues];
    super(list.map((i) => i.diagnostics).join('; '));
    this.name = 'HttpError';
    this.status = status;
    this.issues = list;
    this.headers = headers;
  }
}

export function operationOutcome(issues: IssueInput[], severity: OperationOutcomeIssue['severity'] = 'error'): OperationOutcome {
  return {
    resourceType: 'OperationOutcome',
    issue: issues.map((i) => ({
      severity,
      code: i.code,
      diagnostics: i.diagnostics,
      ...(i.expression && i.expression.length > 0 ? { expression: i.expression } : {}),
    })),
  };
}

/** Maps body-parser and other well-known errors to HttpErrors; anything else is a 500 without internals. */
export function toHttpError(err: unknown): HttpError {
  if (err instanceof HttpError) return err;
  const e = err as { type?: string; status?: number; statusCode?: number; expose?: boolean; limit?: number };
  switch (e?.type) {
    case 'entity.parse.failed':
      return new HttpError(400, { code: 'invalid', diagnostics: 'Request body is not valid JSON' });
    case 'entity.too.large':
      return new HttpError(413, { code: 'too-long', diagnostics: `Request body exceeds the limit of ${e.limit} bytes` });
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return new HttpError(415, { code: 'not-supported', diagnostics: 'Unsupported content encoding or charset' });
    case 'request.aborted':
      return new HttpError(400, { code: 'incomplete', diagnostics: 'Request aborted by the client' });
    default:
      break;
  }
  const status = e?.status ?? e?.statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500 && e.expose) {
    return new HttpError(status, { code: 'invalid', diagnostics: 'Invalid request' });
  }
  return new HttpError(500, { code: 'exception', diagnostics: 'Internal server error' });
}

export interface ErrorLogger {
  error(obj: object, msg?: string): void;
}

/** The single place where errors become responses. */
export function errorMiddleware(log: ErrorLogger): ErrorRequestHandler {
  return (err, _req, res, _next) => {
    const httpError = toHttpError(err);
    if (httpError.status >= 500) log.error({ err }, 'request failed');
    if (res.headersSent) return;
    res.status(httpError.status);
    for (const [k, v] of Object.entries(httpError.headers)) res.setHeader(k, v);
    res.type('application/fhir+json').send(JSON.stringify(operationOutcome(httpError.issues)));
  };
}

/** fhirpath.js throws plain strings for some errors: always get a message. */
export function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
