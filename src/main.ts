// The only file with side effects: config -> definitions -> app -> listen (one process per worker).
import cluster from 'node:cluster';
import http from 'node:http';
import { buildService } from './service';
import { readConfig } from './config';
import { DefinitionsError, formatIssue } from './definitions/issues';
import { loadRegistry } from './definitions/load';
import { createLogger } from './logger';

const AUTH_OFF_WARNING = 'CDS_AUTH=off: client JWTs are NOT verified. Anyone who can reach this port can call the services. Development only.';

function exitOnStartupError(e: unknown): never {
  if (e instanceof DefinitionsError) {
    process.stderr.write(`The service definitions have ${e.issues.length} issue(s); not starting.\n${e.issues.map(formatIssue).join('\n')}\n`);
  } else {
    process.stderr.write(`Start-up failed: ${e instanceof Error ? e.message : String(e)}\n`);
  }
  process.exit(1);
}

function start(): void {
  let config;
  try {
    config = readConfig();
  } catch (e) {
    process.stderr.write(`Configuration error: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  }
  const log = createLogger({ level: config.logLevel });

  if (cluster.isPrimary && config.workers > 1) {
    // Checked once here: a worker that cannot load the definitions would otherwise be re-forked forever.
    try {
      loadRegistry(config.definitionsDir);
    } catch (e) {
      exitOnStartupError(e);
    }
    log.info({ workers: config.workers }, 'starting workers');
    const listening = new Set<number>();
    cluster.on('listening', (worker) => listening.add(worker.id));
    for (let i = 0; i < config.workers; i++) cluster.fork();
    cluster.on('exit', (worker, code, signal) => {
      if (!listening.has(worker.id)) {
        log.fatal({ pid: worker.process.pid, code, signal }, 'a worker failed before listening; stopping');
        process.exit(1);
      }
      listening.delete(worker.id);
      log.error({ pid: worker.process.pid, code, signal }, 'worker exited; starting a new one');
      cluster.fork();
    });
    return;
  }

  let service;
  try {
    service = buildService(config, log);
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
  server.listen(config.port, config.host, () => {
    log.info({ port: config.port, services: [...service.registry.services.keys()] }, `CDS Hooks discovery at http://localhost:${config.port}/cds-services`);
  });
  const stop = () => server.close(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

start();
