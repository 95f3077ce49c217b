// `npm run bench`: generates the seeded charts, times the service in-process, drives the built service
// (1 and 2 workers) and the bare-Express floor over HTTP with the same bodies, checks the targets and
// writes the Markdown report to bench/results.md. Every run is budgeted so the whole takes < 5 minutes.
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { ServiceDefinition } from '../src/definitions/types';
import { breakDownExpressions, runBoundedPass, STAGES, timeInterleaved, timePipeline, type BoundedPass, type IterationBudget, type StageTimings } from './in-process';
import { BODY_LIMIT, postOnce, runLoad, startServer, type LoadResult, type ServerHandle, type ServerKind } from './http-load';
import { fmtDuration, renderReport, type HttpRow, type MachineInfo, type Report, type SizeInfo, type TargetRow } from './report';
import { loadServiceModules, ROOT } from './service-modules';
import { searchResources } from '../demo/fhir-search';
import { clock, collectGarbage, msSince } from './stats';
import { buildHookRequest, CORE_OTHER_RESOURCES, countPrefetched, generatePatient, type PatientSpec } from './synthetic-patient';

const SEED = 20240611;
const SERVICE_ID = 'iph-patient-view';
/** Seconds of each duration-based autocannon run. */
const DURATION_S = Number(process.env.BENCH_DURATION ?? 6);
/** Longest a single HTTP run may take (estimated from the in-process time) before it is skipped. */
const RUN_CAP_S = Number(process.env.BENCH_RUN_CAP ?? 20);
/** Seconds the whole run (after the build) may take; runs that would overrun it are skipped. */
const BUDGET_S = Number(process.env.BENCH_BUDGET ?? 240);
/** Seconds one in-process pass over the L chart may take before it is stopped. */
const PASS_DEADLINE_S = Number(process.env.BENCH_PASS_DEADLINE ?? 25);
const DEFAULT_BODY_LIMIT_BYTES = 5 * 1024 * 1024;
const RESULTS_FILE = path.join(ROOT, 'bench', 'results.md');

type SizeName = 'S' | '2xS' | '4xS' | 'M' | 'L';

/** Only the serialised body is kept (outside the JS heap): live request objects of the L chart would slow every GC. */
interface SizeCase {
  name: SizeName;
  spec: PatientSpec;
  body: Buffer;
  resources: number;
  observations: number;
}

/** k times the typical chart: 300·k resources, 14·k of them unrelated problems, the rest lab results. */
function typicalChart(k: number): PatientSpec {
  const otherConditions = 14 * k;
  return { observations: 300 * k - CORE_OTHER_RESOURCES - otherConditions, otherConditions, seed: SEED };
}

const SIZE_SPECS: { name: SizeName; spec: PatientSpec }[] = [
  { name: 'S', spec: typicalChart(1) },
  { name: '2xS', spec: typicalChart(2) },
  { name: '4xS', spec: typicalChart(4) },
  { name: 'M', spec: { observations: 2000, otherConditions: 20, seed: SEED } },
  { name: 'L', spec: { observations: 20000, otherConditions: 30, seed: SEED } },
];

/** S, 2xS and 4xS are timed in rounds (growth ratios); M and L alone. */
const GROWTH_BUDGET: IterationBudget = { warmup: 3, maxIterations: 100, maxMs: 7000, minIterations: 5 };
const M_BUDGET: IterationBudget = { warmup: 2, maxIterations: 30, maxMs: 4000, minIterations: 3, coldSampleAboveMs: 5000 };
const L_BUDGET: IterationBudget = { warmup: 1, maxIterations: 10, maxMs: 8000, minIterations: 1, coldSampleAboveMs: 3000 };

function progress(message: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}

function machineInfo(): MachineInfo {
  let cpuModel = os.cpus()[0]?.model ?? 'unknown CPU';
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'));
    if (m?.[1]) cpuModel = m[1].trim();
  } catch {
    // not Linux: os.cpus() is good enough
  }
  return {
    cpuModel,
    nproc: os.availableParallelism(),
    node: process.version,
    os: `${os.type()} ${os.release()}`,
    memoryGb: os.totalmem() / 1024 ** 3,
    loadAverage: os.loadavg().map((l) => l.toFixed(2)).join(' / '),
    date: new Date().toISOString().slice(0, 16).replace('T', ' ') + ' UTC',
  };
}

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (!address || typeof address === 'string') throw new Error('no free port');
  return address.port;
}

