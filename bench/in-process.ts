// In-process timing of one hook call without HTTP, stage by stage (parse, validate, prefetch, evaluate,
// render, serialise), and a per-expression breakdown of evaluateService obtained by running the same
// evaluation loop over `service.expressions` with a clock around each expression.
import type { Registry, ServiceDefinition } from '../src/definitions';
import type { HookRequest } from '../src/hook-request';
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
  /** Card topics of the last iteration, in order. */
  topics: string[];
  /** Expressions that threw (should be none). */
  failures: string[];
}

export interface IterationBudget {
  warmup: number;
  maxIterations: number;
  /** Stop after this much measured time (at least `minIterations` run). */
  maxMs: number;
  minIterations: number;
}

/** Runs the pipeline on the body text until the budget is spent; medians per stage. */
export async function timePipeline(mods: ServiceModules, registry: Registry, service: ServiceDefinition, body: string, budget: IterationBudget): Promise<StageTimings> {
  const samples: Record<Stage, number[]> = { parse: [], validate: [], prefetch: [], evaluate: [], render: [], stringify: [] };
  const cores: number[] = [];
  const totals: number[] = [];
  let topics: string[] = [];
  let failures: string[] = [];
  const started = clock();
  for (let i = 0; ; i++) {
    const measured = i - budget.warmup;
    if (measured >= budget.maxIterations) break;
    if (measured >= budget.minIterations && msSince(started) > budget.maxMs) break;
    const t0 = clock();
    const parsed: unknown = JSON.parse(body);
    const t1 = clock();
    const request = mods.request.validateHookRequest(service.hook, parsed);
    const t2 = clock();
    const prefetch = await mods.prefetch.resolvePrefetch(service, request);
    const t3 = clock();
    const evaluation = mods.evaluation.evaluateService(service, request, prefetch, Date.now(), registry.valueSets);
    const t4 = clock();
    const cards = mods.cards.renderCards(service, evaluation);
    const t5 = clock();
    JSON.stringify({ cards });
    const t6 = clock();
    if (measured < 0) continue;
    const ms = (a: bigint, b: bigint) => Number(b - a) / 1e6;
    samples.parse.push(ms(t0, t1));
    samples.validate.push(ms(t1, t2));
    samples.prefetch.push(ms(t2, t3));
    samples.evaluate.push(ms(t3, t4));
    samples.render.push(ms(t4, t5));
    samples.stringify.push(ms(t5, t6));
    cores.push(ms(t2, t5));
    totals.push(ms(t0, t6));
    topics = cards.map((c) => c.source.topic.code);
    failures = evaluation.failures.map((f) => `${f.name}: ${f.message}`);
  }
  const stages = Object.fromEntries(STAGES.map((s) => [s, median(samples[s])])) as Record<Stage, number>;
  return { stages, core: median(cores), total: median(totals), iterations: totals.length, topics, failures };
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

/** The evaluation loop of evaluateService, with a clock around each named expression. */
export async function breakDownExpressions(
  mods: ServiceModules,
  registry: Registry,
  service: ServiceDefinition,
  request: HookRequest,
  iterations: number,
  top: number,
): Promise<ExpressionBreakdown> {
  const perName = new Map<string, number[]>();
  const indexTimes: number[] = [];
  for (let it = 0; it < iterations + 1; it++) {
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
