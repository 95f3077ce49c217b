// `npm run demo`: the CDS service plus a read-only demo FHIR R4 server over the synthetic fixture patients,
// and one CDS Hooks sandbox URL per patient. Development only: client auth is off by default and the service
// may fetch from loopback FHIR servers, so both listen on loopback unless HOST / DEMO_FHIR_HOST say otherwise.
import path from 'node:path';
import type http from 'node:http';
import type net from 'node:net';
import express, { type RequestHandler } from 'express';
import type { Logger } from 'pino';
import { buildService, readConfig } from '../src/service';
import { DefinitionsError, formatIssue } from '../src/definitions/issues';
import { createDemoFhirApp, loadFixturePatients } from './demo-fhir-server';
import { demoCases, shiftDays, shiftResourceDates, type DemoCase } from './fixture-clock';
import { patientOf } from '../src/cli/input';
import { createLogger } from '../src/logger';
import { PROJECT_ROOT } from '../src/project-root';

export const SANDBOX_URL = 'https://sandbox.cds-hooks.org/';

export interface DemoHandle {
  /** Discovery URL as a browser on this machine reaches it. */
  discoveryUrl: string;
  /** FHIR base URL as a browser on this machine reaches it. */
  fhirUrl: string;
  patientIds: string[];
  sandboxUrls: string[];
  /** The golden case each patient's dates were shifted for (its `now` falls on the demo's day). */
  cases: Map<string, DemoCase>;
  /** The demo's day: DEMO_NOW, or the start-up time. */
  now: number;
  /** True when client JWTs are not verified (the demo's default). */
  authOff: boolean;
  close(): Promise<void>;
}

type Env = NodeJS.ProcessEnv;

/** One sandbox link: the sandbox loads the patient from `fhirUrl` and discovers the services at `discoveryUrl`. */
export function buildSandboxUrl(fhirUrl: string, patientId: string, discoveryUrl: string): string {
  const params = new URLSearchParams({ fhirServiceUrl: fhirUrl, patientId, serviceDiscoveryURL: discoveryUrl });
  return `${SANDBOX_URL}?${params.toString().replace(/\+/g, '%20')}`;
}

function readPort(env: Env, name: string, fallback: number): number {
  const raw = env[name]?.trim();
  if (!raw) return fallback;
  if (!/^\d{1,5}$/.test(raw) || Number(raw) > 65535) throw new Error(`${name} must be a port number, got "${raw}"`);
  return Number(raw);
}

// Chrome's Private/Local Network Access: the public sandbox page asks with this preflight header before it
// may call the service on localhost (the demo FHIR server answers it itself).
const allowPrivateNetwork: RequestHandler = (req, res, next) => {
  if (req.method === 'OPTIONS' && req.headers['access-control-request-private-network'] === 'true') {
    res.setHeader('Access-Control-Allow-Private-Network', 'true');
  }
  next();
};

async function listen(app: express.Express, port: number, host: string): Promise<http.Server> {
  return new Promise((resolve, reject) => {
    const server = app.listen(port, host);
    server.once('listening', () => resolve(server));
    server.once('error', reject);
  });
}

function boundPort(server: http.Server): number {
  return (server.address() as net.AddressInfo).port;
}