type RunPlan = { duration?: number; amount?: number; timeoutS: number; estimatedS: number } | { skip: string };

/**
 * How to measure one (server, size, connections) within the budget: a fixed duration when it yields
 * enough answers, else a fixed number of requests, else nothing (the estimate exceeds RUN_CAP_S).
 * `perRequestMs` is the single-threaded cost of one request.
 */
function planRun(perRequestMs: number, connections: number, workers: number): RunPlan {
  if (!Number.isFinite(perRequestMs)) return { skip: `one request did not finish within ${PASS_DEADLINE_S} s in-process` };
  const parallel = Math.max(1, Math.min(workers, connections, os.availableParallelism()));
  const latencyMs = Math.max(1, connections / parallel) * perRequestMs;
  // Generous: a slow answer is a latency to report, not an error; the run's hard stop bounds the time.
  const timeoutS = Math.max(60, Math.ceil((latencyMs * 6) / 1000));
  const wanted = Math.max(10, 2 * connections);
  const inDuration = (DURATION_S * 1000 * parallel) / perRequestMs - connections;
  if (inDuration >= wanted) return { duration: DURATION_S, timeoutS, estimatedS: DURATION_S };
  for (const amount of [wanted, connections]) {
    const estimatedS = (amount * perRequestMs) / parallel / 1000;
    if (estimatedS <= RUN_CAP_S) return { amount, timeoutS, estimatedS };
  }
  return { skip: `one request costs ~${fmtDuration(perRequestMs)} in-process, over the ${RUN_CAP_S} s per-run budget` };
}

function topicsOf(body: unknown): string[] | undefined {
  const cards = (body as { cards?: unknown } | null)?.cards;
  if (!Array.isArray(cards)) return undefined;
  return cards.map((c) => String((c as { source?: { topic?: { code?: unknown } } }).source?.topic?.code));
}

type SlotKey = 'w1' | 'floor' | 'w2';

interface ServerSlot {
  key: SlotKey;
  kind: ServerKind;
  workers: number;
  handle: ServerHandle;
  warmed: Set<SizeName>;
}

/** Runs in order of importance: what the targets need first, so a slow machine loses only the extras. */
const RUN_ORDER: [SlotKey, SizeName, number][] = [
  ['w1', 'S', 1],
  ['floor', 'S', 1],
  ['w1', 'M', 1],
  ['floor', 'M', 1],
  ['w2', 'S', 16],
  ['w1', 'L', 1],
  ['floor', 'L', 1],
  ['w1', 'S', 16],
  ['floor', 'S', 16],
  ['w2', 'M', 16],
  ['w1', 'M', 16],
  ['floor', 'M', 16],
  ['w2', 'L', 16],
  ['w1', 'L', 16],
  ['floor', 'L', 16],
];

interface HttpPhase {
  rows: HttpRow[];
  serviceStartupMs: number;
}

