// Reading the definition files: JSON files of a folder (a file that does not parse is an issue) and JSON Schema
// validation of each against cds-services/schema (all errors at once).
import fs from 'node:fs';
import path from 'node:path';
import { errorMessage } from '../errors';
import { createSchemaAjv, describeProblem } from '../schema';
import type { LoadIssue } from './types';

const SCHEMA_DIR = 'schema';

export function readJsonFiles(dir: string, issues: LoadIssue[], root: string): { file: string; data: unknown }[] {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .flatMap((f) => {
      const full = path.join(dir, f);
      const rel = path.relative(root, full);
      try {
        return [{ file: rel, data: JSON.parse(fs.readFileSync(full, 'utf8')) as unknown }];
      } catch (e) {
        issues.push({ file: rel, pointer: '', message: `not valid JSON: ${errorMessage(e)}` });
        return [];
      }
    });
}

export function createSchemaValidator(root: string) {
  const ajv = createSchemaAjv();
  const schemaDir = path.join(root, SCHEMA_DIR);
  for (const f of ['expressions', 'templates', 'service', 'library', 'valueset']) {
    ajv.addSchema(JSON.parse(fs.readFileSync(path.join(schemaDir, `${f}.schema.json`), 'utf8')) as object);
  }
  return (kind: 'service' | 'library' | 'valueset', data: unknown, file: string, issues: LoadIssue[]): boolean => {
    const validate = ajv.getSchema(`https://iph-cds.dev/schema/${kind}.schema.json`);
    if (!validate) throw new Error(`schema ${kind} missing`);
    if (validate(data)) return true;
    for (const e of validate.errors ?? []) issues.push({ file, pointer: e.instancePath, message: describeProblem(e) });
    return false;
  };
}

