// HTTP side of the benchmark: starts the built service (`node dist/main.js`, the production pipeline) or the
// floor app as child processes, waits for them to answer, drives them with autocannon and samples the resident
// memory of every worker process.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import autocannon from 'autocannon';

export const ROOT = path.resolve(__dirname, '..', '..');
const DIST = path.join(ROOT, 'dist');
import { msSince, clock, percentile, sleep } from './stats';

export type ServerKind = 'service' | 'floor';

export const BODY_LIMIT = '64mb';

export interface ServerOptions {
  kind: ServerKind;
  workers: number;
  port: number;
  /** CDS_FHIRPATH_ENGINE of the service. */
  engine?: 'compiled' | 'reference';
}

export interface ServerHandle {
  kind: ServerKind;
  workers: number;
  port: number;
  /** Processes that answer requests (the worker processes of a cluster, else the process itself). */
  workerPids: number[];
  startupMs: number;
  stop(): Promise<void>;
}

/** Children of a process: `ps --ppid`, or a scan of /proc where ps is missing. */
function childPids(pid: number): number[] {
  try {
    const out = execFileSync('ps', ['--ppid', String(pid), '-o', 'pid='], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    return out.split(/\s+/).filter(Boolean).map(Number);
  } catch (e) {
    // ps exits 1 when there are no children.
    if ((e as { status?: unknown }).status === 1) return [];
  }
  const found: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      // pid (comm) state ppid ...: comm may contain spaces, so read after the last ')'.
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) found.push(Number(entry));
    } catch {
      // the process ended meanwhile
    }
  }
  return found;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Resident set size of a process in MB, or undefined once it is gone. */
