// The red-team table of issue 10, rerun over loopback against the built server (node dist/main.js): each attack
// runs while a probe keeps calling discovery and a small hook call, and the report gives the probe's slowest answer,
// the server's resident memory, non-pino output lines, and the attack's own outcome. Self-contained (node only).
// Run: npm run build && npx tsc -p tsconfig.bench.json && node dist-bench/bench/attacks.js (ATTACKS_ONLY=... for some rows)
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import zlib from 'node:zlib';

const ROOT = path.join(__dirname, '..', '..');
const MB = 1024 * 1024;
const HEADERS_TIMEOUT_MS = 2000;
const DAY = 86_400_000;
/** ATTACKS_ONLY=<part of a row's name> runs only the matching rows. */
const ONLY = process.env.ATTACKS_ONLY;

type Json = Record<string, unknown>;

interface Row {
  attack: string;
  outcome: string;
  probeMaxMs: number;
  probeFailures: number;
  rssMb: number;
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Math.round(Number(m[1]) / 1024) : NaN;
}

function patient(): Json {
  return { resourceType: 'Patient', id: 'pat-1', birthDate: '2016-05-01', gender: 'female' };
}

function hookBody(prefetch: Json | undefined, extra: Json = {}): string {
  return JSON.stringify({ hook: 'patient-view', hookInstance: randomUUID(), context: { userId: 'Practitioner/dr-1', patientId: 'pat-1' }, ...(prefetch ? { prefetch } : {}), ...extra });
}

function searchset(resources: Json[]): Json {
  return { resourceType: 'Bundle', type: 'searchset', entry: resources.map((resource) => ({ resource })) };
}

function hemoglobin(i: number, when: number, unit = 'g/dL', value = 12 - (i % 5)): Json {
  return {
    resourceType: 'Observation',
    id: `hb-${i}`,
    status: 'final',
    code: { coding: [{ system: 'http://loinc.org', code: '718-7' }] },
    effectiveDateTime: new Date(when).toISOString(),
    valueQuantity: { value, unit },
  };
}

async function post(base: string, body: string | Buffer, headers: Record<string, string> = {}): Promise<{ status: number; text: string }> {
  const res = await fetch(`${base}/cds-services/iph-patient-view`, { method: 'POST', headers: { 'Content-Type': 'application/json', ...headers }, body });
  return { status: res.status, text: await res.text() };
}

