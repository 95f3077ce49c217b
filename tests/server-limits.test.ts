// What no request can do to the built server (issue 10): forge log lines through a library's console output, hold
// a silent socket past CDS_HEADERS_TIMEOUT_MS, make it wait for an announced huge body, or open more connections
// than CDS_MAX_CONNECTIONS. Every wait is on an event (output, a closed socket), never on the clock.
import { mkdtempSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort, jsonLines, startNode, stopAll } from './helpers/main-process';

jest.setTimeout(240_000);

let tmp: string;
const startMain = (env: Record<string, string>) => startNode({ CDS_DATA_DIR: path.join(tmp, 'data'), ...env });

beforeAll(() => {
  tmp = mkdtempSync(path.join(tmpdir(), 'cds-limits-'));
}, 240_000);

afterEach(stopAll);

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
    const run = startMain({ PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'debug' });
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
  });

  it('closes a connection that sends nothing once CDS_HEADERS_TIMEOUT_MS has passed (not only slow headers)', async () => {
    const port = await freePort();
    // The request timeout is far away: only the headers deadline can close this socket.
    const run = startMain({ PORT: String(port), HOST: '127.0.0.1', CDS_HEADERS_TIMEOUT_MS: '1000', CDS_REQUEST_TIMEOUT_MS: '300000' });
    expect(await run.waitFor('/cds-services')).toBe(true);
    const silent = rawSocket(port);
    expect(await silent.closed).toBe('');
    // The server is alive and serving.
    expect((await fetch(`http://127.0.0.1:${port}/cds-services`)).status).toBe(200);
  });

  it('answers 413 to an announced Content-Length over the limit without waiting for the body', async () => {
    const port = await freePort();
    // Both timeouts are far away: an answer now can only come from the announced length.
    const run = startMain({ PORT: String(port), HOST: '127.0.0.1', CDS_HEADERS_TIMEOUT_MS: '60000', CDS_REQUEST_TIMEOUT_MS: '300000' });
    expect(await run.waitFor('/cds-services')).toBe(true);
    const head = 'POST /cds-services/iph-patient-view HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 999999999\r\n\r\n';
    const socket = rawSocket(port, `${head}{"hook":`);
    const received = await socket.answered;
    socket.destroy();
    expect(received.split('\r\n')[0]).toBe('HTTP/1.1 413 Payload Too Large');
  });

  it('at CDS_MAX_CONNECTIONS, a new connection closes the oldest one that has not sent a request (a silent flood locks nobody out)', async () => {
    const port = await freePort();
    const run = startMain({ PORT: String(port), HOST: '127.0.0.1', CDS_MAX_CONNECTIONS: '2', CDS_HEADERS_TIMEOUT_MS: '60000', CDS_REQUEST_TIMEOUT_MS: '300000' });
    expect(await run.waitFor('/cds-services')).toBe(true);
    // Node accepts connections in arrival order: connected one after the other, `first` is the oldest.
    const first = rawSocket(port);
    await first.connected;
    const second = rawSocket(port);
    await second.connected;
    const client = rawSocket(port, 'GET /cds-services HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    expect((await client.answered).split('\r\n')[0]).toBe('HTTP/1.1 200 OK');
    expect(await first.closed).toBe('');
    expect([second.open(), client.open()]).toEqual([true, true]);
    second.destroy();
    client.destroy();
  });

  it('drops a new connection when every open one has sent a request, and keeps those', async () => {
    const port = await freePort();
    const run = startMain({ PORT: String(port), HOST: '127.0.0.1', CDS_MAX_CONNECTIONS: '2', CDS_HEADERS_TIMEOUT_MS: '60000', CDS_REQUEST_TIMEOUT_MS: '300000', CDS_KEEP_ALIVE_TIMEOUT_MS: '60000' });
    expect(await run.waitFor('/cds-services')).toBe(true);
    const discovery = 'GET /cds-services HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n';
    const first = rawSocket(port, discovery);
    const second = rawSocket(port, discovery);
    await Promise.all([first.answered, second.answered]);
    const third = rawSocket(port);
    expect(await third.closed).toBe('');
    expect([first.open(), second.open()]).toEqual([true, true]);
    first.destroy();
    second.destroy();
  });
});
