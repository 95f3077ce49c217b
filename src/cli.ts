#!/usr/bin/env node
// `iph-cds evaluate FILE...`: the offline CLI. Evaluates FHIR R4 Bundles or a Bulk Data export (NDJSON) with the
// server's definitions and pipeline (answerHookCall). Exit codes: 0 all patients evaluated, 1 some could not be
// evaluated, 2 bad usage or input (nothing evaluated).
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { SingleBar, Presets } from 'cli-progress';
import { loadRegistry } from './definitions/load';
import { DefinitionsError, formatIssue } from './definitions/issues';
import { createRequestValidator } from './http/hook-request';
import { PROJECT_ROOT } from './project-root';
import { InputError, readInput } from './cli/input';
import { evaluatePatient, type PatientResult } from './cli/patient-call';
import { evaluateOnAllCores } from './cli/pool';
import { csvReport, jsonReport, summaryReport, textReport } from './cli/report';

interface EvaluateOptions {
  service: string;
  now?: number;
  json?: boolean;
  out?: string;
}

const ISO_DATE = /^\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:\d{2}))?$/;

function parseNow(value: string): number {
  const ms = ISO_DATE.test(value) ? Date.parse(value.length === 10 ? `${value}T12:00:00Z` : value) : NaN;
  if (!Number.isFinite(ms)) throw new InvalidArgumentError('give an ISO date like 2026-06-15 or 2026-06-15T12:00:00Z');
  return ms;
}

async function evaluate(files: string[], options: EvaluateOptions): Promise<number> {
  const definitionsDir = path.resolve(process.env.CDS_DEFINITIONS_DIR?.trim() || path.join(PROJECT_ROOT, 'cds-services'));
  const registry = loadRegistry(definitionsDir);
  const service = registry.services.get(options.service);
  if (!service) throw new InputError(`unknown service "${options.service}"; services: ${[...registry.services.keys()].join(', ')}`);
  const input = await readInput(files);
  const now = options.now ?? Date.now();

  let results: PatientResult[];
  if (input.bulk) {
    const bar = new SingleBar({ stream: process.stderr, noTTYOutput: true, notTTYSchedule: 1000, format: 'evaluating {bar} {value}/{total} patients | {eta_formatted} left' }, Presets.shades_classic);
    bar.start(input.patients.length, 0);
    results = await evaluateOnAllCores(input.patients, { definitionsDir, serviceId: service.id, now }, () => bar.increment());
    bar.stop();
  } else {
    const deps = { registry, requestValidator: createRequestValidator() };
    results = [];
    for (const p of input.patients) results.push(await evaluatePatient(service, p.patientId, p.resources, now, deps));
  }

  process.stdout.write(options.json ? jsonReport(results) : textReport(results));
  if (options.out) writeFileSync(options.out, csvReport(results));
  if (input.bulk) process.stderr.write(summaryReport(results));
  for (const r of results) if ('error' in r) process.stderr.write(`${r.patient}: ${r.error}\n`);
  return results.some((r) => 'error' in r) ? 1 : 0;
}

export async function main(argv: string[]): Promise<number> {
  const program = new Command('iph-cds').description('Offline evaluation with the IPH CDS Hooks service definitions').exitOverride();
  let code = 0;
  program
    .command('evaluate')
    .description('evaluate a FHIR R4 Bundle (JSON) or the NDJSON files (or folder) of a Bulk Data export, patient by patient')
    .argument('<files...>', 'Bundle .json files, .ndjson files, or folders of .ndjson files')
    .option('--service <id>', 'CDS service to run', 'iph-patient-view')
    .option('--now <iso-date>', 'evaluation date (default: now)', parseNow)
    .option('--json', 'print {"results":[{"patient","cards"}]} instead of text')
    .option('--out <file.csv>', 'also write one CSV row per card')
    .action(async (files: string[], options: EvaluateOptions) => {
      code = await evaluate(files, options);
    });
  try {
    await program.parseAsync(argv);
    return code;
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : 2;
    if (e instanceof InputError) process.stderr.write(`iph-cds: ${e.message}\n`);
    else if (e instanceof DefinitionsError) process.stderr.write(`iph-cds: the service definitions have issues:\n${e.issues.map(formatIssue).join('\n')}\n`);
    else throw e;
    return 2;
  }
}

if (require.main === module) {
  main(process.argv).then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      process.stderr.write(`iph-cds: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
      process.exitCode = 1;
    },
  );
}
