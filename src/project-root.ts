// The project folder (the one holding package.json and cds-services/), found from wherever this file was compiled to:
// src/ under ts-jest, dist/ when built, dist-demo/src/ for the demo.
import fs from 'node:fs';
import path from 'node:path';

function findProjectRoot(start: string): string {
  for (let dir = start; ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, 'package.json'))) return dir;
    if (path.dirname(dir) === dir) return path.resolve(start, '..');
  }
}

export const PROJECT_ROOT = findProjectRoot(__dirname);
