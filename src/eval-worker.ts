// Entry point of an evaluation thread (piscina): loads the registry once per thread, then answers each hook task
// through runHookTask (parse, validate, prefetch with the FHIR fallback, evaluate, render) and each SMART work-up task
// through the work-up runner (export `workup`). The main thread can terminate the thread at the deadline; nothing here
// needs to cooperate.
import type { MessagePort } from 'node:worker_threads';
import { workerData } from 'node:worker_threads';
import { silenceConsole } from './console-guard';
import { loadRegistry } from './definitions/load';
import type { FhirPathEngine } from './fhirpath/runtime';
import { fetchPrefetchKeys, type FhirFetchSettings } from './fhir/client';
import { createRequestValidator } from './http/hook-request';
import { runHookTask, type HookTask, type HookTaskDeps, type HookTaskResult } from './hook-task';
import { createWorkupRunner, type WorkupTask, type WorkupTaskResult } from './workup-task';

export interface EvalWorkerData {
  definitionsDir: string;
  engine?: FhirPathEngine;
  /** FHIR fallback settings; without them keys the client did not send are unavailable. */
  fhir?: FhirFetchSettings;
}

/** A task as the pool sends it: the task plus a port on which the thread says it has started. */
export type Pooled<T> = T & { started: MessagePort };

let consoleWrites = 0;
silenceConsole(() => consoleWrites++);

const data = workerData as EvalWorkerData;
const fhir = data.fhir;
const deps: HookTaskDeps = {
  registry: loadRegistry(data.definitionsDir, data.engine),
  requestValidator: createRequestValidator(),
  fetcher: fhir ? (request, templates) => fetchPrefetchKeys(request, templates, fhir) : undefined,
};

const runWorkup = createWorkupRunner(deps);

function begin(task: Pooled<object>): void {
  task.started.postMessage('started');
  task.started.close();
  consoleWrites = 0;
}

export default async function evaluateInThread(task: Pooled<HookTask>): Promise<HookTaskResult> {
  begin(task);
  const result = await runHookTask(task, deps);
  return consoleWrites > 0 ? { ...result, consoleWrites } : result;
}

export async function workup(task: Pooled<WorkupTask>): Promise<WorkupTaskResult> {
  begin(task);
  return runWorkup(task);
}
