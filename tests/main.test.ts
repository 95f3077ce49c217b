// The built entry point (node dist/main.js) as an operator runs it: development start-up with the loud
// CDS_AUTH=off warning, production refusing to start without trusted clients, broken definitions refusing to
// start (also with workers), a production start that demands tokens, and the header/body timeouts. Every wait is on an
// event (output, exit, a closed socket), never on the clock.
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { exportJWK, generateKeyPair } from 'jose';
import { canConnect, freePort, jsonLines, ROOT, startNode, stopAll } from './helpers/main-process';

const DEFINITIONS = path.join(ROOT, 'cds-services');
const AUTH_OFF_WARNING = 'CDS_AUTH=off';
// A private data directory: the server creates its SQLite file there, never in the project folder.
const startMain = (env: Record<string, string>) => startNode({ CDS_DATA_DIR: path.join(tmp, 'data'), ...env });

jest.setTimeout(240_000);

/** Sends raw bytes and resolves with the first line the server answered once it closed the connection. */
function sendPartial(port: number, data: string): Promise<string> {
  return new Promise((resolve) => {
    let received = '';
    const socket = net.connect(port, '127.0.0.1', () => socket.write(data));
    socket.on('data', (d: Buffer) => {
      received += d.toString();
    });
    socket.on('error', () => undefined);
    socket.on('close', () => resolve(received.split('\r\n')[0] ?? ''));
  });
}

let tmp: string;
let trustedClients: string;

beforeAll(async () => {
  tmp = mkdtempSync(path.join(tmpdir(), 'cds-main-'));
  const { publicKey } = await generateKeyPair('ES384');
  trustedClients = path.join(tmp, 'trusted-clients.json');
  writeFileSync(
    trustedClients,
    JSON.stringify({ clients: [{ iss: 'https://ehr.example.org/cds-client', jwks: { keys: [{ ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES384', use: 'sig' }] } }] }),
  );
}, 180_000);

afterEach(stopAll);

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
    // Printed on stderr by a process that goes on to serve (not one that is exiting).
    expect(await run.waitFor(AUTH_OFF_WARNING)).toBe(true);
    expect(run.stderr()).toContain(`WARNING: ${AUTH_OFF_WARNING}`);
    expect(run.child.exitCode).toBeNull();
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
    // null would mean the safety net had to kill a primary that kept re-forking.
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

  it('closes a connection whose headers never complete (slowloris) with a 408 once CDS_HEADERS_TIMEOUT_MS is over', async () => {
    const e = await env();
    const run = startMain(e);
    expect(await run.waitFor('/cds-services')).toBe(true);
    const firstLine = await sendPartial(Number(e.PORT), 'POST /cds-services/iph-patient-view HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ');
    // A 408 (not just a closed socket, which a dying process would also give), and the server still serves.
    expect(firstLine).toBe('HTTP/1.1 408 Request Timeout');
    expect(await canConnect(Number(e.PORT))).toBe(true);
  });

  it('closes a connection whose body never completes with a 408 once CDS_REQUEST_TIMEOUT_MS is over', async () => {
    const e = await env();
    const run = startMain(e);
    expect(await run.waitFor('/cds-services')).toBe(true);
    const head = 'POST /cds-services/iph-patient-view HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n';
    const firstLine = await sendPartial(Number(e.PORT), `${head}{"hook":"patient-view",`);
    // A 408 (not just a closed socket, which a dying process would also give), and the server still serves.
    expect(firstLine).toBe('HTTP/1.1 408 Request Timeout');
    expect(await canConnect(Number(e.PORT))).toBe(true);
  });
});
