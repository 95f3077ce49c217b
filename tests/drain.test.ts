// Graceful drain of the built server under keep-alive load: up to 200 hook calls on 8 kept-alive connections with a
// SIGTERM after the 100th answer. No request may be reset: calls in flight finish with 200, a call that arrives on a
// kept-alive connection during the drain is answered with `Connection: close`, and the process exits 0. Each
// connection's client stops when told to close (as a load balancer moves to another backend). Sequenced by events only.
import http from 'node:http';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import nock from 'nock';
import type { ServiceDefinition } from '../src/definitions/types';
import { buildRequest, FIXTURES, type GoldenCase } from './helpers/golden';
import { freePort, startNode, stopAll, type Run } from './helpers/main-process';

jest.setTimeout(240_000);

const CONNECTIONS = 8;
const TOTAL = 200;
const SIGNAL_AFTER = 100;

interface Answer {
  status?: number;
  connection?: string;
  error?: string;
  afterSignal: boolean;
}

beforeAll(() => {
  // nock's interceptor would stand between this client and the server (and drop keep-alive): a real client here.
  nock.restore();
});
afterEach(stopAll);

async function hookBody(port: number): Promise<string> {
  const discovery = (await (await fetch(`http://127.0.0.1:${port}/cds-services`)).json()) as { services: { id: string; hook: string; prefetch: Record<string, string> }[] };
  const pv = discovery.services.find((s) => s.id === 'iph-patient-view')!;
  const service = { hook: pv.hook, prefetch: Object.fromEntries(Object.entries(pv.prefetch).map(([k, query]) => [k, { query, required: false }])) } as unknown as ServiceDefinition;
  const c = JSON.parse(readFileSync(path.join(FIXTURES, 'cases', 'iph-patient-view', 'dah-triad-adult-warning.json'), 'utf8')) as GoldenCase;
  return JSON.stringify(buildRequest(service, c));
}

function post(agent: http.Agent, port: number, body: string, signalled: () => boolean): Promise<Answer> {
  return new Promise((resolve) => {
    const req = http.request(
      { host: '127.0.0.1', port, method: 'POST', path: '/cds-services/iph-patient-view', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } },
      (res) => {
        const afterSignal = signalled();
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode, connection: res.headers.connection, afterSignal }));
        res.on('error', (e: NodeJS.ErrnoException) => resolve({ error: e.code ?? e.message, afterSignal }));
      },
    );
    req.on('error', (e: NodeJS.ErrnoException) => resolve({ error: e.code ?? e.message, afterSignal: signalled() }));
    req.end(body);
  });
}

async function loadWithSigterm(run: Run, port: number): Promise<Answer[]> {
  const body = await hookBody(port);
  const agent = new http.Agent({ keepAlive: true, maxSockets: CONNECTIONS });
  const answers: Answer[] = [];
  let sent = 0;
  let signalled = false;
  const lane = async () => {
    while (sent < TOTAL) {
      sent += 1;
      const answer = await post(agent, port, body, () => signalled);
      answers.push(answer);
      if (answers.length === SIGNAL_AFTER) {
        signalled = true;
        run.stop('SIGTERM');
      }
      if (answer.connection === 'close' || answer.error !== undefined) return;
    }
  };
  await Promise.all(Array.from({ length: CONNECTIONS }, lane));
  agent.destroy();
  return answers;
}

function expectNoReset(answers: Answer[]): void {
  expect(answers.filter((a) => a.error !== undefined)).toEqual([]);
  expect(answers.filter((a) => a.status !== 200)).toEqual([]);
  expect(answers.length).toBeGreaterThan(SIGNAL_AFTER);
  expect(answers.length).toBeLessThanOrEqual(TOTAL);
  // Before the signal every answer kept its connection open.
  expect(answers.filter((a) => !a.afterSignal && a.connection === 'close')).toEqual([]);
  // Every one of the 8 connections was told to close by an answer (none was cut, none left open).
  expect(answers.filter((a) => a.connection === 'close')).toHaveLength(CONNECTIONS);
}

describe('graceful drain under keep-alive load', () => {
  it.each([
    ['one process', '1'],
    ['cluster mode, 2 workers', '2'],
  ])('%s: no request is reset, in-flight calls finish, kept-alive connections are told to close, exit 0', async (_name, workers) => {
    const port = await freePort();
    const run = startNode({ PORT: String(port), HOST: '127.0.0.1', CDS_WORKERS: workers, CDS_SHUTDOWN_GRACE_MS: '60000', LOG_LEVEL: 'info' });
    expect(await run.waitFor('CDS Hooks discovery at')).toBe(true);
    const answers = await loadWithSigterm(run, port);
    expect(await run.exited).toBe(0);
    expectNoReset(answers);
    expect(run.output()).toContain('draining');
    expect(run.output()).toContain('drained; exiting');
  });
});
