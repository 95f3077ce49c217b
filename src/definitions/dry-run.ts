// The dry run: every expression and template evaluated once on an empty record, which finds the type errors
// fhirpath.js reports only on evaluation (unknown functions, undefined %variables).
import type { HookName, HookRequest } from '../cds-hooks';
import { errorMessage } from '../errors';
import { evaluateService, layerVariables } from '../evaluation/evaluate';
import type { ValueSetIndex } from '../evaluation/terminology';
import type { TemplateCheck } from './compile';
import type { LoadIssue, ServiceDefinition } from './types';

/** A context per hook with plausible values: enough for a dry run to reach every branch that reads it. */
const DRY_RUN_CONTEXT: Record<HookName, Record<string, unknown>> = {
  'patient-view': { patientId: 'dry-run', userId: 'Practitioner/dry-run' },
  'order-select': {
    patientId: 'dry-run',
    userId: 'Practitioner/dry-run',
    selections: ['ServiceRequest/dry-run'],
    draftOrders: { resourceType: 'Bundle', entry: [{ resource: { resourceType: 'ServiceRequest', id: 'dry-run', status: 'draft', intent: 'order', subject: { reference: 'Patient/dry-run' } } }] },
  },
  'order-sign': {
    patientId: 'dry-run',
    userId: 'Practitioner/dry-run',
    draftOrders: { resourceType: 'Bundle', entry: [{ resource: { resourceType: 'ServiceRequest', id: 'dry-run', status: 'draft', intent: 'order', subject: { reference: 'Patient/dry-run' } } }] },
  },
};

/** Evaluates every expression once on an empty record: catches type errors that only show at run time. */
export function dryRun(service: ServiceDefinition, checks: TemplateCheck[], valueSets: ValueSetIndex, issues: LoadIssue[]): void {
  const context = DRY_RUN_CONTEXT[service.hook];
  const request = { hook: service.hook, hookInstance: 'dry-run', context } as unknown as HookRequest;
  const evaluation = evaluateService(service, request, { values: {}, unavailable: {} }, Date.UTC(2026, 0, 1), valueSets);
  for (const named of service.expressions) void evaluation.vars[named.name];
  const byName = new Map(service.expressions.map((n) => [n.name, n]));
  for (const failure of evaluation.failures) {
    const named = byName.get(failure.name);
    if (named) issues.push({ file: named.file, pointer: named.pointer, message: `fails on an empty record: ${failure.message}` });
  }
  for (const check of checks) {
    const vars = layerVariables(evaluation.vars, Object.fromEntries(check.extraVariables.map((v) => [v, []])));
    try {
      check.expression.evaluate(context, vars);
    } catch (e) {
      issues.push({ file: check.file, pointer: check.pointer, message: `template expression fails on an empty record: ${errorMessage(e)}` });
    }
  }
}
