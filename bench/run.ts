// `npm run bench`: seeded S/M/L charts through answerHookCall in process (the function the HTTP handler calls) and
// posted to the built service (`node dist/main.js`) on both FHIRPath engines and to the floor, one connection each,
// then S with every core; writes the
// Markdown report to bench/results/ (ignored), or to bench/results.md with `--update`. `--profile` adds CPU profiles
// of request work only (in process, after warm-up, S and M); `--profile-only` takes just those.
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { Registry } from '../src/definitions/types';
import { postOnce, readRssMb, ROOT, runLoad, startServer } from './http-load';
import { timeInProcess } from './in-process';
import { profileRequests, type RequestProfile } from './profile';
import { renderReport, type InProcessRow, type Kind, type Run, type SizeInfo } from './report';
import { buildHookRequest, CORE_OTHER_RESOURCES, countPrefetched, generatePatient, type PatientSpec } from './synthetic-patient';

const SEED = 20240611;
const SERVICE_ID = 'iph-patient-view';
const DURATION_S = Number(process.env.BENCH_DURATION ?? 5);
const args = new Set(process.argv.slice(2));
const UPDATE = args.has('--update');
const PROFILE_ONLY = args.has('--profile-only');
const PROFILE = PROFILE_ONLY || args.has('--profile');
const PROFILE_ITERATIONS: Record<string, number> = { S: 200, M: 40 };

const SIZES: { name: string; spec: PatientSpec }[] = [
  // The typical chart: ~300 resources, 14 unrelated problems, the rest lab results.
  { name: 'S', spec: { observations: 300 - CORE_OTHER_RESOURCES - 14, otherConditions: 14, seed: SEED } },
  { name: 'M', spec: { observations: 2000, otherConditions: 20, seed: SEED } },
  { name: 'L', spec: { observations: 20000, otherConditions: 30, seed: SEED } },
];

function progress(message: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

function machine(): string {
  let cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  try {
    cpu = /^model name\s*:\s*(.+)$/m.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'))?.[1]?.trim() ?? cpu;
  } catch {
    // not Linux
  }
  const load = os.loadavg().map((l) => l.toFixed(2)).join(' / ');
  return `${cpu}, ${os.availableParallelism()} cores, ${(os.totalmem() / 1024 ** 3).toFixed(0)} GB, Node ${process.version}, load average ${load} at start, ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

interface Body {
  info: SizeInfo;
  body: Buffer;
}

function buildBodies(registry: Registry): Body[] {
  const service = registry.services.get(SERVICE_ID);
  if (!service) throw new Error(`no service ${SERVICE_ID}`);
  const now = Date.now();
  return SIZES.map(({ name, spec }) => {
    const request = buildHookRequest(service, generatePatient(spec, now));
    const body = Buffer.from(JSON.stringify(request));
    return { info: { name, resources: countPrefetched(request), observations: spec.observations, bodyBytes: body.length, topics: [] }, body };
  });
}

function topicsOf(body: unknown): string[] {
  const cards = (body as { cards?: { source?: { topic?: { code?: string } } }[] }).cards ?? [];
  return cards.map((c) => c.source?.topic?.code ?? '?');
}

/** Starts a server, checks its answer, warms it up, runs the load, stops it. */
async function measure(size: Body, kind: Kind, workers: number, connections: number): Promise<Run> {
  const server = await startServer({ kind: kind === 'floor' ? 'floor' : 'service', engine: kind === 'floor' ? undefined : kind, workers, port: await freePort() });
  try {
    const idleRssMb = Math.max(...server.workerPids.map((p) => readRssMb(p) ?? 0));
    const url = `http://127.0.0.1:${server.port}/cds-services/${SERVICE_ID}`;
    const first = await postOnce(url, size.body, 120_000);
    if (first.status !== 200) throw new Error(`${kind} answered ${first.status} on ${size.info.name}: ${JSON.stringify(first.body).slice(0, 500)}`);
    if (kind !== 'floor') {
      const topics = topicsOf(first.body);
      if (size.info.topics.length && topics.join() !== size.info.topics.join()) throw new Error(`${kind} gave ${topics.join()} on ${size.info.name}, not ${size.info.topics.join()}`);
      size.info.topics = topics;
    }
    for (let i = 0; i < (size.info.resources > 10_000 ? 1 : 5); i++) await postOnce(url, size.body, 120_000);
    progress(`${size.info.name} ${kind}, ${workers} worker(s), ${connections} connection(s)`);
    // Large charts by count (a few seconds each on a busy machine), the rest by duration.
    const amount = size.info.resources > 10_000 ? { amount: 5 * connections } : { duration: DURATION_S };
    const result = await runLoad({ url, body: size.body, connections, ...amount, timeoutS: 120, rssPids: server.workerPids, stopAfterS: Math.max(DURATION_S * 4, 60) });
    return { size: size.info.name, kind, workers, connections, result, idleRssMb };
  } finally {
    await server.stop();
  }
}

async function main(): Promise<void> {
  const started = Date.now();
  const cores = os.availableParallelism();
  const machineInfo = machine();
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { loadRegistry } = require(path.join(ROOT, 'dist', 'definitions', 'load.js')) as typeof import('../src/definitions/load');
  const bodies = buildBodies(loadRegistry(path.join(ROOT, 'cds-services')));
  const outDir = path.join(ROOT, 'bench', 'results');
  fs.mkdirSync(outDir, { recursive: true });
  const stamp = new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19);
  let profiles: RequestProfile[] | undefined;
  if (PROFILE) {
    const dir = path.join(outDir, `profile-${stamp}`);
    fs.mkdirSync(dir, { recursive: true });
    const registry = loadRegistry(path.join(ROOT, 'cds-services'), 'compiled');
    profiles = [];
    for (const size of bodies.slice(0, 2)) {
      progress(`${size.info.name} compiled, request profile`);
      profiles.push(await profileRequests(registry, SERVICE_ID, size.info.name, size.body, dir, PROFILE_ITERATIONS[size.info.name] ?? 20));
    }
    progress(`CPU profiles in ${dir}`);
  }
  const inProcess: InProcessRow[] = [];
  const runs: Run[] = [];
  if (!PROFILE_ONLY) {
    for (const engine of ['compiled', 'reference'] as const) {
      const registry = loadRegistry(path.join(ROOT, 'cds-services'), engine);
      for (const size of bodies) {
        progress(`${size.info.name} ${engine}, in process`);
        inProcess.push({ size: size.info.name, engine, result: await timeInProcess(registry, SERVICE_ID, size.body.toString('utf8'), DURATION_S) });
      }
    }
    for (const size of bodies) {
      for (const kind of ['compiled', 'reference', 'floor'] as Kind[]) runs.push(await measure(size, kind, 1, 1));
    }
    const s = bodies[0] as Body;
    for (const kind of ['compiled', 'reference', 'floor'] as Kind[]) runs.push(await measure(s, kind, cores, 4 * cores));
  }
  const report = renderReport({ machine: machineInfo, sizes: bodies.map((b) => b.info), runs, inProcess, cores, profiles, wallS: (Date.now() - started) / 1000 });
  process.stdout.write(report);
  const file = UPDATE ? path.join(ROOT, 'bench', 'results.md') : path.join(outDir, `results-${stamp}.md`);
  fs.writeFileSync(file, report);
  progress(`report written to ${path.relative(ROOT, file)}`);
}

main().catch((e: unknown) => {
  process.stderr.write(`bench failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
