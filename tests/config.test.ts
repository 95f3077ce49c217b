// readConfig: development defaults, parsing and rejection of every security-relevant variable, and the
// production rules (explicit CORS origins, a valid trusted-clients file unless CDS_AUTH=off is said out loud).
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { exportJWK, generateKeyPair } from 'jose';
import type { JWK } from 'jose';
import { readConfig } from '../src/service';

const EHR_ORIGIN = 'https://ehr.example.org';
const SANDBOX_JWKS = 'https://sandbox.cds-hooks.org/.well-known/jwks.json';

let dir: string;
let publicJwk: JWK;
let privateJwk: JWK;

function writeJson(name: string, value: unknown): string {
  const file = path.join(dir, name);
  writeFileSync(file, typeof value === 'string' ? value : JSON.stringify(value));
  return file;
}

let validClients: string;

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'cds-config-'));
  const { publicKey, privateKey } = await generateKeyPair('ES384', { extractable: true });
  publicJwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES384', use: 'sig' };
  privateJwk = { ...(await exportJWK(privateKey)), kid: 'k1' };
  validClients = writeJson('clients.json', {
    clients: [
      { iss: 'https://ehr.example.org/cds-client', jwks: { keys: [publicJwk] } },
      { iss: 'https://sandbox.cds-hooks.org', jwksUrl: SANDBOX_JWKS, allowedJku: [SANDBOX_JWKS] },
    ],
  });
});

