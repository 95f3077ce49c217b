// The only file with side effects: config -> definitions -> app -> listen (one process per worker).
import cluster from 'node:cluster';
import { buildService } from './bootstrap';
import { readConfig } from './config';
import { DefinitionsError, formatIssue } from './definitions';
import { createLogger } from './logger';

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
    log.info({ workers: config.workers }, 'starting workers');
    for (let i = 0; i < config.workers; i++) cluster.fork();
    cluster.on('exit', (worker, code, signal) => {
      log.error({ pid: worker.process.pid, code, signal }, 'worker exited; starting a new one');
      cluster.fork();
    });
    return;
  }

  let service;
  try {
    service = buildService(config, log);
  } catch (e) {
    if (e instanceof DefinitionsError) {
      process.stderr.write(`The service definitions have ${e.issues.length} issue(s); not starting.\n${e.issues.map(formatIssue).join('\n')}\n`);
    } else {
      process.stderr.write(`Start-up failed: ${e instanceof Error ? e.message : String(e)}\n`);
    }
    process.exit(1);
  }
  if (config.auth.mode === 'off') {
    log.warn('CDS_AUTH=off: client JWTs are NOT verified. Anyone who can reach this port can call the services. Development only.');
  }
  const server = service.app.listen(config.port, config.host, () => {
    log.info({ port: config.port, services: [...service.registry.services.keys()] }, `CDS Hooks discovery at http://localhost:${config.port}/cds-services`);
  });
  server.headersTimeout = config.headersTimeoutMs;
  server.requestTimeout = config.requestTimeoutMs;
  const stop = () => server.close(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

start();
