// The only file with side effects: config -> definitions -> app -> listen (one process per worker).
import cluster from 'node:cluster';
import http from 'node:http';
import { buildService, readConfig } from './service';
import { silenceConsole } from './console-guard';
import { applyConnectionLimits } from './http/connection-limits';
import { createServerEvaluator, type EvalPool } from './http/eval-pool';
import { DefinitionsError, formatIssue } from './definitions/issues';
import { loadRegistry } from './definitions/load';
import { createLogger } from './logger';
import { clusterMetricsCollector, serveClusterMetrics } from './cluster-metrics';
import { createDrain, type Drain } from './http/drain';

const AUTH_OFF_WARNING = 'CDS_AUTH=off: client JWTs are NOT verified. Anyone who can reach this port can call the services. Development only.';

function exitOnStartupError(e: unknown): never {
  if (e instanceof DefinitionsError) {
    process.stderr.write(`The service definitions have ${e.issues.length} issue(s); not starting.\n${e.issues.map(formatIssue).join('\n')}\n`);
  } else {
    process.stderr.write(`Start-up failed: ${e instanceof Error ? e.message : String(e)}\n`);
  }
  process.exit(1);
}

async function start(): Promise<void> {
  let config;
  try {
    config = readConfig();
  } catch (e) {
    process.stderr.write(`Configuration error: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  }
  const log = createLogger({ level: config.logLevel });
  // From here on only the logger writes to stdout/stderr (start-up failures below exit with one plain message).
  silenceConsole(() => log.debug({ source: 'console' }, 'a library wrote to the console; suppressed'));

  if (cluster.isPrimary && config.workers > 1) {
    // Checked once here: a worker that cannot load the definitions would otherwise be re-forked forever.
    try {
      loadRegistry(config.definitionsDir, config.fhirpathEngine);
    } catch (e) {
      exitOnStartupError(e);
    }
    log.info({ workers: config.workers }, 'starting workers');
    serveClusterMetrics();
    let stopping = false;
    const listening = new Set<number>();
    cluster.on('listening', (worker) => listening.add(worker.id));
    for (let i = 0; i < config.workers; i++) cluster.fork();
    cluster.on('exit', (worker, code, signal) => {
      if (stopping) {
        if (Object.keys(cluster.workers ?? {}).length === 0) process.exit(0);
        return;
      }
      if (!listening.has(worker.id)) {
        log.fatal({ pid: worker.process.pid, code, signal }, 'a worker failed before listening; stopping');
        process.exit(1);
      }
      listening.delete(worker.id);
      log.error({ pid: worker.process.pid, code, signal }, 'worker exited; starting a new one');
      cluster.fork();
    });
    // Each worker drains itself; the primary only stops re-forking and waits (a little longer than the workers' grace).
    const stopWorkers = (): void => {
      if (stopping) return;
      stopping = true;
      log.info({ graceMs: config.shutdownGraceMs }, 'draining workers');
      for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill('SIGTERM');
      setTimeout(() => {
        for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill('SIGKILL');
        process.exit(1);
      }, config.shutdownGraceMs + 1000).unref();
    };
    process.on('SIGTERM', stopWorkers);
    process.on('SIGINT', stopWorkers);
    return;
  }

  let drain: Drain | undefined;
  let service;
  let pool: EvalPool | undefined;
  try {
    service = await buildService(config, log, {
      health: { isDraining: () => drain?.isDraining() ?? false },
      ...(cluster.isWorker ? { metricsCollector: clusterMetricsCollector } : {}),
      createEvaluator: (metrics) => (pool = createServerEvaluator(config, log, (id) => metrics.observeEvaluationTimeout(id))),
    });
  } catch (e) {
    exitOnStartupError(e);
  }
  if (config.auth.mode === 'off') {
    log.warn(AUTH_OFF_WARNING);
    // Outside the logger too when it would drop warnings: LOG_LEVEL must not be able to silence this.
    if (!log.isLevelEnabled('warn')) process.stderr.write(`WARNING: ${AUTH_OFF_WARNING}\n`);
  }
  // Node enforces these timeouts only every connectionsCheckingInterval (30 s by default), far above a 10 s
  // headers timeout; checking every second makes the configured limits the real ones.
  const server = http.createServer(
    {
      headersTimeout: config.headersTimeoutMs,
      requestTimeout: config.requestTimeoutMs,
      connectionsCheckingInterval: Math.min(1000, config.headersTimeoutMs),
    },
    service.app,
  );
  applyConnectionLimits(server, config);
  server.listen(config.port, config.host, () => {
    // The threads load the definitions once listening, not competing with this process's own load.
    pool?.start();
    log.info({ port: config.port, services: [...service.registry.services.keys()] }, `CDS Hooks discovery at http://localhost:${config.port}/cds-services`);
  });
  const draining = createDrain(server, config.shutdownGraceMs);
  drain = draining;
  const stop = (): void => {
    if (draining.isDraining()) return;
    log.info({ graceMs: config.shutdownGraceMs }, 'draining: readiness 503, finishing in-flight calls');
    void draining
      .drain()
      .then(async (clean) => {
        if (clean) log.info('drained; exiting');
        else log.warn('grace period over; remaining connections cut');
        await pool?.close();
        await service.close();
        return clean;
      })
      .then((clean) => process.exit(clean ? 0 : 1), () => process.exit(1));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

void start();
