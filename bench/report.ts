// Turns the benchmark's measurements into the Markdown report: bodies, both engines and the floor side by side
// (latency percentiles, req/s, RSS), ratios to the floor, growth S -> M -> L, cost per resource, the targets,
// and the profile when one was taken.
import type { LoadResult } from './http-load';
import type { InProcessResult } from './in-process';
import type { RequestProfile } from './profile';

export type Engine = 'compiled' | 'reference';
export type Kind = Engine | 'floor';

export interface SizeInfo {
  name: string;
  resources: number;
  observations: number;
  bodyBytes: number;
  topics: string[];
}

export interface Run {
  size: string;
  kind: Kind;
  workers: number;
  connections: number;
  result: LoadResult;
  /** RSS of each worker once started, before any request, MB. */
  idleRssMb: number;
}

export interface InProcessRow {
  size: string;
  engine: Engine;
  result: InProcessResult;
}

export interface Report {
  machine: string;
  sizes: SizeInfo[];
  runs: Run[];
  inProcess: InProcessRow[];
  cores: number;
  profiles?: RequestProfile[];
  wallS: number;
}

const fmt = (ms: number): string => (Number.isNaN(ms) ? '-' : ms >= 100 ? ms.toFixed(0) : ms >= 10 ? ms.toFixed(1) : ms.toFixed(2));
const ratio = (a: number, b: number): string => (Number.isFinite(a / b) ? `${(a / b).toFixed(2)}×` : '-');
const KIND_LABEL: Record<Kind, string> = { compiled: 'service, compiled FHIRPath', reference: 'service, fhirpath.js (reference)', floor: 'floor (bare express.json)' };

function find(runs: Run[], size: string, kind: Kind, connections: number): Run | undefined {
  return runs.find((r) => r.size === size && r.kind === kind && r.connections === connections);
}

interface Target {
  what: string;
  measured: string;
  pass: boolean;
}

function targets(r: Report): Target[] {
  const out: Target[] = [];
  const p = (size: string, kind: Kind) => find(r.runs, size, kind, 1)?.result;
  const latency = (size: string, floorRatio: number, p99Max?: number) => {
    const c = p(size, 'compiled');
    const f = p(size, 'floor');
    if (!c || !f) return;
    out.push({ what: `${size}: service p50 within ${floorRatio}x of the floor`, measured: `${fmt(c.p50)} / ${fmt(f.p50)} ms = ${ratio(c.p50, f.p50)}`, pass: c.p50 <= floorRatio * f.p50 });
    if (p99Max !== undefined) out.push({ what: `${size}: p99 at most ${p99Max} ms`, measured: `${fmt(c.p99)} ms`, pass: c.p99 <= p99Max });
  };
  latency('S', 2, 20);
  latency('M', 1.5, 100);
  latency('L', 1.3);
  const all = (kind: Kind) => r.runs.find((x) => x.size === 'S' && x.kind === kind && x.workers === r.cores && x.connections > 1)?.result;
  const tc = all('compiled');
  const tr = all('reference');
  if (tc && tr) out.push({ what: 'S with all cores: throughput at least 4x the reference engine', measured: `${tc.requestsPerSecond.toFixed(0)} / ${tr.requestsPerSecond.toFixed(0)} req/s = ${ratio(tc.requestsPerSecond, tr.requestsPerSecond)}`, pass: tc.requestsPerSecond >= 4 * tr.requestsPerSecond });
  const idle = r.runs.filter((x) => x.kind === 'compiled').map((x) => x.idleRssMb);
  if (idle.length) out.push({ what: 'resident memory per worker at most 150 MB idle', measured: `${Math.max(...idle).toFixed(0)} MB`, pass: Math.max(...idle) <= 150 });
  return out;
}