async function runHttpPhase(
  cases: readonly SizeCase[],
  perRequestMs: (kind: ServerKind, size: SizeName) => number,
  expectedTopics: (size: SizeName) => string[],
  secondsLeft: () => number,
  notes: string[],
): Promise<HttpPhase> {
  const slots = new Map<SlotKey, ServerSlot>();
  const open = async (key: SlotKey, kind: ServerKind, workers: number) => {
    const handle = await startServer(kind, workers, await freePort(), __dirname);
    slots.set(key, { key, kind, workers, handle, warmed: new Set() });
    return handle;
  };
  const rows: HttpRow[] = [];
  let serviceStartupMs = Number.NaN;
  try {
    progress('HTTP: starting the service (1 worker), then the floor and the service with 2 workers');
    serviceStartupMs = (await open('w1', 'service', 1)).startupMs;
    await Promise.all([open('floor', 'floor', 1), open('w2', 'service', 2)]);
    for (const [key, size, connections] of RUN_ORDER) {
      const slot = slots.get(key) as ServerSlot;
      const c = cases.find((x) => x.name === size) as SizeCase;
      const row: HttpRow = { size, kind: slot.kind, workers: slot.workers, connections };
      rows.push(row);
      // The floor at 16 connections only serves the ratio: only where the service ran.
      if (key === 'floor' && connections > 1 && !rows.some((r) => r.size === size && r.kind === 'service' && r.workers === 1 && r.connections === connections && r.result)) {
        rows.pop();
        continue;
      }
      const cost = perRequestMs(slot.kind, size);
      const plan = planRun(cost, connections, slot.workers);
      if ('skip' in plan) {
        row.skipped = plan.skip;
        continue;
      }
      const warmupS = slot.warmed.has(size) ? 0 : cost / 1000 + 1.5;
      const left = secondsLeft();
      if (plan.estimatedS + warmupS > left) {
        row.skipped = `the whole-bench time budget was spent (~${(plan.estimatedS + warmupS).toFixed(0)} s needed, ${Math.max(0, left).toFixed(0)} s left)`;
        continue;
      }
      const url = `http://127.0.0.1:${slot.handle.port}/cds-services/${SERVICE_ID}`;
      if (!slot.warmed.has(size)) {
        // One checked request, then a short warm-up (JIT) on every worker.
        const check = await postOnce(url, c.body, Math.max(30_000, cost * 4));
        const topics = topicsOf(check.body);
        const want = slot.kind === 'floor' ? [] : expectedTopics(size);
        if (check.status !== 200 || JSON.stringify(topics) !== JSON.stringify(want)) {
          notes.push(`${slot.kind} (${slot.workers} worker(s)), size ${size}: answered ${check.status} with cards ${JSON.stringify(topics)}, expected ${JSON.stringify(want)}.`);
        }
        const warmup = Math.max(1, Math.min(30, Math.round(1500 / cost))) * slot.workers;
        await runLoad({ url, body: c.body, connections: slot.workers, amount: warmup, timeoutS: Math.max(10, Math.ceil((cost * 4) / 1000)), rssPids: slot.handle.workerPids, stopAfterS: 5 });
        slot.warmed.add(size);
      }
      const stopAfterS = Math.max(1, Math.min(secondsLeft(), Math.max(plan.estimatedS * 2, plan.estimatedS + 5)));
      progress(`  ${slot.kind} x${slot.workers} ${size} @${connections}: ${plan.amount ? `${plan.amount} requests` : `${plan.duration} s`} (~${plan.estimatedS.toFixed(0)} s)`);
      row.result = await runLoad({
        url,
        body: c.body,
        connections,
        timeoutS: plan.timeoutS,
        rssPids: slot.handle.workerPids,
        stopAfterS,
        ...(plan.amount ? { amount: plan.amount } : { duration: plan.duration }),
      });
      if (row.result.stopped) {
        notes.push(
          `${slot.kind} (${slot.workers} worker(s)), size ${size} @${connections}: stopped after ${stopAfterS.toFixed(0)} s (slower than estimated) with ` +
            `${row.result.completed} answers and ${Math.max(0, row.result.sent - row.result.completed - row.result.errors - row.result.non2xx)} requests unanswered; its percentiles leave those out.`,
        );
      }
    }
  } finally {
    await Promise.all([...slots.values()].map((s) => s.handle.stop()));
  }
  return { rows, serviceStartupMs };
}

function findRow(rows: HttpRow[], size: SizeName, kind: ServerKind, workers: number, connections: number): LoadResult | undefined {
  return rows.find((r) => r.size === size && r.kind === kind && r.workers === workers && r.connections === connections)?.result;
}

function target(targetText: string, value: number | undefined, ok: (v: number) => boolean, show: (v: number) => string, note?: string): TargetRow {
  if (value === undefined || Number.isNaN(value)) return { target: targetText, measured: '–', pass: undefined, ...(note ? { note } : {}) };
  return { target: targetText, measured: show(value), pass: ok(value), ...(note ? { note } : {}) };
}

