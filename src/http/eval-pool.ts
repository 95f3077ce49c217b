// Where hook tasks and the SMART app's work-up tasks run: a pool of evaluation threads (piscina) with a deadline per
// call that holds even for synchronous FHIRPath code, since a thread past its deadline is terminated and replaced; or
// inline, for tests and tools that need no deadline. Each answer is a task result, errors included, so callers have
// one path.
import path from 'node:path';
import { MessageChannel } from 'node:worker_threads';
import { Piscina } from 'piscina';
import type { Logger } from 'pino';
import type { EvalWorkerData, Pooled } from '../eval-worker';
import type { ServerConfig } from '../config';
import type { FhirPathEngine } from '../fhirpath/runtime';
import type { FhirFetchSettings } from '../fhir/client';
import { runHookTask, type HookTask, type HookTaskDeps, type HookTaskResult, type TaskFailure } from '../hook-task';
import { APP_SERVICE_ID, createWorkupRunner, type WorkupTask, type WorkupTaskResult } from '../workup-task';
import { errorMessage } from '../errors';

export interface HookEvaluator {
  evaluate(task: HookTask): Promise<HookTaskResult>;
  /** The SMART app's work-up for one patient (POST /app/api/workup). */
  workup(task: WorkupTask): Promise<WorkupTaskResult>;
  close(): Promise<void>;
}

/** Evaluates on the calling thread: no deadline (a slow record blocks the event loop). Tests and tools only. */
export function createInlineEvaluator(deps: HookTaskDeps): HookEvaluator {
  return { evaluate: (task) => runHookTask(task, deps), workup: createWorkupRunner(deps), close: async () => undefined };
}

export interface EvalPoolOptions {
  threads: number;
  /** Deadline of one call once its thread has started it. */
  timeoutMs: number;
  /** Calls that may wait for a thread; more get 503 at once. */
  maxQueue: number;
  /** Heap limit of each thread: a record that needs more kills only its thread. */
  heapMb: number;
  /** Young generation of each thread (V8's default when absent). */
  youngMb?: number;
  definitionsDir: string;
  engine?: FhirPathEngine;
  fhir?: FhirFetchSettings;
  log: Pick<Logger, 'warn' | 'error'>;
  /** The thread entry point; defaults to the built eval-worker.js next to this module's folder. */
  filename?: string;
  /** Called when a thread starts a call (its deadline starts then), with the call's service and body size. */
  onStart?: (call: { serviceId: string; bytes: number }) => void;
  /** Called when a call passed its deadline (its thread was replaced). */
  onTimeout?: (serviceId: string) => void;
}

function unavailable(diagnostics: string, retryAfterS: number): TaskFailure {
  return { status: 503, issues: [{ code: 'transient', diagnostics }], headers: { 'Retry-After': String(retryAfterS) } };
}

/** A whole ArrayBuffer holding exactly the body, safe to transfer (never a slice of Node's shared buffer pool). */
export function ownBuffer(body: Uint8Array): ArrayBuffer {
  if (body.byteOffset === 0 && body.byteLength === body.buffer.byteLength && body.buffer instanceof ArrayBuffer) return body.buffer;
  const copy = new Uint8Array(body.byteLength);
  copy.set(body);
  return copy.buffer;
}

export interface EvalPool extends HookEvaluator {
  /** Starts the threads (each loads the definitions); the first call starts them otherwise. */
  start(): void;
}

