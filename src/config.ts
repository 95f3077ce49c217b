// The core server settings (port, host, limits, timeouts, the evaluation pool) read from the environment into a
// frozen ServerConfig; throws on bad values so a misconfigured server never starts. Each feature reads its own
// settings (auth, FHIR client, storage, ops) and src/service.ts composes them. Every variable is in the README.
import path from 'node:path';
import os from 'node:os';
import { PROJECT_ROOT } from './project-root';
import { readLogLevel, type LogLevel } from './logger';

export interface ServerConfig {
  readonly port: number;
  readonly host: string;
  readonly production: boolean;
  readonly definitionsDir: string;
  readonly bodyLimitBytes: number;
  /** `*` or an explicit list of allowed browser origins. */
  readonly corsOrigins: '*' | readonly string[];
  readonly logLevel: LogLevel;
  readonly workers: number;
  readonly headersTimeoutMs: number;
  readonly requestTimeoutMs: number;
  /** CDS_FHIRPATH_ENGINE: `compiled` (default) or `reference` (fhirpath.js's interpreter, for comparison). */
  readonly fhirpathEngine: 'compiled' | 'reference';
  readonly keepAliveTimeoutMs: number;
  readonly maxConnections: number;
  /** Evaluation threads per worker process (the pool that runs parse, validate, evaluate, render). */
  readonly evalThreads: number;
  /** Deadline of one hook evaluation; a thread past it is terminated and the caller gets 503. */
  readonly evalTimeoutMs: number;
  /** Hook calls that may wait for a free evaluation thread. */
  readonly evalQueue: number;
  /** Heap limit of each evaluation thread, in MB. */
  readonly evalHeapMb: number;
  /** Young-generation size of each evaluation thread, in MB: room for a typical call's short-lived objects. */
  readonly evalYoungMb: number;
  /** Longest a drain (SIGTERM/SIGINT) may take before remaining connections are cut. */
  readonly shutdownGraceMs: number;
}

type Env = NodeJS.ProcessEnv;

function integer(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name]?.trim();
  if (!raw) return fallback;
  if (!/^\d+$/.test(raw)) throw new Error(`${name} must be a whole number, got "${raw}"`);
  const n = Number(raw);
  if (n < min || n > max) throw new Error(`${name} must be between ${min} and ${max}, got ${n}`);
  return n;
}

const SIZE_RE = /^(\d+(?:\.\d+)?)\s*(b|kb|mb|gb)?$/i;
const SIZE_UNITS: Record<string, number> = { b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3 };

/** `5mb`, `500kb`, `1048576` -> bytes. */
export function parseSize(name: string, raw: string): number {
  const m = SIZE_RE.exec(raw.trim());
  if (!m) throw new Error(`${name} must be a size like 5mb or 500kb, got "${raw}"`);
  const bytes = Math.floor(Number(m[1]) * (SIZE_UNITS[(m[2] ?? 'b').toLowerCase()] ?? 1));
  if (bytes < 1024 || bytes > 1024 ** 3) throw new Error(`${name} must be between 1kb and 1gb, got "${raw}"`);
  return bytes;
}

function corsOrigins(env: Env, production: boolean): ServerConfig['corsOrigins'] {
  const raw = env.CDS_CORS_ORIGINS?.trim();
  if (!raw) {
    if (production) throw new Error('CDS_CORS_ORIGINS must list the allowed browser origins in production (comma-separated)');
    return '*';
  }
  if (raw === '*') {
    // '*' lets any web page call the service; production names the EHR origins it serves.
    if (production) throw new Error('CDS_CORS_ORIGINS must be an explicit list of origins in production, not "*"');
    return '*';
  }
  const list = raw.split(',').map((s) => s.trim()).filter(Boolean);
  for (const o of list) {
    let u: URL;
    try {
      u = new URL(o);
    } catch {
      throw new Error(`CDS_CORS_ORIGINS entry "${o}" is not an origin like https://ehr.example.org`);
    }
    if (u.origin !== o) throw new Error(`CDS_CORS_ORIGINS entry "${o}" must be an origin (scheme://host[:port]) without a path`);
  }
  return list;
}

function fhirpathEngine(env: Env): ServerConfig['fhirpathEngine'] {
  const raw = env.CDS_FHIRPATH_ENGINE?.trim() || 'compiled';
  if (raw !== 'compiled' && raw !== 'reference') throw new Error(`CDS_FHIRPATH_ENGINE must be compiled or reference, got "${raw}"`);
  return raw;
}

export function readServerConfig(env: Env = process.env): ServerConfig {
  const production = env.NODE_ENV === 'production';
  const cores = Math.max(1, os.availableParallelism?.() ?? os.cpus().length);
  const config: ServerConfig = {
    port: integer(env, 'PORT', 3000, 0, 65535),
    host: env.HOST?.trim() || '0.0.0.0',
    production,
    definitionsDir: path.resolve(env.CDS_DEFINITIONS_DIR?.trim() || path.join(PROJECT_ROOT, 'cds-services')),
    bodyLimitBytes: env.CDS_BODY_LIMIT ? parseSize('CDS_BODY_LIMIT', env.CDS_BODY_LIMIT) : 5 * 1024 * 1024,
    corsOrigins: corsOrigins(env, production),
    logLevel: readLogLevel(env),
    // The evaluation threads use the cores; extra processes would only add HTTP parsing capacity (README, Performance).
    workers: integer(env, 'CDS_WORKERS', 1, 1, 64),
    headersTimeoutMs: integer(env, 'CDS_HEADERS_TIMEOUT_MS', 10_000, 1000, 120_000),
    requestTimeoutMs: integer(env, 'CDS_REQUEST_TIMEOUT_MS', 30_000, 1000, 300_000),
    fhirpathEngine: fhirpathEngine(env),
    keepAliveTimeoutMs: integer(env, 'CDS_KEEP_ALIVE_TIMEOUT_MS', 5000, 1000, 120_000),
    maxConnections: integer(env, 'CDS_MAX_CONNECTIONS', 1000, 1, 1_000_000),
    evalThreads: integer(env, 'CDS_EVAL_THREADS', Math.min(cores, 64), 1, 64),
    evalTimeoutMs: integer(env, 'CDS_EVAL_TIMEOUT_MS', 5000, 100, 600_000),
    evalQueue: integer(env, 'CDS_EVAL_QUEUE', 64, 0, 100_000),
    evalHeapMb: integer(env, 'CDS_EVAL_HEAP_MB', 512, 64, 65_536),
    evalYoungMb: integer(env, 'CDS_EVAL_YOUNG_MB', 64, 8, 1024),
    shutdownGraceMs: integer(env, 'CDS_SHUTDOWN_GRACE_MS', 20_000, 100, 600_000),
  };
  // Node refuses a headers timeout longer than the whole-request timeout (ERR_OUT_OF_RANGE at start-up).
  if (config.headersTimeoutMs > config.requestTimeoutMs) {
    throw new Error(`CDS_HEADERS_TIMEOUT_MS (${config.headersTimeoutMs}) must not exceed CDS_REQUEST_TIMEOUT_MS (${config.requestTimeoutMs})`);
  }
  return Object.freeze(config);
}
