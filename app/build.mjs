// Builds the SMART work-up app (app/) into dist-app/ (or the folder given as the first argument): two esbuild
// bundles (launch, main; fhirclient and uPlot from node_modules, nothing from a CDN) plus the pages and styles.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const appDir = path.dirname(fileURLToPath(import.meta.url));
const outDir = path.resolve(process.argv[2] ?? path.join(appDir, '..', 'dist-app'));

fs.rmSync(outDir, { recursive: true, force: true });
await build({
  entryPoints: { launch: path.join(appDir, 'src', 'launch.ts'), main: path.join(appDir, 'src', 'main.ts') },
  bundle: true,
  minify: true,
  sourcemap: false,
  format: 'iife',
  platform: 'browser',
  target: ['es2020'],
  outdir: outDir,
  legalComments: 'linked',
  logLevel: 'warning',
});
for (const file of ['index.html', 'launch.html', 'app.css']) fs.copyFileSync(path.join(appDir, file), path.join(outDir, file));
