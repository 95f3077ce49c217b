// `npm run check`: loads every definition and prints every issue with file and JSON pointer, then the terminology
// coverage table (codes per system, regex filters and cited sources of every value set).
import path from 'node:path';
import { PROJECT_ROOT } from './project-root';
import { checkDefinitions } from './definitions/load';
import { formatCoverage } from './definitions/coverage';
import { formatIssue } from './definitions/issues';

const dir = path.resolve(process.argv[2] ?? path.join(PROJECT_ROOT, 'cds-services'));
const { registry, issues, coverage } = checkDefinitions(dir);
if (issues.length > 0) {
  process.stdout.write(`${issues.length} issue(s) in ${dir}:\n${issues.map(formatIssue).join('\n')}\n`);
  process.exit(1);
}
const services = [...(registry?.services.values() ?? [])];
process.stdout.write(
  `OK: ${services.length} service(s) (${services.map((s) => `${s.id}: ${s.expressions.length} expressions, ${s.cards.length} cards`).join('; ')}), ${registry?.valueSets.urls().length ?? 0} value sets\n`,
);
process.stdout.write(`${formatCoverage(coverage)}\n`);