export function readRssMb(pid: number): number | undefined {
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
    return m ? Number(m[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

async function waitForExit(child: ChildProcess, ms: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return true;
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

/** Starts `node dist/main.js` (service) or the floor app on 127.0.0.1:port and waits until it answers. */
export async function startServer(options: ServerOptions): Promise<ServerHandle> {
  const { kind, workers, port } = options;
  const script = kind === 'service' ? path.join(DIST, 'main.js') : path.join(__dirname, 'floor-server.js');
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PORT: String(port),
    HOST: '127.0.0.1',
    LOG_LEVEL: 'silent',
    CDS_BODY_LIMIT: BODY_LIMIT,
    CDS_WORKERS: String(workers),
    CDS_AUTH: 'off',
    CDS_FHIRPATH_ENGINE: options.engine ?? 'compiled',
    // The bench measures latency, not the deadline: on a busy machine the reference engine on L can pass 5 s.
    CDS_EVAL_TIMEOUT_MS: '120000',
  };
  delete env.NODE_ENV;
  const started = clock();
  const child = spawn(process.execPath, [script], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString('utf8')).slice(-4000);
  });
  const pid = child.pid;
  if (pid === undefined) throw new Error(`could not start the ${kind}`);

  const stop = async () => {
    // The primary first: it would replace a worker that exits. Workers exit when the primary's channel closes.
    const workersBefore = kind === 'service' && workers > 1 ? childPids(pid) : [];
    child.kill('SIGTERM');
    if (!(await waitForExit(child, 15_000))) child.kill('SIGKILL');
    for (const w of workersBefore) {
      for (let i = 0; i < 20 && isAlive(w); i++) await sleep(100);
      if (isAlive(w)) process.kill(w, 'SIGKILL');
    }
  };

  const deadline = Date.now() + 120_000;
  const url = `http://127.0.0.1:${port}/cds-services`;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the ${kind} exited with code ${child.exitCode}: ${stderr}`);
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`the ${kind} did not answer ${url} within 120 s: ${stderr}`);
    }
    try {
      const res = await fetch(url);
      if (res.ok) {
        await res.arrayBuffer();
        break;
      }
    } catch {
      // not listening yet
    }
    await sleep(100);
  }
  let workerPids = [pid];
  if (kind === 'service' && workers > 1) {
    // Discovery answers as soon as one worker listens; wait for all of them to be forked and listening.
    for (let i = 0; i < 100; i++) {
      workerPids = childPids(pid);
      if (workerPids.length >= workers) break;
      await sleep(100);
    }
    await sleep(2500);
  }
  return { kind, workers, port, workerPids, startupMs: msSince(started), stop };
}

export interface PostResult {
  status: number;
  body: unknown;
  ms: number;
}

export async function postOnce(url: string, body: Buffer, timeoutMs: number): Promise<PostResult> {
  const started = clock();
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body, signal: AbortSignal.timeout(timeoutMs) });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // keep the text
  }
  return { status: res.status, body: parsed, ms: msSince(started) };
}

export interface LoadOptions {
  url: string;
  body: Buffer;
  connections: number;
  /** Seconds; ignored when `amount` is given. */
  duration?: number;
  amount?: number;
  timeoutS: number;
  rssPids: readonly number[];
  /** Hard stop (seconds): the run ends with what it has, even with requests still outstanding. */
  stopAfterS?: number;
}

export interface LoadResult {
  connections: number;
  /** Latency percentiles of 2xx answers, ms (exact, from every response time). */
  p50: number;
  p90: number;
  p99: number;
  max: number;
  completed: number;
  /** Requests sent (answered or not). */
  sent: number;
  requestsPerSecond: number;
  /** Connection errors (timeouts included). */
  errors: number;
  timeouts: number;
  non2xx: number;
  /** Highest RSS seen in any single worker process during the run, MB. */
  peakRssMb: number;
  durationS: number;
  /** True when the hard stop ended the run. */
  stopped: boolean;
}

/** One autocannon run with RSS sampling every 200 ms. */
export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const latencies: number[] = [];
  let peakRss = 0;
  const sample = () => {
    for (const pid of options.rssPids) peakRss = Math.max(peakRss, readRssMb(pid) ?? 0);
  };
  sample();
  const sampler = setInterval(sample, 200);
  const started = clock();
  let stopped = false;
  let stopTimer: NodeJS.Timeout | undefined;
  try {
    const result = await new Promise<autocannon.Result>((resolve, reject) => {
      const instance = autocannon(
        {
          url: options.url,
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: options.body,
          connections: options.connections,
          pipelining: 1,
          timeout: options.timeoutS,
          ...(options.amount !== undefined ? { amount: options.amount } : { duration: options.duration ?? 6 }),
        },
        (err: unknown, res: autocannon.Result) => (err ? reject(err instanceof Error ? err : new Error(String(err))) : resolve(res)),
      );
      instance.on('response', (_client, statusCode, _bytes, responseTime) => {
        if (statusCode >= 200 && statusCode < 300) latencies.push(responseTime);
      });
      if (options.stopAfterS !== undefined) {
        stopTimer = setTimeout(() => {
          stopped = true;
          instance.stop();
        }, options.stopAfterS * 1000);
      }
    });
    sample();
    const durationS = msSince(started) / 1000;
    // Only a stop that left requests unanswered matters (autocannon ends a stopped run at its next tick).
    if (stopped && options.amount !== undefined && latencies.length + result.errors + result.non2xx >= options.amount) stopped = false;
    return {
      connections: options.connections,
      p50: percentile(latencies, 50),
      p90: percentile(latencies, 90),
      p99: percentile(latencies, 99),
      max: latencies.length ? Math.max(...latencies) : Number.NaN,
      completed: latencies.length,
      sent: result.requests.sent,
      requestsPerSecond: latencies.length / durationS,
      errors: result.errors,
      timeouts: result.timeouts,
      non2xx: result.non2xx,
      peakRssMb: peakRss,
      durationS,
      stopped,
    };
  } finally {
    clearInterval(sampler);
    if (stopTimer) clearTimeout(stopTimer);
  }
}
