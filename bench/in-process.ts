// In-process timing of one hook call without HTTP, stage by stage (parse, validate, prefetch, evaluate,
// render, serialise), and a per-expression breakdown of evaluateService obtained by running the same
// evaluation loop over `service.expressions` with a clock around each expression.
import { Worker } from 'node:worker_threads';
import type { Registry, ServiceDefinition } from '../src/definitions/types';
import type { PassInput, PassMessage } from './pipeline-worker';
import type { ServiceModules } from './service-modules';
import { clock, median, msSince } from './stats';

export const STAGES = ['parse', 'validate', 'prefetch', 'evaluate', 'render', 'stringify'] as const;
export type Stage = (typeof STAGES)[number];

export interface StageTimings {
  /** Median of each stage, ms. */
  stages: Record<Stage, number>;
  /** Median of resolvePrefetch + evaluateService + renderCards per iteration, ms. */
  core: number;
  /** Median of the whole pipeline per iteration, ms. */
  total: number;
  iterations: number;
  /** True when the only sample is the first (cold) iteration. */
  cold: boolean;
  /** Card topics of the last iteration, in order. */
  topics: string[];
  /** Expressions that threw (should be none). */
  failures: string[];
  /** Set when the pass was stopped at its deadline: `total` is then a lower bound. */
  stopped?: { afterMs: number; running?: { name: string; ms: number } };
}

export interface IterationBudget {
  warmup: number;
  maxIterations: number;
  /** Stop after this much measured time (at least `minIterations` run). */
  maxMs: number;
  minIterations: number;
  /** A warm-up iteration slower than this is kept as the only sample (a very large chart: no time for more). */
  coldSampleAboveMs?: number;
}

interface PassSample {
  stages: Record<Stage, number>;
  core: number;
  total: number;
  topics: string[];
  failures: string[];
}

/** One call through the pipeline, as the HTTP handler makes it (after the body arrived). */
async function runOnce(mods: ServiceModules, registry: Registry, service: ServiceDefinition, body: string): Promise<PassSample> {
  const t0 = clock();
  const parsed: unknown = JSON.parse(body);
  const t1 = clock();
  const request = mods.request.createRequestValidator().validateHookRequest(service.hook, parsed);
  const t2 = clock();
  const prefetch = await mods.prefetch.resolvePrefetch(service, request);
  const t3 = clock();
  const evaluation = mods.evaluation.evaluateService(service, request, prefetch, Date.now(), registry.valueSets);
  const t4 = clock();
  const cards = mods.cards.renderCards(service, evaluation);
  const t5 = clock();
  JSON.stringify({ cards });
  const t6 = clock();
  const ms = (a: bigint, b: bigint) => Number(b - a) / 1e6;
  return {
    stages: { parse: ms(t0, t1), validate: ms(t1, t2), prefetch: ms(t2, t3), evaluate: ms(t3, t4), render: ms(t4, t5), stringify: ms(t5, t6) },
    core: ms(t2, t5),
    total: ms(t0, t6),
    topics: cards.map((c) => c.source.topic.code),
    failures: evaluation.failures.map((f) => `${f.name}: ${f.message}`),
  };
}

function summarise(samples: readonly PassSample[], cold: boolean): StageTimings {
  const last = samples[samples.length - 1];
  const stages = Object.fromEntries(STAGES.map((st) => [st, median(samples.map((x) => x.stages[st]))])) as Record<Stage, number>;
  return {
    stages,
    core: median(samples.map((x) => x.core)),
    total: median(samples.map((x) => x.total)),
    iterations: samples.length,
    cold,
    topics: last?.topics ?? [],
    failures: last?.failures ?? [],
  };
}

/** Runs the pipeline on the body text until the budget is spent; medians per stage. */
export async function timePipeline(mods: ServiceModules, registry: Registry, service: ServiceDefinition, body: string, budget: IterationBudget): Promise<StageTimings> {
  const samples: PassSample[] = [];
  const started = clock();
  for (let i = 0; ; i++) {
    const measured = i - budget.warmup;
    if (measured >= budget.maxIterations) break;
    if (measured >= budget.minIterations && msSince(started) > budget.maxMs) break;
    const sample = await runOnce(mods, registry, service, body);
    if (measured < 0) {
      if (budget.coldSampleAboveMs === undefined || sample.total <= budget.coldSampleAboveMs) continue;
      return summarise([sample], true);
    }
    samples.push(sample);
  }
  return summarise(samples, false);
}

/**
 * The same for several bodies in rounds (one call of each per round), so that a change in the
 * machine's load during the measurement weighs on every size alike: used for the growth ratios.
 */
export async function timeInterleaved(mods: ServiceModules, registry: Registry, service: ServiceDefinition, bodies: readonly string[], budget: IterationBudget): Promise<StageTimings[]> {
  const samples: PassSample[][] = bodies.map(() => []);
  const started = clock();
  for (let round = 0; ; round++) {
    const measured = round - budget.warmup;
    if (measured >= budget.maxIterations) break;
    if (measured >= budget.minIterations && msSince(started) > budget.maxMs) break;
    for (const [i, body] of bodies.entries()) {
      const sample = await runOnce(mods, registry, service, body);
      if (measured >= 0) samples[i]?.push(sample);
    }
  }
  return samples.map((list) => summarise(list, false));
}

export interface ExpressionCost {
  name: string;
  /** Median ms per evaluation. */
  ms: number;
  /** Share of the summed medians of all expressions. */
  share: number;
}

export interface ExpressionBreakdown {
  /** Median ms of building the record index (part of evaluateService). */
  indexMs: number;
  /** Sum of the per-expression medians, ms. */
  expressionsMs: number;
  slowest: ExpressionCost[];
  iterations: number;
}

