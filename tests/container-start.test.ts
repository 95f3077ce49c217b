// The image's runtime stage without Docker: the Dockerfile's last stage is read and replayed in a temporary folder (its
// COPY steps, its npm RUN steps, its ENV, then its CMD), with production settings and a trusted-clients file; the
// server must answer /health/ready (200, no token) and refuse discovery without one. The image's HEALTHCHECK command
// is run against it too.
import { execSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { exportJWK, generateKeyPair } from 'jose';
import { freePort, ROOT, startNode, stopAll } from './helpers/main-process';

jest.setTimeout(600_000);

interface Stage {
  copies: { from?: string; src: string[]; dest: string }[];
  runs: string[];
  env: Record<string, string>;
  cmd: string[];
  healthcheck: string[];
}

/** The last stage of the Dockerfile, continuation lines joined. */
function runtimeStage(dockerfile: string): Stage {
  const lines = dockerfile.replace(/\\\n\s*/g, ' ').split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));
  const last = lines.map((l, i) => (l.startsWith('FROM ') ? i : -1)).filter((i) => i >= 0).pop() ?? 0;
  const stage: Stage = { copies: [], runs: [], env: {}, cmd: [], healthcheck: [] };
  for (const line of lines.slice(last + 1)) {
    const [instruction, ...rest] = line.split(/\s+/);
    const args = line.slice((instruction ?? '').length).trim();
    if (instruction === 'COPY') {
      const from = /--from=(\S+)/.exec(args)?.[1];
      const parts = rest.filter((p) => !p.startsWith('--'));
      stage.copies.push({ from, src: parts.slice(0, -1), dest: parts[parts.length - 1] ?? '.' });
    } else if (instruction === 'RUN') stage.runs.push(args);
    else if (instruction === 'ENV') {
      const m = /^(\S+?)[= ](.*)$/.exec(args);
      if (m?.[1] && m[2] !== undefined) stage.env[m[1]] = m[2];
    } else if (instruction === 'CMD') stage.cmd = JSON.parse(args) as string[];
    else if (instruction === 'HEALTHCHECK') stage.healthcheck = JSON.parse(args.slice(args.indexOf('CMD ') + 4)) as string[];
  }
  return stage;
}

afterEach(stopAll);

it('starts from an `npm ci --omit=dev` install exactly as the image does, and is ready without a token', async () => {
  const stage = runtimeStage(readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8'));
  expect(stage.cmd).toEqual(['node', 'dist/main.js']);
  expect(stage.runs.some((r) => r.startsWith('npm ci --omit=dev'))).toBe(true);

  const app = mkdtempSync(path.join(tmpdir(), 'cds-image-'));
  for (const copy of stage.copies) {
    // The build stage's /app is this checkout after `npm ci` (prepare = build): tests/global-setup.ts built its dist/.
    for (const src of copy.src) {
      const from = copy.from === 'build' ? path.join(ROOT, path.relative('/app', src)) : path.join(ROOT, src);
      const dest = copy.src.length > 1 || copy.dest.endsWith('/') ? path.join(app, copy.dest, path.basename(src)) : path.join(app, copy.dest);
      cpSync(from, dest, { recursive: true });
    }
  }
  // The npm steps run as written; the others prepare paths outside the app folder (/data) and need root.
  for (const run of stage.runs.filter((r) => r.startsWith('npm '))) execSync(run, { cwd: app, stdio: 'pipe' });

  const { publicKey } = await generateKeyPair('ES384');
  const trusted = path.join(app, 'trusted-clients.json');
  writeFileSync(trusted, JSON.stringify({ clients: [{ iss: 'https://ehr.example.org', jwks: { keys: [{ ...(await exportJWK(publicKey)), kid: 'k1' }] } }] }));
  const port = await freePort();
  const [command, ...args] = stage.cmd;
  expect(command).toBe('node');
  const run = startNode(
    {
      ...stage.env,
      PORT: String(port),
      HOST: '127.0.0.1',
      CDS_TRUSTED_CLIENTS: trusted,
      CDS_PUBLIC_URL: 'https://cds.example.org',
      CDS_CORS_ORIGINS: 'https://ehr.example.org',
      // The image's /data volume and the pseudonym secret an operator supplies.
      CDS_DATA_DIR: path.join(app, 'data'),
      CDS_PSEUDONYM_KEY: 'container-test-pseudonym-key-0123456789abcdef',
    },
    { script: args[0], args: args.slice(1), cwd: app },
  );
  expect(await run.waitFor('CDS Hooks discovery at')).toBe(true);
  expect(stage.env.NODE_ENV).toBe('production');
  expect((await fetch(`http://127.0.0.1:${port}/health/ready`)).status).toBe(200);
  expect((await fetch(`http://127.0.0.1:${port}/cds-services`)).status).toBe(401);

  const [hcCommand, ...hcArgs] = stage.healthcheck;
  expect(hcCommand).toBe('node');
  const healthcheck = startNode({ PORT: String(port) }, { script: hcArgs[0], args: hcArgs.slice(1), cwd: app });
  expect(await healthcheck.exited).toBe(0);
});