async function closeServer(server: http.Server): Promise<void> {
  server.closeIdleConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

/** Starts both servers (ports 0 allowed: the printed URLs use the bound ports). */
/** 12:00 UTC of the UTC day of `ms`. */
export function noonUtcOf(ms: number): number {
  return Date.parse(`${new Date(ms).toISOString().slice(0, 10)}T12:00:00Z`);
}

export async function startDemo(env: Env, log: Logger): Promise<DemoHandle> {
  if (env.NODE_ENV === 'production') {
    throw new Error('the demo serves synthetic patients with client authentication off; it does not run with NODE_ENV=production');
  }
  const config = readConfig({ HOST: '127.0.0.1', ...env });
  const fhirHost = env.DEMO_FHIR_HOST?.trim() || '127.0.0.1';
  const fhirPort = readPort(env, 'DEMO_FHIR_PORT', 8081);
  const fixturesDir = env.DEMO_FIXTURES_DIR?.trim() || path.join(PROJECT_ROOT, 'fixtures', 'patients');

  const pinned = env.DEMO_NOW?.trim();
  const now = pinned ? Date.parse(pinned) : Date.now();
  if (!Number.isFinite(now) || (pinned !== undefined && !/^\d{4}-\d{2}-\d{2}/.test(pinned))) throw new Error(`DEMO_NOW must be an ISO date like 2026-06-15T12:00:00Z, got "${pinned}"`);
  // The golden cases are evaluated at 12:00 UTC of their day, and their threshold pairs sit hours from a limit: the demo
  // evaluates as of 12:00 UTC of the current day too (the fixtures are shifted by whole days), or at DEMO_NOW.
  const clock = pinned ? () => now : () => noonUtcOf(Date.now());
  const service = await buildService(config, log, { clock });
  const cdsApp = service.app;
  const cases = demoCases(env.DEMO_CASES_DIR?.trim() || path.join(PROJECT_ROOT, 'fixtures', 'cases'));
  const resources = loadFixturePatients(fixturesDir).map((r) => {
    const c = cases.get(patientOf(r) ?? '');
    return c ? shiftResourceDates(r, shiftDays(c.now, now)) : r;
  });
  const patientIds = resources.filter((r) => r.resourceType === 'Patient').map((r) => r.id ?? '').filter((id) => id !== '');

  const fhirRoot = express();
  fhirRoot.disable('x-powered-by');
  fhirRoot.use('/fhir', createDemoFhirApp(resources));

  const cdsRoot = express();
  cdsRoot.disable('x-powered-by');
  cdsRoot.use(allowPrivateNetwork);
  cdsRoot.use(cdsApp);

  let fhirServer: http.Server;
  let cdsServer: http.Server;
  try {
    fhirServer = await listen(fhirRoot, fhirPort, fhirHost);
  } catch (err) {
    await service.close();
    throw err;
  }
  try {
    cdsServer = await listen(cdsRoot, config.port, config.host);
  } catch (err) {
    await Promise.all([closeServer(fhirServer), service.close()]);
    throw err;
  }
  cdsServer.headersTimeout = config.headersTimeoutMs;
  cdsServer.requestTimeout = config.requestTimeoutMs;

  // `localhost`: what the browser running the sandbox can reach, and what the service may fetch from in development.
  const fhirUrl = `http://localhost:${boundPort(fhirServer)}/fhir`;
  const discoveryUrl = `http://localhost:${boundPort(cdsServer)}/cds-services`;
  return {
    discoveryUrl,
    fhirUrl,
    patientIds,
    sandboxUrls: patientIds.map((id) => buildSandboxUrl(fhirUrl, id, discoveryUrl)),
    cases,
    now,
    authOff: config.auth.mode === 'off',
    close: async () => {
      await Promise.all([closeServer(cdsServer), closeServer(fhirServer)]);
      await service.close();
    },
  };
}

async function runDemo(): Promise<void> {
  let demo: DemoHandle;
  try {
    const log = createLogger({ level: readConfig(process.env).logLevel });
    demo = await startDemo(process.env, log);
  } catch (e) {
    if (e instanceof DefinitionsError) {
      process.stderr.write(`The service definitions have ${e.issues.length} issue(s); not starting.\n${e.issues.map(formatIssue).join('\n')}\n`);
    } else {
      process.stderr.write(`Demo failed to start: ${e instanceof Error ? e.message : String(e)}\n`);
    }
    process.exit(1);
  }

  const out = [
    '',
    `CDS service discovery: ${demo.discoveryUrl}`,
    `Demo FHIR R4 server:   ${demo.fhirUrl}  (${demo.patientIds.length} synthetic patients, read-only)`,
    ...(demo.authOff ? ['Client JWTs are NOT verified (CDS_AUTH=off): development only.'] : []),
    '',
    `Each patient's dates are shifted so that its golden case's day is ${new Date(demo.now).toISOString().slice(0, 10)}${process.env.DEMO_NOW ? ' (DEMO_NOW, also the service clock)' : ' (today)'}.`,
    'Open one of these in a browser on this machine (CDS Hooks sandbox, Patient View; Rx View / Rx Sign for the order hooks):',
    ...demo.patientIds.flatMap((id, i) => {
      const c = demo.cases.get(id);
      const expected = c ? (c.expected.length ? c.expected.map((e) => (e.indicator ? `${e.topic} [${e.indicator}]` : e.topic)).join(', ') : 'no cards') : 'no golden case';
      return [`${id}  ${c ? `${c.service}/${c.name}` : ''}: ${expected}`, `  ${demo.sandboxUrls[i] ?? ''}`];
    }),
    '',
    'SMART work-up app (hemoglobin/ferritin chart and exclusion checklist), standalone launch per patient:',
    ...demo.patientIds.map((id) => `${demo.discoveryUrl.replace(/\/cds-services$/, '')}/app/launch.html?${new URLSearchParams({ iss: demo.fhirUrl, patient: id }).toString()}`),
    '',
    'Ctrl-C stops both servers.',
    '',
  ];
  process.stdout.write(out.join('\n'));

  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    // Keep-alive browser connections could hold close() open; don't wait for them forever.
    setTimeout(() => process.exit(0), 3000).unref();
    demo.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

if (require.main === module) {
  void runDemo();
}
