// One hook call as a self-contained task: the raw body bytes in, the cards (or the error's OperationOutcome
// issues) out, as structured-clone data, so it can cross a worker-thread boundary. Parses, then answers through
// answerHookCall; it runs in an evaluation thread (eval-worker.ts) or inline (tests, the CLI).
import type { Card } from './evaluation/cards';
import type { Registry } from './definitions/types';
import { errorMessage, HttpError, type IssueInput } from './errors';
import { recordingCauses, type KeyFetchOutcome, type PrefetchFetcher } from './fhir/prefetch';
import { answerHookCall } from './hook-call';
import type { RequestValidator } from './http/hook-request';
import { stripData } from './logger';

export interface HookTask {
  serviceId: string;
  /** The request body as received (UTF-8 JSON); transferred, not copied, into the thread. */
  body: ArrayBuffer | Uint8Array;
  /** The server clock when the request arrived (one "now" per call). */
  now: number;
  /** Base URL of this service as the caller reached it, for the cards' SMART links. */
  baseUrl?: string;
}

/** What the caller logs besides status and cards; never request data. */
export interface HookTaskLog {
  hookInstance?: string;
  topics?: string[];
  /** Named expressions that failed on this record, their messages stripped of data. */
  failures?: { name: string; message: string }[];
  /** Prefetch keys the FHIR fallback could not read, with the precise cause (the caller only sees a generic reason). */
  fhir?: Record<string, string>;
  /** Every key the FHIR fallback fetched, with its outcome (no data): the caller's metrics count them. */
  fetched?: Record<string, KeyFetchOutcome>;
  /** Times a library wrote to the (silenced) console during the call. */
  consoleWrites?: number;
  /** An unexpected error (a 500), with its stack, for the log only. */
  error?: { message: string; stack?: string };
}

/** A task that ended in an HTTP error: its status, the OperationOutcome issues and the headers (e.g. Retry-After). */
export interface TaskFailure {
  status: number;
  issues: IssueInput[];
  headers: Record<string, string>;
}

export type HookTaskResult = ({ status: 200; cards: Card[]; patientId?: string } & HookTaskLog) | (TaskFailure & HookTaskLog);

export interface HookTaskDeps {
  registry: Registry;
  requestValidator: RequestValidator;
  /** FHIR fallback for prefetch keys the client did not send. */
  fetcher?: PrefetchFetcher;
}

const decoder = new TextDecoder('utf-8', { fatal: true });

function hookInstanceOf(body: unknown): string | undefined {
  const h = (body as { hookInstance?: unknown } | null)?.hookInstance;
  return typeof h === 'string' && h.length <= 64 ? h : undefined;
}

/**
 * Runs a task's work: an HttpError becomes its status and issues, anything else a 500 whose message (stripped of data)
 * and stack are for the log only. `log` is what the work noted before it ended, kept in either case.
 */
export async function settleTask<T extends { status: 200 }, L extends object>(log: L, work: () => Promise<T>): Promise<(T & L) | (TaskFailure & L & Pick<HookTaskLog, 'error'>)> {
  try {
    return { ...(await work()), ...log };
  } catch (e) {
    if (e instanceof HttpError) return { status: e.status, issues: e.issues, headers: e.headers, ...log };
    return {
      status: 500,
      issues: [{ code: 'exception', diagnostics: 'Internal server error' }],
      headers: {},
      ...log,
      error: { message: stripData(errorMessage(e)), stack: e instanceof Error ? e.stack?.split('\n').slice(1, 8).join('\n') : undefined },
    };
  }
}

/** A task's unexpected error as an Error again on the caller's side, with the thread's stack (for the log). */
export function taskError(error: NonNullable<HookTaskLog['error']>): Error {
  return Object.assign(new Error(error.message), { stack: `Error: ${error.message}\n${error.stack ?? ''}` });
}

export async function runHookTask(task: HookTask, deps: HookTaskDeps): Promise<HookTaskResult> {
  const log: HookTaskLog = {};
  return settleTask(log, async () => {
    const service = deps.registry.services.get(task.serviceId);
    if (!service) throw new HttpError(404, { code: 'not-found', diagnostics: `No CDS service with id "${task.serviceId}"` });
    let body: unknown;
    try {
      // No body at all reads as "not a JSON object" (the validator says so), as express.json left it.
      body = task.body.byteLength === 0 ? undefined : JSON.parse(decoder.decode(task.body));
    } catch {
      throw new HttpError(400, { code: 'invalid', diagnostics: 'Request body is not valid JSON' });
    }
    log.hookInstance = hookInstanceOf(body);
    const causes: Record<string, string> = {};
    const fetched: Record<string, KeyFetchOutcome> = {};
    const result = await answerHookCall(service, body, task.now, {
      registry: deps.registry,
      requestValidator: deps.requestValidator,
      fetcher: deps.fetcher && recordingCauses(deps.fetcher, causes, fetched),
    }, { baseUrl: task.baseUrl }).finally(() => {
      if (Object.keys(causes).length) log.fhir = causes;
      if (Object.keys(fetched).length) log.fetched = fetched;
    });
    if (result.failures.length) log.failures = result.failures.map((f) => ({ name: f.name, message: stripData(f.message) }));
    log.topics = result.cards.map((c) => c.source.topic.code);
    return { status: 200 as const, cards: result.cards, patientId: result.request.context.patientId };
  });
}
