// A spawned `node dist/main.js` (or any node script) as an operator runs it, observed through events: output
// arriving, the process exiting. A safety net kills a run left behind (SAFETY_NET_MS); no test asserts on time.
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';

export const ROOT = path.join(__dirname, '..', '..');
export const MAIN = path.join(ROOT, 'dist', 'main.js');
// Only so a hung process cannot outlive the test file; far above any start-up on a busy machine.
const SAFETY_NET_MS = 240_000;

export interface Run {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  output(): string;
  /** Resolves with the exit code (null when killed by a signal). */
  exited: Promise<number | null>;
  /** Resolves true once `text` appeared in the output, false if the process exited first. */
  waitFor(text: string): Promise<boolean>;
  stop(signal?: NodeJS.Signals): void;
}

const runs: Run[] = [];

/** Starts `script` (default dist/main.js) with exactly this environment (plus PATH), in its own process group. */
export function startNode(env: Record<string, string>, options: { script?: string; args?: string[]; cwd?: string } = {}): Run {
  const child = spawn(process.execPath, [options.script ?? MAIN, ...(options.args ?? [])], {
    cwd: options.cwd ?? ROOT,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', TZ: 'UTC', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    // Own process group, so cluster workers die with the primary when the test kills it.
    detached: true,
  });
  let out = '';
  let err = '';
  const listeners = new Set<() => void>();
  const notify = () => {
    for (const l of [...listeners]) l();
  };
  child.stdout?.on('data', (d: Buffer) => {
    out += d.toString();
    notify();
  });
  child.stderr?.on('data', (d: Buffer) => {
    err += d.toString();
    notify();
  });
  const killGroup = (signal: NodeJS.Signals) => {
    if (child.pid === undefined) return;
    try {
      process.kill(-child.pid, signal);
    } catch {
      // Already gone.
    }
  };
  let done = false;
  const exited = new Promise<number | null>((resolve) => {
    const timer = setTimeout(() => killGroup('SIGKILL'), SAFETY_NET_MS);
    timer.unref();
    child.on('exit', (code) => {
      clearTimeout(timer);
      // Workers left behind by a dead primary.
      killGroup('SIGKILL');
      // After the pipes drained, so output() is complete when a test reads it.
      const finish = () => {
        done = true;
        notify();
        resolve(code);
      };
      if (child.stdout?.readableEnded !== false && child.stderr?.readableEnded !== false) finish();
      else child.once('close', finish);
    });
  });
  const run: Run = {
    child,
    stdout: () => out,
    stderr: () => err,
    output: () => out + err,
    exited,
    waitFor(text) {
      return new Promise((resolve) => {
        const check = () => {
          if ((out + err).includes(text)) {
            listeners.delete(check);
            resolve(true);
          } else if (done) {
            listeners.delete(check);
            resolve(false);
          }
        };
        listeners.add(check);
        check();
      });
    },
    stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    },
  };
  runs.push(run);
  return run;
}

/** Kills every run of this test file that is still alive (afterEach). */
export async function stopAll(): Promise<void> {
  for (const r of runs.splice(0)) {
    r.stop('SIGKILL');
    await r.exited;
  }
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

export function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

export function jsonLines(text: string): Record<string, unknown>[] {
  return text
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}
