// In-process timing of the production pipeline without HTTP: JSON.parse of the body (the in-process floor), then
// answerHookCall, the function the HTTP handler calls (validate, prefetch, evaluate, render), from the built dist/.
import path from 'node:path';
import type { Registry } from '../src/definitions/types';
import { ROOT } from './http-load';
import { clock, msSince, percentile } from './stats';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { answerHookCall } = require(path.join(ROOT, 'dist', 'hook-call.js')) as typeof import('../src/hook-call');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { createRequestValidator } = require(path.join(ROOT, 'dist', 'http', 'hook-request.js')) as typeof import('../src/http/hook-request');

export interface Percentiles {
  p50: number;
  p90: number;
  p99: number;
}

export interface InProcessResult {
  parse: Percentiles;
  call: Percentiles;
  iterations: number;
}

const stats = (xs: number[]): Percentiles => ({ p50: percentile(xs, 50), p90: percentile(xs, 90), p99: percentile(xs, 99) });

/** Parses and answers `body` repeatedly for about `seconds` (at least 3 times, 2 warm-up calls first). */
export async function timeInProcess(registry: Registry, serviceId: string, body: string, seconds: number): Promise<InProcessResult> {
  const service = registry.services.get(serviceId);
  if (!service) throw new Error(`no service ${serviceId}`);
  const deps = { registry, requestValidator: createRequestValidator() };
  const parse: number[] = [];
  const call: number[] = [];
  const deadline = Date.now() + seconds * 1000;
  for (let i = 0; i < 2 || parse.length < 3 || Date.now() < deadline; i++) {
    const t0 = clock();
    const parsed: unknown = JSON.parse(body);
    const parseMs = msSince(t0);
    const t1 = clock();
    await answerHookCall(service, parsed, Date.now(), deps);
    const callMs = msSince(t1);
    if (i < 2) continue;
    parse.push(parseMs);
    call.push(callMs);
  }
  return { parse: stats(parse), call: stats(call), iterations: call.length };
}
