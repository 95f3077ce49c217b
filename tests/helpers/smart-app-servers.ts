// Loopback servers for the SMART app tests: the demo FHIR server over the fixture patients (optionally behind a mock
// SMART authorization server that issues one bearer token and refuses FHIR reads without it), and the service with its
// /app/ routes, its clock pinned to a golden case's `now`.
import http from 'node:http';
import type net from 'node:net';
import path from 'node:path';
import express from 'express';
import type { FhirResource } from 'fhir/r4';
import type { Logger } from 'pino';
import { createApp } from '../../src/http/app';
import { readConfig } from '../../src/service';
import type { Registry } from '../../src/definitions/types';
import { createDemoFhirApp, loadFixturePatients } from '../../demo/demo-fhir-server';
import { memoryStorage } from './test-storage';
import { fetchPrefetchKeys } from '../../src/fhir/client';
import { FIXTURES } from './golden';

export interface Running {
  base: string;
  close(): Promise<void>;
}

export async function serve(app: express.Express): Promise<Running> {
  const server = http.createServer(app);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  return {
    base: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

let fixtureResources: FhirResource[] | undefined;
export function fixtureRecord(): FhirResource[] {
  return (fixtureResources ??= loadFixturePatients(path.join(FIXTURES, 'patients')));
}

/** A FHIR request as the FHIR server saw it. */
export interface SeenFhirRequest {
  path: string;
  authorization?: string;
  origin?: string;
}

export interface SmartEhrOptions {
  /** The token the mock authorization server issues (and the FHIR server demands). */
  token: string;
  /** The patient the launch context gives. */
  patient: string;
  /** The `launch` value the EHR handed to the app. */
  launch: string;
  clientId: string;
}

/**
 * The demo FHIR server at /fhir; with `smart`, a SMART authorization server (authorize, token) whose discovery is
 * /fhir/.well-known/smart-configuration, and FHIR reads refused (401) without its bearer token.
 */
export function fhirServerApp(seen: SeenFhirRequest[], smart?: SmartEhrOptions): express.Express {
  const app = express();
  const cors: express.RequestHandler = (req, res, next) => {
    res.setHeader('Access-Control-Allow-Origin', '*');
    res.setHeader('Access-Control-Allow-Headers', 'Content-Type, Authorization, Accept');
    if (req.method === 'OPTIONS') {
      res.status(204).end();
      return;
    }
    next();
  };
  if (smart) {
    const codes = new Map<string, string>();
    app.get('/fhir/.well-known/smart-configuration', cors, (req, res) => {
      const base = `${req.protocol}://${req.get('host')}`;
      res.json({
        authorization_endpoint: `${base}/auth/authorize`,
        token_endpoint: `${base}/auth/token`,
        capabilities: ['launch-ehr', 'client-public', 'context-ehr-patient'],
        code_challenge_methods_supported: ['S256'],
      });
    });
    app.get('/auth/authorize', (req, res) => {
      const q = req.query as Record<string, string | undefined>;
      const fhirBase = `${req.protocol}://${req.get('host')}/fhir`;
      if (q.client_id !== smart.clientId || q.launch !== smart.launch || q.aud !== fhirBase || q.response_type !== 'code' || !q.redirect_uri || !q.state || q.code_challenge_method !== 'S256') {
        res.status(400).send('bad authorization request');
        return;
      }
      const code = `code-${codes.size + 1}`;
      codes.set(code, q.redirect_uri);
      res.redirect(`${q.redirect_uri}?code=${code}&state=${encodeURIComponent(q.state)}`);
    });
    app.post('/auth/token', cors, express.urlencoded({ extended: false }), (req, res) => {
      const b = req.body as Record<string, string | undefined>;
      if (b.grant_type !== 'authorization_code' || !b.code || codes.get(b.code) !== b.redirect_uri || !b.code_verifier) {
        res.status(400).json({ error: 'invalid_grant' });
        return;
      }
      codes.delete(b.code);
      res.json({ access_token: smart.token, token_type: 'Bearer', expires_in: 300, scope: 'launch patient/*.read', patient: smart.patient });
    });
  }
  app.use('/fhir', (req, res, next) => {
    seen.push({ path: req.path, authorization: req.get('authorization'), origin: req.get('origin') });
    if (smart && req.method !== 'OPTIONS' && req.path !== '/metadata' && req.get('authorization') !== `Bearer ${smart.token}`) {
      res.status(401).json({ resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'login', diagnostics: 'token required' }] });
      return;
    }
    next();
  });
  app.use('/fhir', createDemoFhirApp(fixtureRecord()));
  return app;
}

export function serviceApp(registry: Registry, log: Logger, options: { appDir: string; now: number; env?: NodeJS.ProcessEnv }): express.Express {
  const config = readConfig({ NODE_ENV: 'test', ...options.env });
  return createApp(registry, config, {
    log,
    ...memoryStorage(),
    fetcher: (request, templates) => fetchPrefetchKeys(request, templates, config.fhir),
    app: { dir: options.appDir, now: () => options.now },
  });
}
