// Turns the benchmark's measurements into the Markdown report (tables and the targets with pass/miss),
// printed to the console and written to bench/results.md.
import { STAGES, type ExpressionBreakdown, type StageTimings } from './in-process';
import type { LoadResult, ServerKind } from './http-load';

export interface MachineInfo {
  cpuModel: string;
  nproc: number;
  node: string;
  os: string;
  memoryGb: number;
  loadAverage: string;
  loadAverageEnd?: string;
  date: string;
}

export interface SizeInfo {
  name: string;
  resources: number;
  observations: number;
  bodyBytes: number;
  topics: string[];
  /** False when the in-process pass was stopped before the cards were rendered. */
  finished: boolean;
}

export interface HttpRow {
  size: string;
  kind: ServerKind;
  workers: number;
  connections: number;
  result?: LoadResult;
  /** Why the run was not made (over the time budget). */
  skipped?: string;
}

export interface TargetRow {
  target: string;
  measured: string;
  pass: boolean | undefined;
  note?: string;
}

export interface Report {
  machine: MachineInfo;
  wallSeconds: number;
  registryLoadMs: number;
  serviceStartupMs: number;
  sizes: SizeInfo[];
  http: HttpRow[];
  ratios: { size: string; connections: number; service: number; floor: number }[];
  inProcess: { size: string; timings: StageTimings }[];
  growth: { size: string; resources: number; total: number; core: number }[];
  breakdowns: { size: string; breakdown?: ExpressionBreakdown; skipped?: string; cold?: boolean; running?: { name: string; ms: number } }[];
  targets: TargetRow[];
  notes: string[];
}

export function fmtMs(ms: number | undefined): string {
  if (ms === undefined || Number.isNaN(ms)) return '–';
  if (ms >= 10_000) return `${(ms / 1000).toFixed(1)} s`;
  if (ms >= 100) return ms.toFixed(0);
  if (ms >= 10) return ms.toFixed(1);
  return ms.toFixed(2);
}

/** A duration with its unit, for prose. */
export function fmtDuration(ms: number | undefined): string {
  if (ms === undefined || Number.isNaN(ms)) return '–';
  return ms >= 10_000 ? fmtMs(ms) : `${fmtMs(ms)} ms`;
}

function fmtRatio(r: number): string {
  return Number.isFinite(r) ? `${r.toFixed(2)}×` : '–';
}

