// Builds dist/ (the server, the CLI and the SMART app) once before any test file runs: the suites that spawn
// `node dist/main.js` or `dist/cli.js` then share one build instead of each rewriting dist/ under the others.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { MAIN, ROOT } from './helpers/main-process';

export default function buildDistOnce(): void {
  try {
    execFileSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'pipe' });
  } catch (e) {
    // tsc still emits when a file has a type error (npm run typecheck reports it); only a missing build is fatal here.
    const out = (e as { stdout?: Buffer }).stdout?.toString() ?? String(e);
    if (!existsSync(MAIN)) throw new Error(`npm run build produced no dist/main.js:\n${out}`);
  }
}