/** A production environment that passes, to vary one variable at a time. */
const production = (extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => ({
  NODE_ENV: 'production',
  CDS_CORS_ORIGINS: EHR_ORIGIN,
  CDS_TRUSTED_CLIENTS: validClients,
  CDS_PUBLIC_URL: 'https://cds.example.org',
  CDS_PSEUDONYM_KEY: 'a-production-pseudonym-key-0123456789',
  ...extra,
});

describe('development defaults', () => {
  it('an empty environment gives port 3000, 5 MB, CORS *, one worker, info, auth off', () => {
    const c = readConfig({});
    expect(c.production).toBe(false);
    expect(c.port).toBe(3000);
    expect(c.host).toBe('0.0.0.0');
    expect(c.bodyLimitBytes).toBe(5 * 1024 * 1024);
    expect(c.corsOrigins).toBe('*');
    expect(c.workers).toBe(1);
    expect(c.logLevel).toBe('info');
    expect(c.auth.mode).toBe('off');
    expect(c.auth.clients).toEqual([]);
    expect(c.auth.publicUrl).toBeUndefined();
    expect(c.headersTimeoutMs).toBe(10_000);
    expect(c.requestTimeoutMs).toBe(30_000);
    expect(c.headersTimeoutMs).toBeLessThan(c.requestTimeoutMs);
    expect(c.definitionsDir).toBe(path.resolve(__dirname, '..', 'cds-services'));
  });

  it('NODE_ENV other than production is development', () => {
    expect(readConfig({ NODE_ENV: 'test' }).auth.mode).toBe('off');
    expect(readConfig({ NODE_ENV: 'development' }).corsOrigins).toBe('*');
  });

  it('is frozen', () => {
    const c = readConfig({});
    expect(Object.isFrozen(c)).toBe(true);
    expect(Object.isFrozen(c.auth)).toBe(true);
  });

  it('blank values count as unset', () => {
    const c = readConfig({ PORT: '  ', CDS_CORS_ORIGINS: ' ', LOG_LEVEL: '', CDS_AUTH: '' });
    expect([c.port, c.corsOrigins, c.logLevel, c.auth.mode]).toEqual([3000, '*', 'info', 'off']);
  });
});

describe('PORT', () => {
  it.each([
    ['8080', 8080],
    [' 8443 ', 8443],
    ['0', 0],
    ['65535', 65535],
  ])('accepts %j', (raw, port) => {
    expect(readConfig({ PORT: raw }).port).toBe(port);
  });

  it.each(['http', '80a', '-1', '3000.5', '1e3', '65536', '0x50'])('rejects %j naming the variable', (raw) => {
    expect(() => readConfig({ PORT: raw })).toThrow(/PORT/);
  });
});

describe('CDS_BODY_LIMIT', () => {
  it.each([
    ['1mb', 1024 * 1024],
    ['500kb', 500 * 1024],
    ['1.5MB', 1.5 * 1024 * 1024],
    ['2048', 2048],
    ['64 kb', 64 * 1024],
    ['1kb', 1024],
    ['1gb', 1024 ** 3],
  ])('parses %j', (raw, bytes) => {
    expect(readConfig({ CDS_BODY_LIMIT: raw }).bodyLimitBytes).toBe(bytes);
  });

  it.each(['lots', '5 megabytes', '-1mb', '', '1tb'])('rejects the unparseable %j', (raw) => {
    if (raw === '') {
      // Empty means unset.
      expect(readConfig({ CDS_BODY_LIMIT: raw }).bodyLimitBytes).toBe(5 * 1024 * 1024);
      return;
    }
    expect(() => readConfig({ CDS_BODY_LIMIT: raw })).toThrow(/CDS_BODY_LIMIT must be a size/);
  });

  it.each(['100', '1023b', '2gb'])('rejects %j outside 1kb..1gb', (raw) => {
    expect(() => readConfig({ CDS_BODY_LIMIT: raw })).toThrow(/CDS_BODY_LIMIT must be between 1kb and 1gb/);
  });
});

describe('CDS_CORS_ORIGINS', () => {
  it('parses a comma-separated list of origins', () => {
    expect(readConfig({ CDS_CORS_ORIGINS: `${EHR_ORIGIN}, http://localhost:8080 ,` }).corsOrigins).toEqual([EHR_ORIGIN, 'http://localhost:8080']);
  });

  it.each([
    ['https://ehr.example.org/app', /without a path/],
    ['https://ehr.example.org/', /without a path/],
    ['ehr.example.org', /not an origin/],
  ])('rejects %j', (raw, message) => {
    expect(() => readConfig({ CDS_CORS_ORIGINS: raw })).toThrow(message);
  });

  it('accepts * explicitly in development', () => {
    expect(readConfig({ CDS_CORS_ORIGINS: '*' }).corsOrigins).toBe('*');
  });
});

describe('LOG_LEVEL', () => {
  it.each([
    ['debug', 'debug'],
    ['WARN', 'warn'],
    ['silent', 'silent'],
    ['trace', 'trace'],
  ])('accepts %j', (raw, level) => {
    expect(readConfig({ LOG_LEVEL: raw }).logLevel).toBe(level);
  });

  it.each(['verbose', 'information', '30'])('rejects %j listing the levels', (raw) => {
    expect(() => readConfig({ LOG_LEVEL: raw })).toThrow(/LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent/);
  });
});

describe('CDS_WORKERS', () => {
  it.each([
    ['1', 1],
    ['4', 4],
    ['64', 64],
  ])('accepts %j', (raw, n) => {
    expect(readConfig({ CDS_WORKERS: raw }).workers).toBe(n);
  });

  it.each(['0', '65', '-2', 'two', '1.5'])('rejects %j', (raw) => {
    expect(() => readConfig({ CDS_WORKERS: raw })).toThrow(/CDS_WORKERS/);
  });

  it('defaults to one process in every mode: the evaluation threads use the cores', () => {
    const cores = Math.max(1, os.availableParallelism?.() ?? os.cpus().length);
    expect(readConfig(production()).workers).toBe(1);
    expect(readConfig(production()).evalThreads).toBe(Math.min(cores, 64));
    expect(readConfig(production({ CDS_WORKERS: '2' })).workers).toBe(2);
  });
});

describe('evaluation pool and connection limits', () => {
  it('has defaults', () => {
    const c = readConfig({});
    expect([c.evalTimeoutMs, c.evalQueue, c.evalHeapMb, c.evalYoungMb, c.keepAliveTimeoutMs, c.maxConnections]).toEqual([5000, 64, 512, 64, 5000, 1000]);
  });

  it('reads every variable', () => {
    const c = readConfig({
      CDS_EVAL_THREADS: '3',
      CDS_EVAL_TIMEOUT_MS: '9000',
      CDS_EVAL_QUEUE: '0',
      CDS_EVAL_HEAP_MB: '256',
      CDS_EVAL_YOUNG_MB: '32',
      CDS_KEEP_ALIVE_TIMEOUT_MS: '2000',
      CDS_MAX_CONNECTIONS: '50',
    });
    expect([c.evalThreads, c.evalTimeoutMs, c.evalQueue, c.evalHeapMb, c.evalYoungMb, c.keepAliveTimeoutMs, c.maxConnections]).toEqual([3, 9000, 0, 256, 32, 2000, 50]);
  });

  it.each([
    ['CDS_EVAL_THREADS', '0'],
    ['CDS_EVAL_TIMEOUT_MS', '5s'],
    ['CDS_EVAL_HEAP_MB', '8'],
    ['CDS_EVAL_YOUNG_MB', '4'],
    ['CDS_MAX_CONNECTIONS', '0'],
  ])('rejects %s=%j', (name, raw) => {
    expect(() => readConfig({ [name]: raw })).toThrow(new RegExp(name));
  });

  it('refuses a deadline that would not leave the FHIR fallback its budget', () => {
    expect(() => readConfig({ CDS_EVAL_TIMEOUT_MS: '2500' })).toThrow(/CDS_EVAL_TIMEOUT_MS \(2500\) must exceed CDS_FHIR_BUDGET_MS \(2500\)/);
    expect(readConfig({ CDS_EVAL_TIMEOUT_MS: '2000', CDS_FHIR_BUDGET_MS: '1500' }).evalTimeoutMs).toBe(2000);
  });
});

describe('server timeouts', () => {
  it('reads CDS_HEADERS_TIMEOUT_MS and CDS_REQUEST_TIMEOUT_MS', () => {
    const c = readConfig({ CDS_HEADERS_TIMEOUT_MS: '5000', CDS_REQUEST_TIMEOUT_MS: '20000' });
    expect([c.headersTimeoutMs, c.requestTimeoutMs]).toEqual([5000, 20000]);
  });

  it.each([
    ['CDS_HEADERS_TIMEOUT_MS', '0'],
    ['CDS_HEADERS_TIMEOUT_MS', '999'],
    ['CDS_REQUEST_TIMEOUT_MS', '300001'],
    ['CDS_REQUEST_TIMEOUT_MS', 'forever'],
  ])('rejects %s=%j (a disabled or unbounded timeout)', (name, raw) => {
    expect(() => readConfig({ [name]: raw })).toThrow(new RegExp(name));
  });

  it('rejects a headers timeout longer than the whole-request timeout (node refuses that pair)', () => {
    expect(() => readConfig({ CDS_HEADERS_TIMEOUT_MS: '60000', CDS_REQUEST_TIMEOUT_MS: '30000' })).toThrow(/CDS_HEADERS_TIMEOUT_MS/);
  });
});

describe('CDS_AUTH, CDS_TRUSTED_CLIENTS and CDS_PUBLIC_URL', () => {
  it('CDS_AUTH=jwt in development needs a trusted-clients file', () => {
    expect(() => readConfig({ CDS_AUTH: 'jwt' })).toThrow(/CDS_AUTH is "jwt" but CDS_TRUSTED_CLIENTS .* is not set/);
    const c = readConfig({ CDS_AUTH: 'jwt', CDS_TRUSTED_CLIENTS: validClients });
    expect(c.auth.mode).toBe('jwt');
    expect(c.auth.clients.map((k) => k.iss)).toEqual(['https://ehr.example.org/cds-client', 'https://sandbox.cds-hooks.org']);
  });

  it.each(['JWT', 'on', 'true', 'none'])('rejects CDS_AUTH=%j', (raw) => {
    expect(() => readConfig({ CDS_AUTH: raw, CDS_TRUSTED_CLIENTS: validClients })).toThrow(/CDS_AUTH must be "jwt" or "off"/);
  });

  it('validates the trusted-clients file even while auth is off', () => {
    const broken = writeJson('broken-off.json', '{ not json');
    expect(() => readConfig({ CDS_TRUSTED_CLIENTS: broken })).toThrow(/CDS_TRUSTED_CLIENTS: .* is not valid JSON/);
  });

  it.each([
    ['missing file', () => path.join(dir, 'nope.json'), /cannot read/],
    ['no clients', () => writeJson('empty.json', { clients: [] }), /is invalid/],
    ['neither jwks nor jwksUrl', () => writeJson('nokeys.json', { clients: [{ iss: 'https://a.example' }] }), /exactly one of "jwksUrl" or "jwks"/],
    ['both jwks and jwksUrl', () => writeJson('both.json', { clients: [{ iss: 'https://a.example', jwksUrl: SANDBOX_JWKS, jwks: { keys: [publicJwk] } }] }), /exactly one of/],
    ['a private key', () => writeJson('private.json', { clients: [{ iss: 'https://a.example', jwks: { keys: [privateJwk] } }] }), /must be a public key/],
    ['a symmetric key', () => writeJson('oct.json', { clients: [{ iss: 'https://a.example', jwks: { keys: [{ kty: 'oct', kid: 'h', k: 'c2VjcmV0' }] } }] }), /is invalid/],
    ['a non-http jwksUrl', () => writeJson('ftp.json', { clients: [{ iss: 'https://a.example', jwksUrl: 'ftp://keys.example/jwks.json' }] }), /jwksUrl/],
    ['an unknown property', () => writeJson('typo.json', { clients: [{ iss: 'https://a.example', jwksUrl: SANDBOX_JWKS, allowJku: [SANDBOX_JWKS] }] }), /unknown member "allowJku"/],
    ['a duplicate issuer', () => writeJson('dup.json', { clients: [{ iss: 'https://a.example', jwksUrl: SANDBOX_JWKS }, { iss: 'https://a.example', jwks: { keys: [publicJwk] } }] }), /duplicate issuer/],
  ])('rejects a trusted-clients file with %s', (_name, file, message) => {
    expect(() => readConfig({ CDS_AUTH: 'jwt', CDS_TRUSTED_CLIENTS: file() })).toThrow(message);
  });

  it('normalises CDS_PUBLIC_URL (no trailing slash) and rejects unusable values', () => {
    expect(readConfig({ CDS_PUBLIC_URL: 'https://cds.example.org/base/' }).auth.publicUrl).toBe('https://cds.example.org/base');
    expect(readConfig({ CDS_PUBLIC_URL: 'https://cds.example.org' }).auth.publicUrl).toBe('https://cds.example.org');
    expect(() => readConfig({ CDS_PUBLIC_URL: 'cds.example.org' })).toThrow(/CDS_PUBLIC_URL must be an absolute URL/);
    expect(() => readConfig({ CDS_PUBLIC_URL: 'ftp://cds.example.org' })).toThrow(/CDS_PUBLIC_URL must be http\(s\)/);
    expect(() => readConfig({ CDS_PUBLIC_URL: 'https://cds.example.org/?x=1' })).toThrow(/must not carry/);
    expect(() => readConfig({ CDS_PUBLIC_URL: 'https://user:pw@cds.example.org' })).toThrow(/must not carry/);
  });
});

describe('NODE_ENV=production', () => {
  it('a complete production environment: auth jwt, the listed origins, trust for the configured clients', () => {
    const c = readConfig(production({ CDS_PUBLIC_URL: 'https://cds.example.org' }));
    expect(c.production).toBe(true);
    expect(c.auth.mode).toBe('jwt');
    expect(c.auth.clients).toHaveLength(2);
    expect(c.corsOrigins).toEqual([EHR_ORIGIN]);
    expect(c.fhir.production).toBe(true);
  });

  it('requires CDS_CORS_ORIGINS, with a message naming it', () => {
    expect(() => readConfig(production({ CDS_CORS_ORIGINS: undefined }))).toThrow(/CDS_CORS_ORIGINS must list the allowed browser origins in production/);
  });

  it('does not accept * as the production origin list (an explicit list is required)', () => {
    expect(() => readConfig(production({ CDS_CORS_ORIGINS: '*' }))).toThrow(/CDS_CORS_ORIGINS/);
  });

  it('defaults CDS_AUTH to jwt and refuses to start without a trusted-clients file', () => {
    expect(() => readConfig(production({ CDS_TRUSTED_CLIENTS: undefined }))).toThrow(
      'CDS_AUTH is "jwt" (the default when NODE_ENV=production) but CDS_TRUSTED_CLIENTS (path of the trusted-clients JSON file) is not set',
    );
  });

  it('refuses an unreadable or invalid trusted-clients file', () => {
    expect(() => readConfig(production({ CDS_TRUSTED_CLIENTS: path.join(dir, 'missing.json') }))).toThrow(/CDS_TRUSTED_CLIENTS: cannot read/);
    const invalid = writeJson('prod-invalid.json', { clients: [{ iss: 'https://a.example', jwks: { keys: [privateJwk] } }] });
    expect(() => readConfig(production({ CDS_TRUSTED_CLIENTS: invalid }))).toThrow(/is invalid:\n {2}- \/clients\/0\/jwks\/keys\/0: must be a public key/);
  });

  it('allows CDS_AUTH=off only when it is set explicitly', () => {
    const c = readConfig(production({ CDS_TRUSTED_CLIENTS: undefined, CDS_AUTH: 'off' }));
    expect(c.auth.mode).toBe('off');
    expect(c.production).toBe(true);
    // Unset is not "off".
    expect(() => readConfig(production({ CDS_TRUSTED_CLIENTS: undefined, CDS_AUTH: '' }))).toThrow(/CDS_TRUSTED_CLIENTS/);
  });

  it('requires CDS_PUBLIC_URL with JWT auth, so the expected aud never comes from the Host header', () => {
    expect(() => readConfig(production({ CDS_PUBLIC_URL: undefined }))).toThrow(/CDS_PUBLIC_URL must be set in production/);
    expect(readConfig(production({ CDS_PUBLIC_URL: undefined, CDS_AUTH: 'off' })).auth.mode).toBe('off');
  });

  it('requires https FHIR servers in the allow-list', () => {
    expect(() => readConfig(production({ CDS_FHIR_ALLOWED_SERVERS: 'http://fhir.example.org/r4' }))).toThrow(/must be https in production/);
    expect(readConfig(production({ CDS_FHIR_ALLOWED_SERVERS: 'https://fhir.example.org/r4' })).fhir.allowedServers).toEqual(['https://fhir.example.org/r4']);
  });
});

describe('operations settings', () => {
  it('reads CDS_OPS_TOKEN (32+ printable characters) and CDS_SHUTDOWN_GRACE_MS', () => {
    expect(readConfig({}).ops.token).toBeUndefined();
    expect(readConfig({}).shutdownGraceMs).toBe(20_000);
    expect(readConfig({ CDS_OPS_TOKEN: 'a-long-enough-token-of-32-characters', CDS_SHUTDOWN_GRACE_MS: '5000' })).toMatchObject({ ops: { token: 'a-long-enough-token-of-32-characters' }, shutdownGraceMs: 5000 });
    expect(() => readConfig({ CDS_OPS_TOKEN: 'short' })).toThrow(/CDS_OPS_TOKEN must be 32 to 512/);
    expect(() => readConfig({ CDS_OPS_TOKEN: 'has a space in it ok' })).toThrow(/CDS_OPS_TOKEN/);
    expect(() => readConfig({ CDS_SHUTDOWN_GRACE_MS: 'soon' })).toThrow(/CDS_SHUTDOWN_GRACE_MS must be a whole number/);
  });
});