export function renderReport(r: Report): string {
  const out: string[] = [];
  out.push('## Benchmark results', '');
  out.push('Reproduce: `npm run bench` (writes bench/results/, ignored by git); `npm run bench -- --update` rewrites this file; `-- --profile` adds a CPU profile of request work only (compiled engine, in process); `-- --profile-only` takes just that profile. Knob: BENCH_DURATION (seconds per run).', '');
  out.push(`Machine: ${r.machine}. Wall time ${r.wallS.toFixed(0)} s. Every service figure is \`node dist/main.js\` over HTTP on 127.0.0.1 (the production pipeline: parse, validate, prefetch, evaluate, render), \`CDS_FHIRPATH_ENGINE\` set per run; the floor parses the same body and answers \`{"cards":[]}\`.`, '');
  out.push('### Request bodies (seeded synthetic patient-view requests)', '');
  out.push('| Size | Resources | Observations | Body | Cards |', '| --- | --- | --- | --- | --- |');
  for (const s of r.sizes) out.push(`| ${s.name} | ${s.resources} | ${s.observations} | ${(s.bodyBytes / 1024 ** 2).toFixed(2)} MB | ${s.topics.join(', ')} |`);
  out.push('', '### One connection, one worker', '');
  out.push('| Size | Server | p50 ms | p90 ms | p99 ms | req/s | Requests | Idle RSS | Peak RSS |', '| --- | --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const s of r.sizes) {
    for (const kind of ['compiled', 'reference', 'floor'] as Kind[]) {
      const run = find(r.runs, s.name, kind, 1);
      if (!run) continue;
      const x = run.result;
      out.push(`| ${s.name} | ${KIND_LABEL[kind]} | ${fmt(x.p50)} | ${fmt(x.p90)} | ${fmt(x.p99)} | ${x.requestsPerSecond.toFixed(1)} | ${x.completed}${x.errors + x.non2xx ? ` (${x.errors + x.non2xx} failed)` : ''} | ${run.idleRssMb.toFixed(0)} MB | ${x.peakRssMb.toFixed(0)} MB |`);
    }
  }
  out.push('', '### Ratios to the floor, growth and cost per resource (p50, one connection)', '');
  out.push('| Size | Compiled / floor | Reference / floor | Reference / compiled | Compiled growth | Reference growth | Compiled µs per resource | Reference µs per resource |', '| --- | --- | --- | --- | --- | --- | --- | --- |');
  let prev: { c: number; r: number } | undefined;
  for (const s of r.sizes) {
    const c = find(r.runs, s.name, 'compiled', 1)?.result.p50 ?? Number.NaN;
    const ref = find(r.runs, s.name, 'reference', 1)?.result.p50 ?? Number.NaN;
    const f = find(r.runs, s.name, 'floor', 1)?.result.p50 ?? Number.NaN;
    const perResource = (x: number) => (((x - f) * 1000) / s.resources).toFixed(1);
    out.push(`| ${s.name} | ${ratio(c, f)} | ${ratio(ref, f)} | ${ratio(ref, c)} | ${prev ? ratio(c, prev.c) : '-'} | ${prev ? ratio(ref, prev.r) : '-'} | ${perResource(c)} | ${perResource(ref)} |`);
    prev = { c, r: ref };
  }
  out.push('', 'Growth: p50 of a size over the previous one. Cost per resource: (service p50 − floor p50) / resources, i.e. the work beyond HTTP and JSON parsing.', '');
  if (r.inProcess.length) {
    out.push('### In process: answerHookCall, the function the HTTP handler calls (no HTTP)', '');
    out.push('| Size | Engine | JSON.parse p50 ms | answerHookCall p50 ms | p90 ms | p99 ms | call / parse | Iterations |', '| --- | --- | --- | --- | --- | --- | --- | --- |');
    for (const row of r.inProcess) {
      const x = row.result;
      out.push(`| ${row.size} | ${row.engine} | ${fmt(x.parse.p50)} | ${fmt(x.call.p50)} | ${fmt(x.call.p90)} | ${fmt(x.call.p99)} | ${ratio(x.call.p50, x.parse.p50)} | ${x.iterations} |`);
    }
    out.push('');
  }
  const many = r.runs.filter((x) => x.connections > 1);
  if (many.length) {
    out.push(`### Throughput: S, all ${r.cores} cores (${r.cores} workers)`, '');
    out.push('| Server | Connections | p50 ms | p99 ms | req/s | Requests | Peak RSS per worker |', '| --- | --- | --- | --- | --- | --- | --- |');
    for (const run of many) out.push(`| ${KIND_LABEL[run.kind]} | ${run.connections} | ${fmt(run.result.p50)} | ${fmt(run.result.p99)} | ${run.result.requestsPerSecond.toFixed(0)} | ${run.result.completed} | ${run.result.peakRssMb.toFixed(0)} MB |`);
    out.push('');
  }
  out.push('### Targets (issue 16)', '', '| Target | Measured | |', '| --- | --- | --- |');
  for (const t of targets(r)) out.push(`| ${t.what} | ${t.measured} | ${t.pass ? 'met' : '**missed**'} |`);
  for (const p of r.profiles ?? []) {
    out.push('', `### CPU profile of request work: ${p.size}, compiled engine (self time)`, '', `${p.iterations} hook tasks in process after warm-up (runHookTask: decode, JSON.parse, validate, prefetch, evaluate, render, plus the structured clone of the result), ${p.meanMs.toFixed(1)} ms wall and ${p.cpuMs.toFixed(1)} ms CPU each under the profiler (decode + JSON.parse alone: ${p.parseCpuMs.toFixed(1)} ms CPU, ${(p.cpuMs / p.parseCpuMs).toFixed(1)}×); start-up and idle threads are outside the window. \`.cpuprofile\` files are in bench/results/.`, '', '| Share | Function | Where |', '| --- | --- | --- |');
    for (const h of p.top) out.push(`| ${(100 * h.share).toFixed(1)} % | ${h.name} | ${h.where} |`);
  }
  out.push('');
  return out.join('\n');
}
