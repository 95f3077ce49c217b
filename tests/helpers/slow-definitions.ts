// A copy of cds-services/ whose evaluation card condition (hook calls) and infection check (the SMART app's work-up)
// first run a cubic loop over the Conditions: legal FHIRPath that is instant on the load-time dry run and on small
// charts, and runs for many minutes on 1,000 Conditions. It stands for any record that takes too long, to test the
// evaluation deadline.
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
  const libraryFile = path.join(dir, 'libraries', 'iph.json');
  const library = JSON.parse(fs.readFileSync(libraryFile, 'utf8')) as { expressions: Record<string, string> };
  library.expressions.infectionChecked = `%conditions.all(%conditions.all(%conditions.all(true))) and (${library.expressions.infectionChecked})`;
  fs.writeFileSync(libraryFile, JSON.stringify(library, null, 2));
  return dir;
}
