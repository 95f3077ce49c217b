// A copy of cds-services/ whose evaluation card condition first runs a cubic loop over the Conditions: legal
// FHIRPath that is instant on the load-time dry run and on small charts, and runs for many minutes on 1,000
// Conditions. It stands for any record that takes too long, to test the evaluation deadline.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const SOURCE = path.join(__dirname, '..', '..', 'cds-services');
export const SLOW_CONDITIONS = 1000;

export function makeSlowDefinitions(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iph-slow-defs-'));
  fs.cpSync(SOURCE, dir, { recursive: true });
  const file = path.join(dir, 'iph-patient-view.json');
  const service = JSON.parse(fs.readFileSync(file, 'utf8')) as { expressions: Record<string, string> };
  const original = service.expressions.showEvaluation;
  service.expressions.showEvaluation = `%conditions.all(%conditions.all(%conditions.all(true))) and (${original})`;
  fs.writeFileSync(file, JSON.stringify(service, null, 2));
  return dir;
}
