// GET /health/live and /health/ready for load balancers and probes: no client authentication, no data in the
// answer. Ready means the definitions are loaded (the app exists only after they are), every injected readiness check
// passes (storage plugs its ping in here) and the process is not draining.
import type { Router } from 'express';
import express from 'express';

/** One dependency's readiness; a check that throws or takes longer than READINESS_TIMEOUT_MS counts as not ready. */
export type ReadinessCheck = () => Promise<boolean>;

export interface HealthDeps {
  readinessChecks?: readonly ReadinessCheck[];
  /** True once a drain has begun (SIGTERM/SIGINT). */
  isDraining?: () => boolean;
  /** Budget of each check (default READINESS_TIMEOUT_MS). */
  readinessTimeoutMs?: number;
}

// A probe must answer well within a Kubernetes probe timeout (1 s by default) even when a dependency hangs.
export const READINESS_TIMEOUT_MS = 800;

async function passes(check: ReadinessCheck, timeoutMs: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), timeoutMs);
  });
  try {
    return (await Promise.race([check().then((ok) => ok === true, () => false), timeout])) === true;
  } finally {
    clearTimeout(timer);
  }
}

export async function isReady(deps: HealthDeps): Promise<boolean> {
  if (deps.isDraining?.()) return false;
  const results = await Promise.all((deps.readinessChecks ?? []).map((c) => passes(c, deps.readinessTimeoutMs ?? READINESS_TIMEOUT_MS)));
  return results.every(Boolean);
}

export function healthRouter(deps: HealthDeps): Router {
  const router = express.Router();
  const send = (res: express.Response, status: number, text: string) => {
    res.status(status).setHeader('Cache-Control', 'no-store');
    res.type('application/json').send(JSON.stringify({ status: text }));
  };
  router.get('/health/live', (_req, res) => send(res, 200, 'live'));
  router.get('/health/ready', (_req, res, next) => {
    isReady(deps).then((ready) => send(res, ready ? 200 : 503, ready ? 'ready' : 'not ready'), next);
  });
  return router;
}