/** Calls discovery and a small hook call back to back until stopped; reports the slowest answer. */
function startProbe(base: string): () => Promise<{ maxMs: number; failures: number }> {
  let running = true;
  let maxMs = 0;
  let failures = 0;
  const small = hookBody({ patient: patient(), conditions: searchset([]) });
  const loop = (async () => {
    while (running) {
      for (const call of [() => fetch(`${base}/cds-services`), () => fetch(`${base}/cds-services/iph-patient-view`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: small })]) {
        const t = performance.now();
        try {
          const res = await call();
          await res.arrayBuffer();
          if (res.status !== 200) failures++;
        } catch {
          failures++;
        }
        maxMs = Math.max(maxMs, performance.now() - t);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  return async () => {
    running = false;
    await loop;
    return { maxMs: Math.round(maxMs), failures };
  };
}

async function startServer(env: Record<string, string>): Promise<{ base: string; child: ChildProcess; output: () => string }> {
  const port = await freePort();
  const child = spawn(process.execPath, [path.join(ROOT, 'dist', 'main.js')], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', TZ: 'UTC', PORT: String(port), HOST: '127.0.0.1', CDS_HEADERS_TIMEOUT_MS: String(HEADERS_TIMEOUT_MS), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const base = `http://127.0.0.1:${port}`;
  for (;;) {
    try {
      if ((await fetch(`${base}/cds-services`)).ok) break;
    } catch {
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  // Warm both threads (each loads the definitions once).
  const small = hookBody({ patient: patient(), conditions: searchset([]) });
  await Promise.all([post(base, small), post(base, small)]);
  return { base, child, output: () => out };
}

/** An evil FHIR server: 300 MB per search, a gzip bomb for Conditions, a silent port and an HTTP non-FHIR port. */
async function startEvilFhir(): Promise<{ base: string; silentBase: string; closedBase: string; close: () => void }> {
  const bomb = zlib.gzipSync(Buffer.alloc(256 * MB, 0x20), { level: 9 });
  const server = http.createServer((req, res) => {
    if (req.url?.includes('/Patient/')) {
      res.writeHead(200, { 'Content-Type': 'application/fhir+json' }).end(JSON.stringify(patient()));
    } else if (req.url?.includes('/Condition')) {
      res.writeHead(200, { 'Content-Type': 'application/fhir+json', 'Content-Encoding': 'gzip' }).end(bomb);
    } else {
      res.writeHead(200, { 'Content-Type': 'application/fhir+json' });
      const chunk = Buffer.alloc(MB, 0x20);
      let sent = 0;
      const pump = (): void => {
        while (sent++ < 300) if (!res.write(chunk)) return void res.once('drain', pump);
        res.end();
      };
      res.write('{"resourceType":"Bundle","type":"searchset","pad":"');
      pump();
    }
  });
  const silent = net.createServer(() => undefined);
  await Promise.all([new Promise((r) => server.listen(0, '127.0.0.1', () => r(undefined))), new Promise((r) => silent.listen(0, '127.0.0.1', () => r(undefined)))]);
  const closedPort = await freePort();
  return {
    base: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}/fhir`,
    silentBase: `http://127.0.0.1:${(silent.address() as net.AddressInfo).port}/fhir`,
    closedBase: `http://127.0.0.1:${closedPort}/fhir`,
    close: () => {
      server.closeAllConnections();
      server.close();
      silent.close();
    },
  };
}

/** The silent-connection flood (run as `attacks.js flood PORT`): 20,000 connections that never send a byte. */
async function flood(port: number): Promise<string> {
  let connected = 0;
  let closedByServer = 0;
  let failed = 0;
  const sockets: net.Socket[] = [];
  // 500 connections every 20 ms; a connection counts as held once it connected and until the server closes it.
  await Promise.all(
    Array.from({ length: 20_000 }, (_, i) =>
      new Promise<void>((resolve) => {
        setTimeout(() => {
          const s = net.connect(port, '127.0.0.1');
          sockets.push(s);
          let wasConnected = false;
          s.once('connect', () => {
            wasConnected = true;
            connected++;
            resolve();
          });
          // Reset by the server (over CDS_MAX_CONNECTIONS) before or after the handshake.
          s.once('error', () => {
            if (!wasConnected) failed++;
            resolve();
          });
          // Flowing, so that the server's FIN is read and the socket closes.
          s.resume();
          s.once('close', () => {
            if (wasConnected) closedByServer++;
          });
        }, Math.floor(i / 500) * 20);
      }),
    ),
  );
  // Counted on the server's side (ss): a client may still see a socket "connected" whose handshake the server's
  // kernel never completed (its accept queue was full), which holds nothing on the server.
  const serverHeld = (): number => execFileSync('ss', ['-Htn', 'state', 'established', `( sport = :${port} )`], { encoding: 'utf8' }).split('\n').filter((l) => l.trim() !== '').length;
  const t = performance.now();
  let held = serverHeld();
  while (held > 0 && performance.now() - t < HEADERS_TIMEOUT_MS + 5000) {
    await new Promise((r) => setTimeout(r, 100));
    held = serverHeld();
  }
  const waited = Math.round(performance.now() - t);
  for (const s of sockets) s.destroy();
  return `${connected} connected (${failed} refused), ${closedByServer} closed by the server; the server held ${held} connections (the probe's keep-alive ones included) ${waited} ms after the last connected (headers timeout ${HEADERS_TIMEOUT_MS} ms)`;
}

async function main(): Promise<void> {
  const rows: Row[] = [];
  const srv = await startServer({ CDS_BODY_LIMIT: '8mb', CDS_FHIR_BUDGET_MS: '2500' });
  const pid = srv.child.pid as number;
  const now = Date.now();
  const run = async (attack: string, fn: () => Promise<string>): Promise<void> => {
    if (ONLY && !attack.includes(ONLY)) return;
    process.stderr.write(`[attacks] ${attack}\n`);
    const stop = startProbe(srv.base);
    const outcome = await fn().catch((e: unknown) => `attack client failed: ${e instanceof Error ? e.message : String(e)}`);
    const probe = await stop();
    // The next attack starts once the server takes new connections again (dropped ones are counted until closed).
    for (;;) {
      const ok = await fetch(`${srv.base}/cds-services`).then((r) => r.ok, () => false);
      if (ok) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    rows.push({ attack, outcome, probeMaxMs: probe.maxMs, probeFailures: probe.failures, rssMb: rssMb(pid) });
  };

  await run('two hemoglobin results with a 40,000-character unit (80 KB)', async () => {
    const unit = 'g/dL'.padEnd(40_000, '.(');
    const r = await post(srv.base, hookBody({ patient: patient(), conditions: searchset([]), observations: searchset([hemoglobin(1, now - DAY, unit), hemoglobin(2, now - 2 * DAY, unit)]) }));
    return `HTTP ${r.status}${r.text.includes('unit unreadable') ? ', evidence: unit unreadable' : ''}`;
  });

  await run('codes of 48,000 characters, 32 requests (4.8 MB each, 153 MB in total)', async () => {
    const statuses = new Map<number, number>();
    for (let i = 0; i < 32; i++) {
      const conditions = Array.from({ length: 100 }, (_, j) => ({ resourceType: 'Condition', id: `c${j}`, code: { coding: [{ system: 'http://hl7.org/fhir/sid/icd-10-cm', code: `R05${String(i * 100 + j).padEnd(48_000, 'x')}` }] } }));
      const r = await post(srv.base, hookBody({ patient: patient(), conditions: searchset(conditions) }));
      statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
    }
    return [...statuses].map(([s, n]) => `${n}× HTTP ${s}`).join(', ');
  });

  await run('14,000 hemoglobin results within 7 days (4.6 MB)', async () => {
    const results = Array.from({ length: 14_000 }, (_, i) => hemoglobin(i, now - (i % (7 * 1440)) * 60_000));
    const t = performance.now();
    const r = await post(srv.base, hookBody({ patient: patient(), conditions: searchset([]), observations: searchset(results) }));
    return `HTTP ${r.status} in ${Math.round(performance.now() - t)} ms`;
  });

  const MARKER = 'FORGED-7f3c';
  await run('a unit with a newline and a forged JSON line', async () => {
    const unit = `g/dL()\n{"level":30,"msg":"${MARKER}"}`;
    const r = await post(srv.base, hookBody({ patient: patient(), conditions: searchset([]), observations: searchset([hemoglobin(1, now - DAY, unit)]) }));
    return `HTTP ${r.status}`;
  });

  await run('20,000 connections that never send a byte', async () => {
    // The flood runs in its own process, so that its 20,000 sockets do not slow the probe's event loop.
    const child = spawn(process.execPath, [__filename, 'flood', new URL(srv.base).port], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    await new Promise((r) => child.once('exit', r));
    return out.trim();
  });

  const evil = await startEvilFhir();
  await run('FHIR fallback: 300 MB per search key and a gzip bomb (256 MB inflated) for Conditions', async () => {
    const r = await post(srv.base, hookBody(undefined, { fhirServer: evil.base }));
    return `HTTP ${r.status}: ${/could not be obtained: ([^"]+)"/.exec(r.text)?.[1] ?? r.text.slice(0, 80)}`;
  });

  await run('Content-Length: 999999999 announced', async () => {
    const port = Number(new URL(srv.base).port);
    const t = performance.now();
    let answeredMs = NaN;
    const first = await new Promise<string>((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => s.write('POST /cds-services/iph-patient-view HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 999999999\r\n\r\n{'));
      let got = '';
      s.on('data', (d: Buffer) => {
        if (got === '') answeredMs = performance.now() - t;
        got += d.toString();
      });
      s.on('close', () => resolve(got.split('\r\n')[0] ?? ''));
      s.on('error', () => undefined);
    });
    return `${first} after ${Math.round(answeredMs)} ms; the server closed the connection after ${Math.round(performance.now() - t)} ms`;
  });

  await run('fhirServer = loopback ports (closed, silent, HTTP non-FHIR)', async () => {
    const reasons: string[] = [];
    for (const fhirServer of [evil.closedBase, evil.silentBase, evil.base.replace('/fhir', '/web')]) {
      const r = await post(srv.base, hookBody(undefined, { fhirServer }));
      reasons.push(`${r.status} ${/could not be obtained: ([^"]+)"/.exec(r.text)?.[1] ?? '?'}`);
    }
    return [...new Set(reasons)].join(' | ');
  });
  evil.close();

  srv.child.kill('SIGTERM');
  await new Promise((r) => srv.child.once('exit', r));
  const lines = srv.output().split('\n').filter((l) => l !== '');
  const notPino = lines.filter((l) => {
    try {
      const o = JSON.parse(l) as Json;
      return typeof o.level !== 'number' || typeof o.msg !== 'string';
    } catch {
      return true;
    }
  });
  const out: string[] = ['| attack | outcome | slowest probe answer (ms) | probe failures | RSS after (MB) |', '| --- | --- | --- | --- | --- |'];
  for (const r of rows) out.push(`| ${r.attack} | ${r.outcome} | ${r.probeMaxMs} | ${r.probeFailures} | ${r.rssMb} |`);
  out.push('', `Output: ${lines.length} lines, ${notPino.length} not pino JSON, marker present: ${srv.output().includes(MARKER)}.`);
  process.stdout.write(`${out.join('\n')}\n`);
}

(process.argv[2] === 'flood' ? flood(Number(process.argv[3])).then((r) => void process.stdout.write(`${r}\n`)) : main()).catch((e: unknown) => {
  process.stderr.write(`attacks failed: ${e instanceof Error ? e.stack : String(e)}\n`);
  process.exit(1);
});
