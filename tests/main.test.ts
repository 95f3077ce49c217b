// The built entry point (node dist/main.js) as an operator runs it: development start-up with the loud
// CDS_AUTH=off warning, production refusing to start without trusted clients, broken definitions refusing to
// start (also with workers), a production start that demands tokens, and the header/body timeouts.
// Every spawned process is killed after 10 s at the latest.
import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { exportJWK, generateKeyPair } from 'jose';

const ROOT = path.join(__dirname, '..');
const MAIN = path.join(ROOT, 'dist', 'main.js');
const DEFINITIONS = path.join(ROOT, 'cds-services');
const SPAWN_LIMIT_MS = 10_000;
const AUTH_OFF_WARNING = 'CDS_AUTH=off';

interface Run {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  output(): string;
  /** Resolves with the exit code (null when killed by a signal), after at most SPAWN_LIMIT_MS. */
  exited: Promise<number | null>;
  waitFor(text: string): Promise<boolean>;
  stop(signal?: NodeJS.Signals): void;
}

const runs: Run[] = [];

/** Starts dist/main.js with exactly this environment (plus PATH), in its own process group. */
function startMain(env: Record<string, string>): Run {
  const child = spawn(process.execPath, [MAIN], {
    cwd: ROOT,
    // A private data directory: the server creates its SQLite file there, never in the project folder.
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', TZ: 'UTC', CDS_DATA_DIR: path.join(tmp, 'data'), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    // Own process group, so cluster workers die with the primary when the test kills it.
    detached: true,
  });
  let out = '';
  let err = '';
  const listeners = new Set<() => void>();
  child.stdout?.on('data', (d: Buffer) => {
    out += d.toString();
    for (const l of listeners) l();
  });
  child.stderr?.on('data', (d: Buffer) => {
    err += d.toString();
    for (const l of listeners) l();
  });
  const killGroup = (signal: NodeJS.Signals) => {
    if (child.pid === undefined) return;
    try {
      process.kill(-child.pid, signal);
    } catch {
      // Already gone.
    }
  };
  const exited = new Promise<number | null>((resolve) => {
    const timer = setTimeout(() => killGroup('SIGKILL'), SPAWN_LIMIT_MS);
    child.on('exit', (code) => {
      clearTimeout(timer);
      // Workers left behind by a dead primary.
      killGroup('SIGKILL');
      resolve(code);
    });
  });
  let done = false;
  void exited.then(() => {
    done = true;
    for (const l of listeners) l();
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

async function freePort(): Promise<number> {
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

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

interface SocketResult {
  firstLine: string;
  closedWithinMs: number | null;
}

/** Sends raw bytes and waits (bounded) for the server to answer and close the connection. */
function sendPartial(port: number, data: string, waitMs: number): Promise<SocketResult> {
  return new Promise((resolve) => {
    const started = Date.now();
    let received = '';
    const socket = net.connect(port, '127.0.0.1', () => socket.write(data));
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({ firstLine: received.split('\r\n')[0] ?? '', closedWithinMs: null });
    }, waitMs);
    socket.on('data', (d: Buffer) => {
      received += d.toString();
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ firstLine: received.split('\r\n')[0] ?? '', closedWithinMs: Date.now() - started });
    });
  });
}

