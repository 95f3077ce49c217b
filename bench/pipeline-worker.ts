// Worker thread: one instrumented pass of the hook pipeline over a request body, reporting every stage and
// every named expression as it finishes, so the parent can stop a pass that overruns its budget (a very
// large chart) and still say where the time went.
import path from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';
import type { ServiceDefinition } from '../src/definitions/types';
import type { Evaluation } from '../src/evaluation/evaluate';
import { loadServiceModules, ROOT } from './service-modules';
import { clock, msSince } from './stats';

export interface PassInput {
  body: string;
  serviceId: string;
}

export type PassMessage =
  | { type: 'ready'; registryMs: number }
  | { type: 'stage'; stage: 'parse' | 'validate' | 'prefetch' | 'evaluate' | 'render' | 'stringify'; ms: number }
  | { type: 'index'; ms: number }
  | { type: 'expression-start'; name: string }
  | { type: 'expression'; name: string; ms: number }
  | { type: 'done'; topics: string[]; failures: string[] };

async function runPass(): Promise<void> {
  const port = parentPort;
  if (!port) throw new Error('pipeline-worker must run as a worker thread');
  const post = (m: PassMessage) => port.postMessage(m);
  const { body, serviceId } = workerData as PassInput;
  const mods = loadServiceModules();
  const started = clock();
  const registry = mods.definitions.loadRegistry(path.join(ROOT, 'cds-services'));
  const service = registry.services.get(serviceId) as ServiceDefinition;
  post({ type: 'ready', registryMs: msSince(started) });

  let t = clock();
  const parsed: unknown = JSON.parse(body);
  post({ type: 'stage', stage: 'parse', ms: msSince(t) });
  t = clock();
  const request = mods.request.createRequestValidator().validateHookRequest(service.hook, parsed);
  post({ type: 'stage', stage: 'validate', ms: msSince(t) });
  t = clock();
  const prefetch = await mods.prefetch.resolvePrefetch(service, request);
  post({ type: 'stage', stage: 'prefetch', ms: msSince(t) });

  // The loop of evaluateService, with a clock around each expression.
  const evaluateStart = clock();
  const index = mods.recordIndex.buildRecordIndex(prefetch.values, registry.valueSets);
  post({ type: 'index', ms: msSince(evaluateStart) });
  const referenceable = new Map<string, Record<string, unknown>>();
  for (const list of index.keys.values()) {
    for (const r of list as Record<string, unknown>[]) if (typeof r.resourceType === 'string' && typeof r.id === 'string') referenceable.set(`${r.resourceType}/${r.id}`, r);
  }
  const initial: Record<string, unknown> = { unavailable: Object.keys(prefetch.unavailable) };
  for (const key of Object.keys(service.prefetch)) initial[key] = index.keys.get(key) ?? mods.recordIndex.resourcesOf(undefined);
  const vars = mods.expressions.createVariables({ now: Date.now(), index, referenceable }, initial);
  const context = request.context as Record<string, unknown>;
  const failures: { name: string; message: string }[] = [];
  for (const named of service.expressions) {
    post({ type: 'expression-start', name: named.name });
    const te = clock();
    try {
      vars[named.name] = named.expression.evaluate(context, vars);
    } catch (e) {
      failures.push({ name: named.name, message: (e instanceof Error ? e.message : String(e)) });
      vars[named.name] = [];
    }
    post({ type: 'expression', name: named.name, ms: msSince(te) });
  }
  post({ type: 'stage', stage: 'evaluate', ms: msSince(evaluateStart) });
  const evaluation: Evaluation = { context, vars, failures };
  t = clock();
  const cards = mods.cards.renderCards(service, evaluation);
  post({ type: 'stage', stage: 'render', ms: msSince(t) });
  t = clock();
  JSON.stringify({ cards });
  post({ type: 'stage', stage: 'stringify', ms: msSince(t) });
  post({ type: 'done', topics: cards.map((c) => c.source.topic.code), failures: failures.map((f) => `${f.name}: ${f.message}`) });
}

runPass().catch((e: unknown) => {
  throw e instanceof Error ? e : new Error(String(e));
});