/** Peak RSS of a worker per size over every service run (1 and 2 workers, 1 and 16 connections). */
function rssTarget(http: readonly HttpRow[]): TargetRow {
  const peaks: { size: string; mb: number; where: string }[] = [];
  for (const size of ['S', 'M', 'L']) {
    const rows = http.filter((r) => r.size === size && r.kind === 'service' && r.result);
    if (rows.length === 0) continue;
    const top = rows.reduce((a, b) => ((b.result as LoadResult).peakRssMb > (a.result as LoadResult).peakRssMb ? b : a));
    peaks.push({ size, mb: (top.result as LoadResult).peakRssMb, where: `${top.workers}w/${top.connections}c` });
  }
  if (peaks.length === 0) return { target: 'RSS ≤ 150 MB per worker', measured: '–', pass: undefined };
  return {
    target: 'RSS ≤ 150 MB per worker',
    measured: `peak ${peaks.map((p) => `${p.size} ${p.mb.toFixed(0)} MB (${p.where})`).join(', ')}`,
    pass: peaks.every((p) => p.mb <= 150),
  };
}

/** Stage timings from one cold pass in a worker thread (lower bounds when it was stopped). */
function timingsOfPass(pass: BoundedPass): StageTimings {
  const stages = Object.fromEntries(STAGES.map((st) => [st, pass.stages[st] ?? Number.NaN])) as StageTimings['stages'];
  const sum = (list: readonly (typeof STAGES)[number][]) => list.reduce((acc, st) => acc + stages[st], 0);
  return {
    stages,
    core: pass.completed ? sum(['prefetch', 'evaluate', 'render']) : Number.NaN,
    total: pass.completed ? sum(STAGES) : pass.elapsedMs,
    iterations: 1,
    cold: true,
    topics: pass.topics,
    failures: pass.failures,
    ...(pass.completed ? {} : { stopped: { afterMs: pass.elapsedMs, ...(pass.running ? { running: pass.running } : {}) } }),
  };
}

