// Replay protection across processes, with the real server: a token replayed 20 times is accepted 0 times with
// CDS_WORKERS=2 on one SQLite file, and with two instances sharing one PostgreSQL; an issuer at its quota of live
// jtis is refused while another issuer's calls are answered 200.
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { exportJWK, generateKeyPair, SignJWT, type KeyLike } from 'jose';
import { buildServer, call, freePort, killAll, startServer, type Server } from './helpers/spawned-server';
import { createTestSchema, describeWithPostgres, type TestSchema } from './helpers/test-database';

const ISS_A = 'https://ehr-a.example.org';
const ISS_B = 'https://ehr-b.example.org';
const PSEUDONYM_KEY = 'replay-test-pseudonym-key-0123456789';

let build: { main: string; remove(): void };
let dir: string;
let clientsFile: string;
const keys = new Map<string, KeyLike>();

beforeAll(async () => {
  build = buildServer('replay-dist');
  dir = mkdtempSync(path.join(tmpdir(), 'cds-replay-'));
  const entries = [];
  for (const iss of [ISS_A, ISS_B]) {
    const { privateKey, publicKey } = await generateKeyPair('ES384');
    keys.set(iss, privateKey);
    entries.push({ iss, jwks: { keys: [{ ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES384', use: 'sig' }] } });
  }
  clientsFile = path.join(dir, 'trusted-clients.json');
  writeFileSync(clientsFile, JSON.stringify({ clients: entries }));
}, 240_000);

afterAll(() => {
  killAll();
  build?.remove();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function mint(iss: string, audience: string, jti: string = randomUUID()): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ jti })
    .setProtectedHeader({ alg: 'ES384', typ: 'JWT', kid: 'k1' })
    .setIssuer(iss)
    .setAudience(audience)
    .setIssuedAt(now)
    .setExpirationTime(now + 300)
    .sign(keys.get(iss)!);
}

/** Environment of one server; all servers of a test share publicUrl so one token fits every one of them. */
function env(publicUrl: string, extra: Record<string, string>): Record<string, string> {
  return { CDS_AUTH: 'jwt', CDS_TRUSTED_CLIENTS: clientsFile, CDS_PUBLIC_URL: publicUrl, CDS_PSEUDONYM_KEY: PSEUDONYM_KEY, LOG_LEVEL: 'info', ...extra };
}

const discovery = (s: Server, token: string) => call(s.port, 'GET', '/cds-services', { authorization: `Bearer ${token}` });

/** The first use, then 20 replays spread over the servers (10 of them concurrently). */
async function replayTwenty(servers: Server[], publicUrl: string): Promise<{ first: number; acceptedReplays: number }> {
  const token = await mint(ISS_A, `${publicUrl}/cds-services`);
  const first = (await discovery(servers[0]!, token)).status;
  const sequential: number[] = [];
  for (let i = 0; i < 10; i++) sequential.push((await discovery(servers[i % servers.length]!, token)).status);
  const concurrent = await Promise.all(Array.from({ length: 10 }, (_, i) => discovery(servers[i % servers.length]!, token).then((r) => r.status)));
  const replays = [...sequential, ...concurrent];
  expect(replays.every((s) => s === 200 || s === 401)).toBe(true);
  return { first, acceptedReplays: replays.filter((s) => s === 200).length };
}

/** Issuer A uses up its quota; then A is refused and B still answered. */
async function floodQuota(servers: Server[], publicUrl: string, quota: number): Promise<void> {
  const aud = `${publicUrl}/cds-services`;
  for (let i = 0; i < quota; i++) expect((await discovery(servers[i % servers.length]!, await mint(ISS_A, aud))).status).toBe(200);
  for (const s of servers) {
    expect((await discovery(s, await mint(ISS_A, aud))).status).toBe(401);
    expect((await discovery(s, await mint(ISS_B, aud))).status).toBe(200);
  }
}

const pidsThatAnswered = (s: Server) =>
  new Set(
    s
      .output()
      .split('\n')
      .filter((l) => l.includes('"msg":"cds call"'))
      .map((l) => (JSON.parse(l) as { pid: number }).pid),
  );

describe('CDS_WORKERS=2 on one SQLite file', () => {
  let server: Server;
  let publicUrl: string;
  beforeAll(async () => {
    const port = await freePort();
    publicUrl = `http://127.0.0.1:${port}`;
    server = startServer(build.main, port, env(publicUrl, { CDS_WORKERS: '2', CDS_DATA_DIR: path.join(dir, 'workers'), CDS_REPLAY_QUOTA: '6' }));
    await server.ready(2);
  }, 120_000);
  afterAll(() => server?.stop());

  it('accepts a replayed token 0 of 20 times, though both workers answered', async () => {
    const { first, acceptedReplays } = await replayTwenty([server], publicUrl);
    expect(first).toBe(200);
    expect(acceptedReplays).toBe(0);
    expect(pidsThatAnswered(server).size).toBe(2);
  });

  it('an issuer at its quota is refused (with a log line) while another issuer is answered 200', async () => {
    // The replay test above left 1 live jti of issuer A: 5 more fill its quota of 6.
    await floodQuota([server], publicUrl, 5);
    expect(server.output()).toContain('replay quota of this issuer is full');
  });
});

describeWithPostgres('two instances sharing one PostgreSQL', () => {
  let schema: TestSchema;
  let servers: Server[];
  let publicUrl: string;
  beforeAll(async () => {
    schema = await createTestSchema();
    const ports = [await freePort(), await freePort()];
    // One public URL, as behind a load balancer: the same token is valid at both instances.
    publicUrl = 'https://cds.example.org';
    servers = ports.map((p, i) =>
      startServer(build.main, p, env(publicUrl, { CDS_WORKERS: '1', CDS_DATABASE_URL: schema.url, CDS_DATA_DIR: path.join(dir, `pg-${i}`), CDS_REPLAY_QUOTA: '6' })),
    );
    // Started together: the migration lock lets both come up.
    await Promise.all(servers.map((s) => s.ready(1)));
  }, 120_000);
  afterAll(async () => {
    await Promise.all((servers ?? []).map((s) => s.stop()));
    await schema?.drop();
  });

  it('accepts a replayed token 0 of 20 times across the instances', async () => {
    const { first, acceptedReplays } = await replayTwenty(servers, publicUrl);
    expect(first).toBe(200);
    expect(acceptedReplays).toBe(0);
  });

  it('an issuer at its quota is refused at both instances; another issuer is answered 200', async () => {
    await floodQuota(servers, publicUrl, 5);
  });
});
