// Load issues: every problem found in the definitions, with file and JSON pointer, reported all at once.
import type { LoadIssue } from './types';

export class DefinitionsError extends Error {
  readonly issues: LoadIssue[];
  constructor(issues: LoadIssue[]) {
    super(`${issues.length} issue(s) in the service definitions:\n${issues.map(formatIssue).join('\n')}`);
    this.name = 'DefinitionsError';
    this.issues = issues;
  }
}

export function formatIssue(i: LoadIssue): string {
  return `${i.file}#${i.pointer || '/'}: ${i.message}`;
}

export function escapePointer(s: string): string {
  return s.replace(/~/g, '~0').replace(/\//g, '~1');
}