async function main(): Promise<void> {
  const wallStart = clock();
  const secondsLeft = () => BUDGET_S - msSince(wallStart) / 1000;
  const machine = machineInfo();
  progress(`${machine.cpuModel}, ${machine.nproc} cores, Node ${machine.node}, load ${machine.loadAverage}`);
  const mods = loadServiceModules();
  const registryStart = clock();
  const registry = mods.definitions.loadRegistry(path.join(ROOT, 'cds-services'));
  const registryLoadMs = msSince(registryStart);
  const service = registry.services.get(SERVICE_ID) as ServiceDefinition | undefined;
  if (!service) throw new Error(`${SERVICE_ID} is not defined`);
  const notes: string[] = [];

  // 1. The charts and their request bodies (dates relative to now: the rules' windows hold the same share every day).
  const now = Date.now();
  const cases: SizeCase[] = SIZE_SPECS.map(({ name, spec }) => {
    const patient = generatePatient(spec, now);
    const request = buildHookRequest(service, patient, { searchResources, renderPrefetchTemplate: mods.fhirClient.renderPrefetchTemplate });
    const body = Buffer.from(JSON.stringify(request));
    progress(`size ${name}: ${countPrefetched(request)} resources, ${(body.length / 1048576).toFixed(2)} MB`);
    return { name, spec, body, resources: countPrefetched(request), observations: patient.counts.Observation ?? 0 };
  });
  const byName = (n: SizeName) => cases.find((c) => c.name === n) as SizeCase;

  // 2. In-process timings: the growth sizes in rounds, M alone, L first as one cold pass in a worker thread
  //    stopped at its deadline (minutes per call are possible), then properly only when that pass was quick.
  const inProcess = new Map<SizeName, StageTimings>();
  const breakdowns: Report['breakdowns'] = [];
  const growthSizes = ['S', '2xS', '4xS'] as const;
  collectGarbage();
  progress(`in-process ${growthSizes.join(', ')} (in rounds)`);
  const growthTimings = await timeInterleaved(mods, registry, service, growthSizes.map((n) => byName(n).body.toString('utf8')), GROWTH_BUDGET);
  growthSizes.forEach((n, i) => inProcess.set(n, growthTimings[i] as StageTimings));
  progress(`  totals ${growthTimings.map((t) => fmtDuration(t.total)).join(', ')}, ${growthTimings[0]?.iterations ?? 0} rounds`);
  collectGarbage();
  progress('in-process M');
  const mTimings = await timePipeline(mods, registry, service, byName('M').body.toString('utf8'), M_BUDGET);
  inProcess.set('M', mTimings);
  progress(`  total ${fmtDuration(mTimings.total)} (evaluate ${fmtDuration(mTimings.stages.evaluate)}), ${mTimings.iterations} iteration(s)`);
  const lBody = byName('L').body.toString('utf8');
  progress(`in-process L: one pass in a worker thread, stopped after ${PASS_DEADLINE_S} s`);
  const lPass = await runBoundedPass(path.join(__dirname, 'pipeline-worker.js'), lBody, SERVICE_ID, PASS_DEADLINE_S * 1000);
  if (!lPass.completed || lPass.elapsedMs > 3000) {
    inProcess.set('L', timingsOfPass(lPass));
    progress(`  ${lPass.completed ? `total ${fmtDuration(lPass.elapsedMs)}` : `stopped after ${fmtDuration(lPass.elapsedMs)}${lPass.running ? ` in ${lPass.running.name}` : ''}`}`);
  } else {
    const lTimings = await timePipeline(mods, registry, service, lBody, L_BUDGET);
    inProcess.set('L', lTimings);
    progress(`  total ${fmtDuration(lTimings.total)}, ${lTimings.iterations} iteration(s)`);
  }
  const timingsOf = (n: SizeName) => inProcess.get(n) as StageTimings;
  const sTopics = timingsOf('S').topics;
  for (const c of cases) {
    const t = timingsOf(c.name);
    if (t.failures.length) notes.push(`Size ${c.name}: expressions failed: ${t.failures.join('; ')}`);
    if (!t.stopped && JSON.stringify(t.topics) !== JSON.stringify(sTopics)) notes.push(`Size ${c.name} returns cards ${t.topics.join(', ')} (S: ${sTopics.join(', ')}).`);
  }

  for (const [name, top] of [['S', 5], ['M', 10], ['L', 10]] as const) {
    const t = timingsOf(name);
    if (name === 'L' && t.cold) {
      const sum = lPass.expressions.reduce((acc, e) => acc + e.ms, 0);
      breakdowns.push({
        size: name,
        breakdown: { indexMs: lPass.indexMs ?? Number.NaN, expressionsMs: sum, slowest: lPass.expressions.slice(0, top), iterations: 1 },
        cold: true,
        ...(lPass.running ? { running: lPass.running } : {}),
      });
      continue;
    }
    if (t.total > 3000) {
      breakdowns.push({ size: name, skipped: `one evaluation takes ${fmtDuration(t.total)}; over budget` });
      continue;
    }
    progress(`expression breakdown ${name}`);
    breakdowns.push({ size: name, breakdown: await breakDownExpressions(mods, registry, service, byName(name).body.toString('utf8'), name === 'L' ? 1 : 5, top) });
  }

  // 3. HTTP: the service with 1 and 2 workers and the floor, all on the same bodies.
  const httpSizes = cases.filter((c) => c.name === 'S' || c.name === 'M' || c.name === 'L');
  const perRequestMs = (kind: ServerKind, n: SizeName) => {
    const t = timingsOf(n);
    if (kind === 'floor') return (Number.isNaN(t.stages.parse) ? 0 : t.stages.parse) * 1.5 + (byName(n).body.length / 1048576) * 2 + 0.5;
    return t.stopped ? Number.POSITIVE_INFINITY : t.total + 1;
  };
  collectGarbage();
  const phase = await runHttpPhase(httpSizes, perRequestMs, (n) => timingsOf(n).topics, secondsLeft, notes);
  const http: HttpRow[] = [];
  for (const c of httpSizes) {
    for (const kind of ['service-1', 'floor', 'service-2']) {
      http.push(...phase.rows.filter((r) => r.size === c.name && (kind === 'floor' ? r.kind === 'floor' : r.kind === 'service' && `service-${r.workers}` === kind)).sort((a, b) => a.connections - b.connections));
    }
  }
  const ratios: Report['ratios'] = [];
  for (const c of httpSizes) {
    for (const conns of [1, 16]) {
      const sv = findRow(http, c.name, 'service', 1, conns);
      const fl = findRow(http, c.name, 'floor', 1, conns);
      if (sv && fl) ratios.push({ size: c.name, connections: conns, service: sv.p50, floor: fl.p50 });
    }
  }

  // 4. Targets.
  const sizeL = byName('L');
  const lHttp = findRow(http, 'L', 'service', 1, 1);
  const lInProcess = timingsOf('L');
  const growth = (['S', '2xS', '4xS'] as const).map((n) => ({ size: n, resources: byName(n).resources, total: timingsOf(n).total, core: timingsOf(n).core }));
  const doubling = Math.max(...growth.slice(1).map((g, i) => g.total / (growth[i] as { total: number }).total));
  const ratioOf = (n: SizeName) => ratios.find((x) => x.size === n && x.connections === 1);
  const sRatio = ratioOf('S');
  const mRatio = ratioOf('M');
  const lMb = sizeL.body.length / 1048576;
  const lLimitNote = `CDS_BODY_LIMIT=${BODY_LIMIT} admits the ${lMb.toFixed(1)} MB body; the default 5mb ${sizeL.body.length > DEFAULT_BODY_LIMIT_BYTES ? 'answers 413' : 'admits it too'}`;
  let lTarget: TargetRow;
  if (lHttp) {
    lTarget = target('L: answered in under 1 s', lHttp.errors + lHttp.non2xx > 0 ? Number.POSITIVE_INFINITY : lHttp.max, (v) => v < 1000, (v) => (Number.isFinite(v) ? `slowest answer ${fmtDuration(v)} over HTTP` : 'errors'), lLimitNote);
  } else if (lInProcess.stopped) {
    lTarget = { target: 'L: answered in under 1 s', measured: `not answered: stopped after ${fmtDuration(lInProcess.stopped.afterMs)} in-process`, pass: false, note: `HTTP run skipped; ${lLimitNote}` };
  } else {
    lTarget = target('L: answered in under 1 s', lInProcess.total, (v) => v < 1000, (v) => `${fmtDuration(v)} in-process`, `HTTP run skipped; ${lLimitNote}`);
  }
  const targets: TargetRow[] = [
    target('S: p99 ≤ 20 ms at 1 connection', findRow(http, 'S', 'service', 1, 1)?.p99, (v) => v <= 20, (v) => fmtDuration(v)),
    target('S: ≥ 300 requests/s at 16 connections, 2 workers', findRow(http, 'S', 'service', 2, 16)?.requestsPerSecond, (v) => v >= 300, (v) => `${v.toFixed(0)} req/s`),
    target('M: p99 ≤ 100 ms at 1 connection', findRow(http, 'M', 'service', 1, 1)?.p99, (v) => v <= 100, (v) => fmtDuration(v)),
    lTarget,
    target('Service/floor p50 ≤ 3 for S (1 connection)', sRatio ? sRatio.service / sRatio.floor : undefined, (v) => v <= 3, (v) => `${v.toFixed(1)}×`),
    target('Service/floor p50 ≤ 2 for M (1 connection)', mRatio ? mRatio.service / mRatio.floor : undefined, (v) => v <= 2, (v) => `${v.toFixed(1)}×`),
    target('Doubling the resources costs ≤ 2.1×', doubling, (v) => v <= 2.1, (v) => `worst step ${v.toFixed(2)}× (in-process total)`),
    rssTarget(http),
  ];
  notes.push(
    'The autocannon client runs in the bench process on the same machine and shares its cores with the servers (this weighs most on the 2-worker runs).',
    `Latency percentiles are exact (every 2xx response time); req/s = 2xx answers / run time. Runs estimated (from the in-process time) to take over ${RUN_CAP_S} s (BENCH_RUN_CAP) are not made, nor runs that would overrun the ${BUDGET_S} s budget of the whole bench (BENCH_BUDGET).`,
  );

  machine.loadAverageEnd = os.loadavg().map((l) => l.toFixed(2)).join(' / ');
  const report: Report = {
    machine,
    wallSeconds: msSince(wallStart) / 1000,
    registryLoadMs,
    serviceStartupMs: phase.serviceStartupMs,
    sizes: cases.map((c): SizeInfo => ({ name: c.name, resources: c.resources, observations: c.observations, bodyBytes: c.body.length, topics: timingsOf(c.name).topics, finished: !timingsOf(c.name).stopped })),
    http,
    ratios,
    inProcess: cases.map((c) => ({ size: c.name, timings: timingsOf(c.name) })),
    growth,
    breakdowns,
    targets,
    notes,
  };
  const markdown = renderReport(report);
  fs.writeFileSync(RESULTS_FILE, markdown);
  process.stdout.write(`\n${markdown}\nWritten to ${path.relative(process.cwd(), RESULTS_FILE)}\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`bench failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
