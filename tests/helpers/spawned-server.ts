// The real server as an operator runs it, for tests across processes: compiled once per test file into its own
// folder under .scratch/ (so parallel test files never delete each other's build), started with an exact
// environment in its own process group, waited for until every worker listens, and killed with its workers.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, rmSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';

const ROOT = path.join(__dirname, '..', '..');
const READY_TEXT = 'CDS Hooks discovery at';

/** Compiles src/ into .scratch/<name>-<random>/ and returns the path of its main.js and a cleanup. */
export function buildServer(name: string): { main: string; remove(): void } {
  const outDir = path.join(ROOT, '.scratch', `${name}-${randomBytes(4).toString('hex')}`);
  try {
    execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', 'tsconfig.build.json', '--outDir', outDir], { cwd: ROOT, stdio: 'pipe', timeout: 180_000 });
  } catch (e) {
    // tsc still emits when another file in the tree has a type error; only a missing entry point is fatal here.
    if (!existsSync(path.join(outDir, 'main.js'))) throw new Error(`tsc produced no main.js: ${(e as { stdout?: Buffer }).stdout?.toString() ?? String(e)}`);
  }
  return { main: path.join(outDir, 'main.js'), remove: () => rmSync(outDir, { recursive: true, force: true }) };
}

export { freePort } from './main-process';

export interface Server {
  port: number;
  output(): string;
  /** Resolves when `count` workers have logged that they listen; rejects if the process exits first. */
  ready(count: number): Promise<void>;
  /** SIGTERM, then waits for the exit (SIGKILL to the group after 10 s). */
  stop(): Promise<void>;
}

const running = new Set<ChildProcess>();

export function startServer(main: string, port: number, env: Record<string, string>): Server {
  const child = spawn(process.execPath, [main], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', TZ: 'UTC', PORT: String(port), HOST: '127.0.0.1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  running.add(child);
  let out = '';
  const listeners = new Set<() => void>();
  const onData = (d: Buffer) => {
    out += d.toString();
    for (const l of listeners) l();
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  const exited = new Promise<void>((resolve) => {
    child.on('exit', () => {
      running.delete(child);
      killGroup(child, 'SIGKILL');
      for (const l of listeners) l();
      resolve();
    });
  });
  return {
    port,
    output: () => out,
    ready(count) {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (out.split(READY_TEXT).length - 1 >= count) {
            listeners.delete(check);
            resolve();
          } else if (child.exitCode !== null || child.signalCode !== null) {
            listeners.delete(check);
            reject(new Error(`the server exited before listening:\n${out.slice(-3000)}`));
          }
        };
        listeners.add(check);
        check();
      });
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const timer = setTimeout(() => killGroup(child, 'SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // Already gone.
  }
}

/** Kills every server still running (afterAll safety net). */
export function killAll(): void {
  for (const c of running) killGroup(c, 'SIGKILL');
}

export interface Answer {
  status: number;
  body: string;
}

/** One request on a fresh connection (no keep-alive), so the cluster may hand each request to another worker. */
export function call(port: number, method: string, p: string, headers: Record<string, string> = {}, body?: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path: p, agent: false, headers: { connection: 'close', ...headers } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    if (body !== undefined) req.end(body);
    else req.end();
  });
}