function fmtMb(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(2)} MB`;
}

function table(header: string[], rows: string[][]): string {
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

function serverLabel(kind: ServerKind, workers: number): string {
  return kind === 'floor' ? 'floor (bare express.json)' : `iph-patient-view, ${workers} worker${workers > 1 ? 's' : ''}`;
}

export function renderReport(r: Report): string {
  const out: string[] = [];
  const m = r.machine;
  out.push('## Benchmark results');
  out.push('');
  out.push('Reproduce: `npm ci && npm run bench` (builds, runs in under 5 minutes, rewrites this file). Knobs: BENCH_DURATION, BENCH_RUN_CAP, BENCH_BUDGET, BENCH_PASS_DEADLINE (seconds).');
  out.push('');
  out.push(
    `Machine: ${m.cpuModel}, ${m.nproc} cores (\`nproc\`), ${m.memoryGb.toFixed(0)} GB RAM, ${m.os}, Node ${m.node}. ` +
      `Load average (1/5/15 min) at start: ${m.loadAverage}${m.loadAverageEnd ? `, at the end: ${m.loadAverageEnd}` : ''}. ` +
      `Run: ${m.date}, ${r.wallSeconds.toFixed(0)} s wall time (without the build).`,
  );
  out.push('');
  out.push('### Request bodies (seeded synthetic patient-view requests, all prefetch keys)');
  out.push('');
  out.push(
    table(
      ['Size', 'Resources', 'Observations', 'Body', 'Cards returned'],
      r.sizes.map((s) => [s.name, String(s.resources), String(s.observations), fmtMb(s.bodyBytes), s.finished ? s.topics.join(', ') || '(none)' : '(not finished in-process)']),
    ),
  );
  out.push('');
  out.push('### HTTP (autocannon, 127.0.0.1, same bodies for service and floor)');
  out.push('');
  out.push(
    table(
      ['Size', 'Server', 'Conn.', 'p50 ms', 'p90 ms', 'p99 ms', 'req/s', 'Requests', 'Errors', 'Peak RSS/worker'],
      r.http.map((h) => {
        const res = h.result;
        if (!res) return [h.size, serverLabel(h.kind, h.workers), String(h.connections), '–', '–', '–', '–', '–', '–', `not run: ${h.skipped ?? ''}`];
        const errors = res.errors + res.non2xx;
        return [
          h.size,
          serverLabel(h.kind, h.workers),
          String(h.connections),
          fmtMs(res.p50),
          fmtMs(res.p90),
          fmtMs(res.p99),
          res.requestsPerSecond >= 10 ? res.requestsPerSecond.toFixed(0) : res.requestsPerSecond.toFixed(2),
          res.stopped ? `${res.completed} (stopped)` : String(res.completed),
          errors === 0 ? '0' : `${errors} (${res.non2xx} non-2xx, ${res.timeouts} timeouts)`,
          `${res.peakRssMb.toFixed(0)} MB`,
        ];
      }),
    ),
  );
  out.push('');
  out.push('Service / floor (p50 latency, 1 worker; the floor is the cost of HTTP + JSON parsing alone):');
  out.push('');
  out.push(
    table(
      ['Size', 'Conn.', 'Service p50 ms', 'Floor p50 ms', 'Ratio'],
      r.ratios.map((x) => [x.size, String(x.connections), fmtMs(x.service), fmtMs(x.floor), fmtRatio(x.service / x.floor)]),
    ),
  );
  out.push('');
  out.push('### In-process, no HTTP (median ms per call; the built code from dist/)');
  out.push('');
  out.push(
    table(
      ['Size', 'JSON.parse', 'validate', 'resolvePrefetch', 'evaluateService', 'renderCards', 'stringify', 'prefetch+evaluate+render', 'Total', 'Iterations'],
      r.inProcess.map(({ size, timings: t }) => {
        if (t.stopped) {
          // Stopped during the first unfinished stage: it ran at least the rest of the elapsed time.
          const stoppedAfter = t.stopped.afterMs;
          const done = STAGES.filter((st) => !Number.isNaN(t.stages[st]));
          const spent = done.reduce((acc, st) => acc + t.stages[st], 0);
          const cells = STAGES.map((st) => (done.includes(st) ? fmtMs(t.stages[st]) : st === STAGES[done.length] ? `> ${fmtMs(stoppedAfter - spent)} (stopped)` : '–'));
          return [size, ...cells, '–', `> ${fmtMs(stoppedAfter)}`, '1 (cold, stopped)'];
        }
        return [
          size,
          ...STAGES.map((st) => fmtMs(t.stages[st])),
          fmtMs(t.core),
          fmtMs(t.total),
          `${t.iterations}${t.cold ? ' (cold)' : ''}`,
        ];
      }),
    ),
  );
  out.push('');
  out.push('Growth (in-process total; each size has twice the resources of the one before, over the same 3 years):');
  out.push('');
  out.push(
    table(
      ['Size', 'Resources', 'Total ms', 'vs. previous', 'prefetch+evaluate+render ms', 'vs. previous'],
      r.growth.map((g, i) => {
        const prev = i > 0 ? r.growth[i - 1] : undefined;
        return [g.size, String(g.resources), fmtMs(g.total), prev ? fmtRatio(g.total / prev.total) : '', fmtMs(g.core), prev ? fmtRatio(g.core / prev.core) : ''];
      }),
    ),
  );
  for (const b of r.breakdowns) {
    out.push('');
    if (!b.breakdown) {
      out.push(`Slowest named expressions, size ${b.size}: not measured (${b.skipped ?? ''}).`);
      continue;
    }
    const bd = b.breakdown;
    const how = b.cold ? 'one cold pass' : `median of ${bd.iterations} evaluation${bd.iterations > 1 ? 's' : ''}`;
    const running = b.running ? `; stopped while \`${b.running.name}\` had run ${fmtDuration(b.running.ms)}` : '';
    out.push(
      `Slowest named expressions, size ${b.size} (${how}; finished expressions ${fmtDuration(bd.expressionsMs)}, record index ${fmtDuration(bd.indexMs)}${running}):`,
    );
    out.push('');
    const rows = bd.slowest.map((c) => [`\`${c.name}\``, fmtMs(c.ms), `${(c.share * 100).toFixed(1)} %`]);
    if (b.running) rows.unshift([`\`${b.running.name}\` (still running)`, `> ${fmtMs(b.running.ms)}`, '–']);
    out.push(table(['Expression', 'ms', 'Share'], rows));
  }
  out.push('');
  out.push('### Targets (2 cores)');
  out.push('');
  out.push(
    table(
      ['Target', 'Measured', 'Result'],
      r.targets.map((t) => [t.target, t.measured + (t.note ? ` (${t.note})` : ''), t.pass === undefined ? 'not measured' : t.pass ? 'met' : '**missed**']),
    ),
  );
  if (r.notes.length) {
    out.push('');
    for (const n of r.notes) out.push(`- ${n}`);
  }
  out.push('');
  out.push(`Definitions load (registry, once per worker): ${fmtMs(r.registryLoadMs)} ms in-process; service start to first answer: ${fmtMs(r.serviceStartupMs)} ms.`);
  out.push('');
  return out.join('\n');
}