/** Resources a reference may point to (what evaluateService offers medication()); no draft orders in patient-view. */
function referenceable(keys: ReadonlyMap<string, Record<string, unknown>[]>): Map<string, Record<string, unknown>> {
  const map = new Map<string, Record<string, unknown>>();
  for (const list of keys.values()) {
    for (const r of list) if (typeof r.resourceType === 'string' && typeof r.id === 'string') map.set(`${r.resourceType}/${r.id}`, r);
  }
  return map;
}

/**
 * The evaluation loop of evaluateService, with a clock around each named expression. The body is parsed
 * afresh for every pass, as in the server: evaluating one long-lived parsed request again and again would
 * leave out the garbage collection that the fresh request objects cost.
 */
export async function breakDownExpressions(
  mods: ServiceModules,
  registry: Registry,
  service: ServiceDefinition,
  body: string,
  iterations: number,
  top: number,
): Promise<ExpressionBreakdown> {
  const perName = new Map<string, number[]>();
  const indexTimes: number[] = [];
  for (let it = 0; it < iterations + 1; it++) {
    const request = mods.request.createRequestValidator().validateHookRequest(service.hook, JSON.parse(body));
    const prefetch = await mods.prefetch.resolvePrefetch(service, request);
    const now = Date.now();
    const t0 = clock();
    const index = mods.recordIndex.buildRecordIndex(prefetch.values, registry.valueSets);
    const indexMs = msSince(t0);
    const scope = { now, index, referenceable: referenceable(index.keys as ReadonlyMap<string, Record<string, unknown>[]>) };
    const initial: Record<string, unknown> = { unavailable: Object.keys(prefetch.unavailable) };
    for (const key of Object.keys(service.prefetch)) initial[key] = index.keys.get(key) ?? mods.recordIndex.resourcesOf(undefined);
    const vars = mods.expressions.createVariables(scope, initial);
    const context = request.context as Record<string, unknown>;
    const warm = it === 0;
    if (!warm) indexTimes.push(indexMs);
    for (const named of service.expressions) {
      const t = clock();
      try {
        vars[named.name] = named.expression.evaluate(context, vars);
      } catch {
        vars[named.name] = [];
      }
      const ms = msSince(t);
      if (warm) continue;
      const list = perName.get(named.name);
      if (list) list.push(ms);
      else perName.set(named.name, [ms]);
    }
  }
  const costs = [...perName].map(([name, times]) => ({ name, ms: median(times) }));
  const sum = costs.reduce((s, c) => s + c.ms, 0);
  const slowest = costs
    .sort((a, b) => b.ms - a.ms)
    .slice(0, top)
    .map((c) => ({ ...c, share: sum > 0 ? c.ms / sum : 0 }));
  return { indexMs: median(indexTimes), expressionsMs: sum, slowest, iterations };
}

export interface BoundedPass {
  /** Stage times of the stages that finished, ms. */
  stages: Partial<Record<Stage, number>>;
  indexMs?: number;
  /** Every expression that finished, ms (one cold pass). */
  expressions: ExpressionCost[];
  /** The expression still running when the pass was stopped, and for how long it had run. */
  running?: { name: string; ms: number };
  /** Wall time of the pass (to the stop when stopped), ms. */
  elapsedMs: number;
  completed: boolean;
  topics: string[];
  failures: string[];
  registryMs: number;
}

/**
 * One cold, instrumented pass in a worker thread (pipeline-worker.js), stopped after `deadlineMs`
 * (definitions loading excluded): for a chart so large that one evaluation may take minutes.
 */
export function runBoundedPass(workerFile: string, body: string, serviceId: string, deadlineMs: number): Promise<BoundedPass> {
  const stages: Partial<Record<Stage, number>> = {};
  const times = new Map<string, number>();
  let indexMs: number | undefined;
  let current: { name: string; started: bigint } | undefined;
  let topics: string[] = [];
  let failures: string[] = [];
  let registryMs = 0;
  let passStart: bigint | undefined;
  const worker = new Worker(workerFile, { workerData: { body, serviceId } satisfies PassInput });
  return new Promise<BoundedPass>((resolve, reject) => {
    let timer: NodeJS.Timeout | undefined;
    let settled = false;
    const finish = (completed: boolean) => {
      if (settled) return;
      settled = true;
      if (timer) clearTimeout(timer);
      const elapsedMs = passStart === undefined ? 0 : msSince(passStart);
      const sum = [...times.values()].reduce((s, v) => s + v, 0);
      const running = !completed && current ? { name: current.name, ms: msSince(current.started) } : undefined;
      const expressions = [...times].map(([name, ms]) => ({ name, ms, share: sum > 0 ? ms / sum : 0 })).sort((a, b) => b.ms - a.ms);
      void worker.terminate();
      resolve({ stages, ...(indexMs !== undefined ? { indexMs } : {}), expressions, ...(running ? { running } : {}), elapsedMs, completed, topics, failures, registryMs });
    };
    worker.on('message', (m: PassMessage) => {
      switch (m.type) {
        case 'ready':
          registryMs = m.registryMs;
          passStart = clock();
          timer = setTimeout(() => finish(false), deadlineMs);
          break;
        case 'stage':
          stages[m.stage] = m.ms;
          break;
        case 'index':
          indexMs = m.ms;
          break;
        case 'expression-start':
          current = { name: m.name, started: clock() };
          break;
        case 'expression':
          times.set(m.name, m.ms);
          current = undefined;
          break;
        case 'done':
          topics = m.topics;
          failures = m.failures;
          finish(true);
          break;
      }
    });
    worker.on('error', (e) => {
      if (!settled) {
        settled = true;
        if (timer) clearTimeout(timer);
        reject(e);
      }
    });
  });
}