function jsonLines(text: string): Record<string, unknown>[] {
  return text
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

let tmp: string;
let trustedClients: string;

beforeAll(async () => {
  try {
    execFileSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'pipe', timeout: 120_000 });
  } catch (e) {
    // tsc still emits when another file in the tree has a type error; only a missing entry point is fatal here.
    const out = (e as { stdout?: Buffer }).stdout?.toString() ?? String(e);
    if (!existsSync(MAIN)) throw new Error(`npm run build produced no dist/main.js:\n${out}`);
    console.warn(`npm run build reported errors (continuing with the emitted dist/):\n${out.slice(0, 2000)}`);
  }
  tmp = mkdtempSync(path.join(tmpdir(), 'cds-main-'));
  const { publicKey } = await generateKeyPair('ES384');
  trustedClients = path.join(tmp, 'trusted-clients.json');
  writeFileSync(
    trustedClients,
    JSON.stringify({ clients: [{ iss: 'https://ehr.example.org/cds-client', jwks: { keys: [{ ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES384', use: 'sig' }] } }] }),
  );
}, 180_000);

afterEach(async () => {
  for (const r of runs.splice(0)) {
    r.stop('SIGKILL');
    await r.exited;
  }
});

describe('development start-up', () => {
  it('starts with a loud CDS_AUTH=off warning, answers discovery, and stops cleanly on SIGTERM', async () => {
    const port = await freePort();
    const run = startMain({ PORT: String(port), HOST: '127.0.0.1' });
    expect(await run.waitFor('/cds-services')).toBe(true);

    const warning = jsonLines(run.stdout()).find((l) => String(l.msg).includes(AUTH_OFF_WARNING));
    expect(warning).toBeDefined();
    expect(warning!.level).toBe(40);
    expect(String(warning!.msg)).toMatch(/NOT verified/);

    const res = await fetch(`http://127.0.0.1:${port}/cds-services`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { services: { id: string }[] };
    expect(body.services.map((s) => s.id).sort()).toEqual(['iph-order-select', 'iph-order-sign', 'iph-patient-view']);
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');

    run.stop('SIGTERM');
    expect(await run.exited).toBe(0);
  });

  it('keeps the CDS_AUTH=off warning even when LOG_LEVEL=error would hide warnings', async () => {
    const port = await freePort();
    const run = startMain({ PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'error' });
    // Discovery must answer, so the process is up; the warning must have been printed by then.
    let up = false;
    for (let i = 0; i < 40 && !up; i++) {
      up = await canConnect(port);
      if (!up) await new Promise((r) => setTimeout(r, 200));
    }
    expect(up).toBe(true);
    expect(run.output()).toContain(AUTH_OFF_WARNING);
  });
});

describe('production start-up', () => {
  it('exits non-zero with a clear message and never listens when no trusted-clients file is set', async () => {
    const port = await freePort();
    const run = startMain({ NODE_ENV: 'production', PORT: String(port), HOST: '127.0.0.1', CDS_CORS_ORIGINS: 'https://ehr.example.org' });
    const code = await run.exited;
    expect(code).not.toBe(0);
    expect(code).not.toBeNull();
    expect(run.stderr()).toContain('Configuration error: CDS_AUTH is "jwt" (the default when NODE_ENV=production) but CDS_TRUSTED_CLIENTS');
    expect(run.stdout()).not.toContain('/cds-services');
    expect(await canConnect(port)).toBe(false);
  });

  it('exits non-zero naming CDS_CORS_ORIGINS when it is missing', async () => {
    const run = startMain({ NODE_ENV: 'production', PORT: String(await freePort()), CDS_TRUSTED_CLIENTS: trustedClients });
    expect(await run.exited).toBe(1);
    expect(run.stderr()).toContain('CDS_CORS_ORIGINS must list the allowed browser origins in production');
  });

  it('starts with trusted clients, prints no auth-off warning, and answers 401 without a token', async () => {
    const port = await freePort();
    const run = startMain({
      NODE_ENV: 'production',
      PORT: String(port),
      HOST: '127.0.0.1',
      CDS_WORKERS: '1',
      CDS_CORS_ORIGINS: 'https://ehr.example.org',
      CDS_TRUSTED_CLIENTS: trustedClients,
      CDS_PUBLIC_URL: 'https://cds.example.org',
      CDS_PSEUDONYM_KEY: 'main-test-pseudonym-key-0123456789abcdef',
    });
    expect(await run.waitFor('/cds-services')).toBe(true);
    expect(run.output()).not.toContain(AUTH_OFF_WARNING);
    const res = await fetch(`http://127.0.0.1:${port}/cds-services`);
    expect(res.status).toBe(401);
    expect(res.headers.get('content-type')).toMatch(/^application\/fhir\+json/);
  });
});

describe('broken service definitions', () => {
  let brokenDir: string;

  beforeAll(() => {
    brokenDir = path.join(tmp, 'cds-services-broken');
    cpSync(DEFINITIONS, brokenDir, { recursive: true });
    const file = path.join(brokenDir, 'iph-patient-view.json');
    const def = JSON.parse(readFileSync(file, 'utf8')) as { expressions: Record<string, string> };
    def.expressions.showEvaluation = '%iphDiagnosed.not( and';
    writeFileSync(file, JSON.stringify(def, null, 2));
  });

  it('exits non-zero printing file#pointer of the defect, and never listens', async () => {
    const port = await freePort();
    const run = startMain({ PORT: String(port), HOST: '127.0.0.1', CDS_DEFINITIONS_DIR: brokenDir });
    const code = await run.exited;
    expect(code).toBe(1);
    expect(run.stderr()).toContain('not starting');
    expect(run.stderr()).toContain('iph-patient-view.json#/expressions/showEvaluation');
    expect(await canConnect(port)).toBe(false);
  });

  it('also exits non-zero with CDS_WORKERS=2 instead of re-forking failing workers forever', async () => {
    const run = startMain({ PORT: String(await freePort()), HOST: '127.0.0.1', CDS_DEFINITIONS_DIR: brokenDir, CDS_WORKERS: '2' });
    const code = await run.exited;
    // null means the 10 s guard had to kill it.
    expect(code).toBe(1);
    expect(run.output()).toContain('iph-patient-view.json#/expressions/showEvaluation');
  });
});

describe('server timeouts', () => {
  const env = async () => ({
    PORT: String(await freePort()),
    HOST: '127.0.0.1',
    CDS_HEADERS_TIMEOUT_MS: '1000',
    CDS_REQUEST_TIMEOUT_MS: '2000',
  });

  it('closes a connection whose headers never complete (slowloris) soon after CDS_HEADERS_TIMEOUT_MS', async () => {
    const e = await env();
    const run = startMain(e);
    expect(await run.waitFor('/cds-services')).toBe(true);
    const result = await sendPartial(Number(e.PORT), 'POST /cds-services/iph-patient-view HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ', 5000);
    expect(result.closedWithinMs).not.toBeNull();
    // A 408 (not just a closed socket, which a dying process would also give).
    expect(result.firstLine).toBe('HTTP/1.1 408 Request Timeout');
  });

  it('closes a connection whose body never completes soon after CDS_REQUEST_TIMEOUT_MS', async () => {
    const e = await env();
    const run = startMain(e);
    expect(await run.waitFor('/cds-services')).toBe(true);
    const head = 'POST /cds-services/iph-patient-view HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n';
    const result = await sendPartial(Number(e.PORT), `${head}{"hook":"patient-view",`, 5000);
    expect(result.closedWithinMs).not.toBeNull();
    // A 408 (not just a closed socket, which a dying process would also give).
    expect(result.firstLine).toBe('HTTP/1.1 408 Request Timeout');
  });
});