export function createEvalPool(options: EvalPoolOptions): EvalPool {
  const workerData: EvalWorkerData = { definitionsDir: options.definitionsDir, engine: options.engine, fhir: options.fhir };
  let pool: Piscina | undefined;
  const start = (): Piscina => {
    if (pool) return pool;
    pool = new Piscina({
      filename: options.filename ?? path.join(__dirname, '..', 'eval-worker.js'),
      minThreads: options.threads,
      maxThreads: options.threads,
      idleTimeout: Infinity,
      maxQueue: options.maxQueue,
      resourceLimits: { maxOldGenerationSizeMb: options.heapMb, ...(options.youngMb ? { maxYoungGenerationSizeMb: options.youngMb } : {}) },
      // Message events instead of Atomics.wait between calls: the thread's event loop keeps running, so V8's
      // scheduled GC work (scavenge and marking tasks) runs between calls rather than inside the next one, and the
      // FHIR fallback's sockets and timers are never frozen in a wait. Measured in the README (Performance).
      atomics: 'disabled',
      workerData,
    });
    // Errors of idle threads (e.g. a definitions load failing in a replacement thread): logged, never fatal here.
    pool.on('error', (e: unknown) => options.log.error({ err: e }, 'evaluation thread failed'));
    return pool;
  };
  const retryAfterS = Math.max(1, Math.ceil(options.timeoutMs / 1000));

  /** Runs `task` with the worker's export `name` under the deadline; `what` names the call in the log. */
  async function run<T>(name: 'default' | 'workup', what: { serviceId: string; kind: string }, task: object, transfer: ArrayBuffer[]): Promise<T | TaskFailure> {
    // Counted before the transfer detaches the buffers.
    const bytes = transfer.reduce((n, buffer) => n + buffer.byteLength, 0);
    const { port1, port2 } = new MessageChannel();
    const controller = new AbortController();
    let started: bigint | undefined;
    let timer: NodeJS.Timeout | undefined;
    port1.once('message', () => {
      started = process.hrtime.bigint();
      timer = setTimeout(() => controller.abort(), options.timeoutMs);
      options.onStart?.({ serviceId: what.serviceId, bytes });
    });
    const pooled: Pooled<object> = { ...task, started: port2 };
    try {
      return (await start().run(pooled, { name, transferList: [...transfer, port2], signal: controller.signal })) as T;
    } catch (e) {
      const durationMs = started === undefined ? 0 : Number((Number(process.hrtime.bigint() - started) / 1e6).toFixed(1));
      if (controller.signal.aborted) {
        options.log.warn({ service: what.serviceId, durationMs, timeoutMs: options.timeoutMs }, `${what.kind} evaluation passed its deadline; its thread was replaced`);
        options.onTimeout?.(what.serviceId);
        return unavailable(`The evaluation did not finish within ${options.timeoutMs} ms; try again later`, retryAfterS);
      }
      if (/queue is at limit/i.test(errorMessage(e))) {
        options.log.warn({ service: what.serviceId, maxQueue: options.maxQueue }, 'evaluation queue full; call refused');
        return unavailable('The service is busy; try again later', retryAfterS);
      }
      // A thread that died under the call (e.g. its heap limit): the pool replaces it.
      options.log.error({ service: what.serviceId, durationMs, err: e }, 'evaluation thread failed during a call');
      return unavailable('The evaluation could not be completed; try again later', retryAfterS);
    } finally {
      clearTimeout(timer);
      port1.close();
    }
  }

  return {
    start: () => void start(),
    evaluate(task) {
      const body = task.body instanceof ArrayBuffer ? task.body : ownBuffer(task.body);
      return run<HookTaskResult>('default', { serviceId: task.serviceId, kind: 'hook' }, { ...task, body }, [body]);
    },
    workup(task) {
      return run<WorkupTaskResult>('workup', { serviceId: APP_SERVICE_ID, kind: 'work-up' }, task, []);
    },
    close: async () => {
      await pool?.destroy();
    },
  };
}

/** The server's pool, sized and limited by the configuration (CDS_EVAL_*), with the FHIR fallback in the threads. */
export function createServerEvaluator(config: ServerConfig & { readonly fhir: FhirFetchSettings }, log: EvalPoolOptions['log'], onTimeout?: (serviceId: string) => void): EvalPool {
  return createEvalPool({
    threads: config.evalThreads,
    timeoutMs: config.evalTimeoutMs,
    maxQueue: config.evalQueue,
    heapMb: config.evalHeapMb,
    youngMb: config.evalYoungMb,
    definitionsDir: config.definitionsDir,
    engine: config.fhirpathEngine,
    fhir: config.fhir,
    log,
    onTimeout,
  });
}
