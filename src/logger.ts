// The service's pino logger, with secrets and PHI redacted by key wherever a log object carries them
// (architecture.md principle 6). Redaction is a safety net: callers still log only ids, statuses and durations.
import pino from 'pino';
import type { DestinationStream, Logger } from 'pino';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export const REDACT_CENSOR = '[redacted]';

// Bearer tokens (the client JWT, fhirAuthorization.access_token) and patient data (prefetch, hook context).
const SENSITIVE_KEYS = ['authorization', 'fhirAuthorization', 'access_token', 'prefetch', 'context', 'token'] as const;

// pino's `*` matches one level, so each key is listed at the top level and up to two levels down
// (e.g. `{ req: { body: { prefetch } } }`); deeper nesting is not covered, so don't log whole bodies.
export const REDACT_PATHS: readonly string[] = [
  'req.headers.authorization',
  'req.headers.cookie',
  ...SENSITIVE_KEYS.flatMap((k) => [k, `*.${k}`, `*.*.${k}`]),
];

export interface LoggerOptions {
  level?: string;
  destination?: DestinationStream;
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const pinoOptions = {
    level: options.level ?? 'info',
    redact: { paths: [...REDACT_PATHS], censor: REDACT_CENSOR },
  };
  return options.destination ? pino(pinoOptions, options.destination) : pino(pinoOptions);
}

/** LOG_LEVEL: one of pino's levels (case-insensitive), `info` when unset; throws on anything else. */
export function readLogLevel(env: NodeJS.ProcessEnv): LogLevel {
  const raw = env.LOG_LEVEL?.trim().toLowerCase() ?? '';
  if (raw === '') return 'info';
  const level = LOG_LEVELS.find((l) => l === raw);
  if (!level) throw new Error(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}, got "${env.LOG_LEVEL}"`);
  return level;
}

/**
 * Error wording without the data it quotes: fhirpath.js puts the offending values into its messages (e.g.
 * "Was expecting only one element but got [{...}]"), and those values are patient data. Everything from the first
 * bracket is dropped; quoted text and numbers are masked.
 */
export function stripData(message: string): string {
  const cut = message.search(/[[{]/);
  const wording = cut >= 0 ? `${message.slice(0, cut)}[...]` : message;
  return wording
    .replace(/"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'/g, '"..."')
    .replace(/\d+(?:\.\d+)?/g, '#')
    .slice(0, 200);
}
