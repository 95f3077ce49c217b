// The built entry point (node dist/main.js) as an operator runs it: development start-up with the loud
// CDS_AUTH=off warning, production refusing to start without trusted clients, broken definitions refusing to
// start (also with workers), a production start that demands tokens, and the header/body timeouts.
// Also what no request can do to it: forge log lines, hold silent sockets, make it wait for an announced huge body,
// or open more connections than CDS_MAX_CONNECTIONS. Every spawned process is killed after 10 s (60 s for the
// robustness checks, which tolerate a slow start on a busy machine) at the latest.
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
function startMain(env: Record<string, string>, limitMs = SPAWN_LIMIT_MS): Run {
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
    const timer = setTimeout(() => killGroup('SIGKILL'), limitMs);
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

/** Resolves when the server closes the socket, with what it sent; `open` reports whether it is still open. */
function rawSocket(port: number, data?: string): { connected: Promise<void>; answered: Promise<string>; closed: Promise<string>; open(): boolean; destroy(): void } {
  let received = '';
  let onData: (text: string) => void = () => undefined;
  const answered = new Promise<string>((resolve) => (onData = resolve));
  let onConnect: () => void = () => undefined;
  const connected = new Promise<void>((resolve) => (onConnect = resolve));
  const socket = net.connect(port, '127.0.0.1', () => {
    if (data !== undefined) socket.write(data);
    onConnect();
  });
  socket.on('data', (d: Buffer) => {
    received += d.toString();
    onData(received);
  });
  socket.on('error', () => undefined);
  const closed = new Promise<string>((resolve) => socket.on('close', () => resolve(received)));
  return { connected, answered, closed, open: () => !socket.destroyed, destroy: () => socket.destroy() };
}

describe('what no request can do to the server', () => {
  const MARKER = 'FORGED-LINE-7f3c';

  it('never prints what a library writes: a unit with a newline and a forged JSON line leaves only pino lines', async () => {
    const port = await freePort();
    const run = startMain({ PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'debug' }, 60_000);
    expect(await run.waitFor('/cds-services')).toBe(true);
    // "()" makes the UCUM parser throw, and its catch block console.logs the unit string as it came.
    const unit = `g/dL()\n{"level":30,"msg":"${MARKER}"}`;
    const hemoglobin = (id: string, day: string) => ({
      resourceType: 'Observation',
      id,
      status: 'final',
      code: { coding: [{ system: 'http://loinc.org', code: '718-7' }] },
      effectiveDateTime: day,
      valueQuantity: { value: 7.1, unit },
    });
    const now = Date.now();
    const body = {
      hook: 'patient-view',
      hookInstance: 'd2f4b7a0-0000-4000-8000-00000000f0f0',
      context: { userId: 'Practitioner/dr-1', patientId: 'pat-1' },
      prefetch: {
        patient: { resourceType: 'Patient', id: 'pat-1', birthDate: '2016-05-01', gender: 'female' },
        conditions: { resourceType: 'Bundle', type: 'searchset', entry: [] },
        observations: {
          resourceType: 'Bundle',
          type: 'searchset',
          entry: [hemoglobin('hb-1', new Date(now - 86_400_000).toISOString()), hemoglobin('hb-2', new Date(now - 3 * 86_400_000).toISOString())].map((resource) => ({ resource })),
        },
      },
    };
    const res = await fetch(`http://127.0.0.1:${port}/cds-services/iph-patient-view`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
    expect(res.status).toBe(200);
    expect(await run.waitFor('a library wrote to the console during the call')).toBe(true);
    run.stop('SIGTERM');
    await run.exited;
    const lines = run.output().split('\n').filter((l) => l !== '');
    for (const line of lines) {
      const parsed = JSON.parse(line) as Record<string, unknown>;
      expect(typeof parsed.level).toBe('number');
      expect(typeof parsed.msg).toBe('string');
    }
    expect(run.output()).not.toContain(MARKER);
    // The library really was reached (and silenced) during this call.
    expect(jsonLines(run.stdout()).find((l) => l.msg === 'a library wrote to the console during the call; suppressed')).toMatchObject({ service: 'iph-patient-view' });
  }, 70_000);

  it('closes a connection that sends nothing once CDS_HEADERS_TIMEOUT_MS has passed (not only slow headers)', async () => {
    const port = await freePort();
    // The request timeout is far away: only the headers deadline can close this socket.
    const run = startMain({ PORT: String(port), HOST: '127.0.0.1', CDS_HEADERS_TIMEOUT_MS: '1000', CDS_REQUEST_TIMEOUT_MS: '300000' }, 60_000);
    expect(await run.waitFor('/cds-services')).toBe(true);
    const silent = rawSocket(port);
    expect(await silent.closed).toBe('');
    // The server is alive and serving.
    expect((await fetch(`http://127.0.0.1:${port}/cds-services`)).status).toBe(200);
  }, 70_000);

  it('answers 413 to an announced Content-Length over the limit without waiting for the body', async () => {
    const port = await freePort();
    // Both timeouts are far away: an answer now can only come from the announced length.
    const run = startMain({ PORT: String(port), HOST: '127.0.0.1', CDS_HEADERS_TIMEOUT_MS: '60000', CDS_REQUEST_TIMEOUT_MS: '300000' }, 60_000);
    expect(await run.waitFor('/cds-services')).toBe(true);
    const head = 'POST /cds-services/iph-patient-view HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 999999999\r\n\r\n';
    const socket = rawSocket(port, `${head}{"hook":`);
    const received = await socket.answered;
    socket.destroy();
    expect(received.split('\r\n')[0]).toBe('HTTP/1.1 413 Payload Too Large');
  }, 70_000);

  it('drops connections beyond CDS_MAX_CONNECTIONS and keeps the others', async () => {
    const port = await freePort();
    const run = startMain({ PORT: String(port), HOST: '127.0.0.1', CDS_MAX_CONNECTIONS: '2', CDS_HEADERS_TIMEOUT_MS: '60000', CDS_REQUEST_TIMEOUT_MS: '300000' }, 60_000);
    expect(await run.waitFor('/cds-services')).toBe(true);
    const first = rawSocket(port);
    const second = rawSocket(port);
    // Node accepts connections in arrival order: once both are connected, the third is the one over the cap.
    await Promise.all([first.connected, second.connected]);
    const third = rawSocket(port);
    expect(await third.closed).toBe('');
    expect([first.open(), second.open()]).toEqual([true, true]);
    first.destroy();
    second.destroy();
  }, 70_000);
});
