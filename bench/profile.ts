// CPU profiles of request work only: node:inspector's Profiler started after warm-up and stopped after N hook tasks
// (runHookTask, what an evaluation thread runs: bytes -> parse -> validate -> evaluate -> render), read into the
// functions with the most self time. Start-up and idle threads stay out of the window.
import fs from 'node:fs';
import { Session } from 'node:inspector/promises';
import path from 'node:path';
import type { Registry } from '../src/definitions/types';
import { ROOT } from './http-load';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { runHookTask } = require(path.join(ROOT, 'dist', 'hook-task.js')) as typeof import('../src/hook-task');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { createRequestValidator } = require(path.join(ROOT, 'dist', 'http', 'hook-request.js')) as typeof import('../src/http/hook-request');

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export interface HotFunction {
  name: string;
  where: string;
  share: number;
}

export interface RequestProfile {
  size: string;
  iterations: number;
  /** Mean wall time of one task inside the window, ms. */
  meanMs: number;
  /** Mean CPU time (process user + system) of one task inside the window, ms: steadier than wall time on a busy machine. */
  cpuMs: number;
  /** Mean CPU time of decoding and JSON.parse alone on the same body (the in-process floor), ms. */
  parseCpuMs: number;
  top: HotFunction[];
}

/** The `top` functions by self time in `profile`, as shares of all non-idle samples. */
export function hottestFunctions(profile: CpuProfile, top: number): HotFunction[] {
  const self = new Map<string, { name: string; where: string; us: number }>();
  let total = 0;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  profile.samples.forEach((id, i) => {
    const node = byId.get(id);
    const us = profile.timeDeltas[i] ?? 0;
    if (!node) return;
    const { functionName, url, lineNumber } = node.callFrame;
    if (functionName === '(idle)' || functionName === '(program)') return;
    const where = url ? `${url.replace(/^file:\/\//, '').split('/node_modules/').pop()?.split('/').slice(-3).join('/')}:${lineNumber + 1}` : '';
    const key = `${functionName}@${where}`;
    const entry = self.get(key) ?? { name: functionName || '(anonymous)', where, us: 0 };
    entry.us += us;
    self.set(key, entry);
    total += us;
  });
  return [...self.values()]
    .sort((a, b) => b.us - a.us)
    .slice(0, top)
    .map((e) => ({ name: e.name, where: e.where, share: total ? e.us / total : 0 }));
}

/**
 * Runs `body` through runHookTask `warmUp` times unprofiled, then `iterations` times under the profiler, with the
 * result cloned as postMessage would clone it; writes the .cpuprofile into `dir` and returns its hottest functions.
 */
export async function profileRequests(registry: Registry, serviceId: string, size: string, body: Buffer, dir: string, iterations: number, warmUp = 20): Promise<RequestProfile> {
  const deps = { registry, requestValidator: createRequestValidator() };
  const once = async () => structuredClone(await runHookTask({ serviceId, body: new Uint8Array(body), now: Date.now() }, deps));
  for (let i = 0; i < warmUp; i++) await once();
  const session = new Session();
  session.connect();
  try {
    await session.post('Profiler.enable');
    await session.post('Profiler.setSamplingInterval', { interval: 100 });
    await session.post('Profiler.start');
    const t0 = process.hrtime.bigint();
    const c0 = process.cpuUsage();
    for (let i = 0; i < iterations; i++) await once();
    const cpu = process.cpuUsage(c0);
    const meanMs = Number(process.hrtime.bigint() - t0) / 1e6 / iterations;
    const { profile } = await session.post('Profiler.stop');
    const p0 = process.cpuUsage();
    for (let i = 0; i < iterations; i++) JSON.parse(new TextDecoder().decode(body));
    const parse = process.cpuUsage(p0);
    fs.writeFileSync(path.join(dir, `requests-${size}.cpuprofile`), JSON.stringify(profile));
    const perTask = (u: NodeJS.CpuUsage) => (u.user + u.system) / 1000 / iterations;
    return { size, iterations, meanMs, cpuMs: perTask(cpu), parseCpuMs: perTask(parse), top: hottestFunctions(profile as CpuProfile, 15) };
  } finally {
    session.disconnect();
  }
}
