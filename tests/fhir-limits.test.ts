// The FHIR fallback's byte caps against a real loopback server: a large answer and a gzip bomb are cut off after
// the per-key cap (counted on the decompressed stream), the key is unavailable with the one caller-facing reason
// and "response too large" as its logged cause, and the server saw the download cancelled, not read to the end.
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import zlib from 'node:zlib';
import type { HookRequest } from '../src/cds-hooks';
import { FHIR_UNAVAILABLE, fetchPrefetchKeys, type FhirFetchSettings } from '../src/fhir/client';

const MB = 1024 * 1024;
const BIG_MB = 300;
let server: http.Server;
let base: string;
/** Bytes the large-answer route managed to write before the client went away. */
let written = 0;
let largeClosed: Promise<void> = Promise.resolve();

// 64 MB of zeros compress to ~64 KB: a gzip bomb.
const bomb = zlib.gzipSync(Buffer.alloc(64 * MB, 0x20), { level: 9 });

beforeAll(async () => {
  server = http.createServer((req, res) => {
    if (req.url?.startsWith('/fhir/Patient/')) {
      res.writeHead(200, { 'Content-Type': 'application/fhir+json' });
      res.end(JSON.stringify({ resourceType: 'Patient', id: 'p1' }));
      return;
    }
    if (req.url?.startsWith('/fhir/Observation')) {
      // A "searchset" of BIG_MB MB, streamed in 1 MB chunks as fast as the client reads.
      res.writeHead(200, { 'Content-Type': 'application/fhir+json' });
      const chunk = Buffer.alloc(MB, 0x20);
      let sent = 0;
      largeClosed = once(res, 'close').then(() => undefined);
      const pump = (): void => {
        while (sent < BIG_MB) {
          sent++;
          written += chunk.length;
          if (!res.write(chunk)) {
            res.once('drain', pump);
            return;
          }
        }
        res.end();
      };
      res.write('{"resourceType":"Bundle","type":"searchset","entry":[],"pad":"');
      pump();
      return;
    }
    if (req.url?.startsWith('/fhir/Condition')) {
      res.writeHead(200, { 'Content-Type': 'application/fhir+json', 'Content-Encoding': 'gzip', 'Content-Length': String(bomb.length) });
      res.end(bomb);
      return;
    }
    if (req.url?.startsWith('/fhir/Procedure')) {
      // A valid 5 MB searchset: under the per-key cap, but two of them pass an 8 MB call cap.
      res.writeHead(200, { 'Content-Type': 'application/fhir+json' });
      res.end(JSON.stringify({ resourceType: 'Bundle', type: 'searchset', entry: [], pad: ' '.repeat(5 * MB) }));
      return;
    }
    if (req.url?.startsWith('/web/')) {
      res.writeHead(200, { 'Content-Type': 'text/html' });
      res.end('<html>not a FHIR server</html>');
      return;
    }
    res.writeHead(404).end();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/fhir`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

const settings: FhirFetchSettings = { allowedServers: [], production: false, budgetMs: 20_000, maxPages: 5, maxResources: 1000, maxBytes: 12 * MB, maxKeyBytes: 4 * MB };

function request(): HookRequest {
  return { hook: 'patient-view', hookInstance: 'c1d6e1a8-5e2c-4a57-9d2b-6a0b3c1c9f10', fhirServer: base, context: { userId: 'Practitioner/d', patientId: 'p1' } };
}

describe('FHIR fallback byte caps', () => {
  it('cuts a 300 MB answer off at the per-key cap; the small key of the same call is still read', async () => {
    const out = await fetchPrefetchKeys(request(), { patient: 'Patient/{{context.patientId}}', observations: 'Observation?patient={{context.patientId}}' }, settings);
    expect(out.patient).toEqual({ ok: true, value: { resourceType: 'Patient', id: 'p1' } });
    expect(out.observations).toEqual({ ok: false, reason: FHIR_UNAVAILABLE, cause: 'response too large' });
    await largeClosed;
    // The download was cancelled: the server could not push the whole answer (socket buffers allow some slack).
    expect(written).toBeLessThan(BIG_MB * MB);
  });

  it('counts a gzip bomb after decompression: the key is unavailable, "response too large"', async () => {
    const out = await fetchPrefetchKeys(request(), { conditions: 'Condition?patient={{context.patientId}}' }, settings);
    expect(out.conditions).toEqual({ ok: false, reason: FHIR_UNAVAILABLE, cause: 'response too large' });
  });

  it('caps the hook call as a whole: keys under the per-key cap fail once their sum passes the call cap', async () => {
    const keys = { a: 'Procedure?patient=1', b: 'Procedure?patient=2' };
    const roomy = await fetchPrefetchKeys(request(), keys, { ...settings, maxKeyBytes: 6 * MB, maxBytes: 12 * MB });
    expect([roomy.a?.ok, roomy.b?.ok]).toEqual([true, true]);
    const tight = await fetchPrefetchKeys(request(), keys, { ...settings, maxKeyBytes: 6 * MB, maxBytes: 8 * MB });
    const failed = Object.values(tight).filter((o) => !o.ok);
    expect(failed.length).toBeGreaterThan(0);
    for (const o of failed) expect(o).toEqual({ ok: false, reason: FHIR_UNAVAILABLE, cause: 'response too large' });
  });

  it('gives every unreachable or failing server the same reason (closed port, HTTP error, not FHIR)', async () => {
    const closed = http.createServer();
    closed.listen(0, '127.0.0.1');
    await once(closed, 'listening');
    const closedPort = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const reasons = new Set<string>();
    const causes = new Set<string>();
    for (const fhirServer of [`http://127.0.0.1:${closedPort}/fhir`, base, base.replace(/\/fhir$/, '/web')]) {
      const out = await fetchPrefetchKeys({ ...request(), fhirServer }, { k: 'Encounter?patient=1' }, settings);
      const o = out.k;
      if (!o || o.ok) throw new Error('expected a failure');
      reasons.add(o.reason);
      causes.add(o.cause ?? '');
    }
    expect([...reasons]).toEqual([FHIR_UNAVAILABLE]);
    // The log still tells them apart.
    expect(causes.size).toBe(3);
  });
});
