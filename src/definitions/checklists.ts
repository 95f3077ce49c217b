// Library data expanded into named expressions at load: thresholds (named FHIRPath literals) and checklists (tests
// in groups, e.g. the exclusion work-up: one table instead of a family of near-identical expressions), plus the
// checks of the libraries' tables.
import type { ValueSetIndex } from '../evaluation/terminology';
import { resolveValueSetUrl } from '../evaluation/terminology';
import { expandOrders } from './checklist-orders';
import { escapePointer } from './issues';
import type { ChecklistDefinition, LoadIssue, RawChecklist, RawChecklistGroup, RawChecklistTest, RawExpression, RawLibrary, RawSuggestion } from './types';

function camel(id: string): string {
  return id.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

function fhirpathString(s: string): string {
  return `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/**
 * Expands a checklist into named expressions. Per test `t`: tResults, tPendingItems (from the templates),
 * tPending, tRequired, tDone, tNeeded, tStateLine ("label: result line | pending line | missing text"). Per group `g`: gGroupDone (every required test has a result), gGroupPending
 * (not done, every required test done or pending), gGroupMissing (neither), gGroupPartial, gGroupMissingTests,
 * gGroupResults. Per checklist `c`: cDoneGroups, cDoneLines, cPendingGroups, cMissingGroups, cMissingLines,
 * cPendingItems, cStateLines. Its orders become a suggestion set (expandOrders).
 */
function expandChecklist(
  id: string,
  c: RawChecklist,
  file: string,
  issues: LoadIssue[],
): { expressions: Record<string, string>; definition: ChecklistDefinition; suggestions: RawSuggestion[] } {
  const out: Record<string, string> = {};
  const tests = new Map(c.tests.map((t) => [t.id, t]));
  const fill = (template: string, row: RawChecklistTest, pointer: string) =>
    template.replace(/\{([A-Za-z]+)\}/g, (m, field: string) => {
      if (row[field] === undefined) {
        issues.push({ file, pointer, message: `test "${row.id}" has no member "${field}" that the template uses` });
        return m;
      }
      return String(row[field]);
    });
  const template = (t: RawChecklistTest, member: 'results' | 'pending' | 'flag', p: string): string => {
    const source = t[member] ?? c[member];
    if (source === undefined) {
      issues.push({ file, pointer: p, message: `test "${t.id}" has no "${member}" template (and the checklist gives none)` });
      return '{}';
    }
    return fill(source, t, p);
  };
  c.tests.forEach((t, i) => {
    const p = `/checklists/${id}/tests/${i}`;
    out[`${t.id}Results`] = template(t, 'results', p);
    out[`${t.id}PendingItems`] = template(t, 'pending', p);
    out[`${t.id}Pending`] = `%${t.id}PendingItems.exists()`;
    out[`${t.id}Required`] = t.requiredWhen ?? 'true';
    out[`${t.id}Done`] = `%${t.id}Results.exists()`;
    out[`${t.id}Needed`] = `%${t.id}Required and %${t.id}Done.not() and %${t.id}Pending.not()`;
    const line = t.line ?? `evidence() + (${template(t, 'flag', p)})`;
    out[`${t.id}StateLine`] =
      `iif(%${t.id}Required, ${fhirpathString(t.label)} + ': ' + iif(%${t.id}Done, %${t.id}Results.latest().select(${line}).first(), ` +
      `iif(%${t.id}Pending, %${t.id}PendingItems.evidence().join('; '), ${t.missingText ?? "'not on record'"})), {})`;
  });
  const groups = (c.groups ?? []).map((g, gi) => {
    const n = `${camel(g.id)}Group`;
    const members = g.tests.flatMap((tid, ti) => {
      const t = tests.get(tid);
      if (!t) issues.push({ file, pointer: `/checklists/${id}/groups/${gi}/tests/${ti}`, message: `no test "${tid}" in this checklist` });
      return t ? [t] : [];
    });
    const all = (f: (t: string) => string, op: string) => members.map((t) => `(${f(t.id)})`).join(` ${op} `) || 'true';
    out[`${n}Done`] = all((t) => `%${t}Required.not() or %${t}Done`, 'and');
    out[`${n}Pending`] = `%${n}Done.not() and ${all((t) => `%${t}Required.not() or %${t}Done or %${t}Pending`, 'and')}`;
    out[`${n}Missing`] = `%${n}Done.not() and %${n}Pending.not()`;
    out[`${n}Partial`] = `%${n}Missing and (${all((t) => `%${t}Required and (%${t}Done or %${t}Pending)`, 'or')})`;
    out[`${n}MissingTests`] = members.map((t) => `iif(%${t.id}Needed, ${fhirpathString(t.label)}, {})`).join(' | ');
    out[`${n}Results`] = members.map((t) => `%${t.id}Results.latest()`).join('.combine(') + ')'.repeat(Math.max(0, members.length - 1));
    return { g, n, members };
  });
  const each = (f: (x: (typeof groups)[number]) => string) => groups.map(f).join(' | ') || '{}';
  const label = (g: RawChecklistGroup) => fhirpathString(g.label);
  out[`${id}DoneGroups`] = each(({ g, n }) => `iif(%${n}Done, ${label(g)}, {})`);
  out[`${id}DoneLines`] = each(({ g, n }) => `iif(%${n}Done, ${label(g)} + ': ' + %${n}Results.select(evidence() + (${c.flag})).join('; '), {})`);
  out[`${id}PendingGroups`] = each(({ g, n }) => `iif(%${n}Pending, ${label(g)}, {})`);
  out[`${id}MissingGroups`] = each(({ g, n }) => `iif(%${n}Missing, ${label(g)}, {})`);
  out[`${id}MissingLines`] = each(({ g, n }) => `iif(%${n}Missing, ${label(g)} + iif(%${n}Partial, ': ' + %${n}MissingTests.join(', ') + ' not found', ''), {})`);
  out[`${id}PendingItems`] = c.tests.map((t) => `%${t.id}PendingItems`).join(' | ') || '{}';
  out[`${id}StateLines`] = c.tests.map((t) => `%${t.id}StateLine`).join(' | ') || '{}';
  const suggestions = expandOrders(id, c, file, issues, out);
  const definition: ChecklistDefinition = {
    id,
    label: c.label,
    groups: groups.map(({ g, n, members }) => ({
      id: g.id,
      label: g.label,
      names: { done: `${n}Done`, pending: `${n}Pending`, missing: `${n}Missing`, results: `${n}Results` },
      tests: members.map((t) => ({ id: t.id, label: t.label, valueSet: t.valueSet, names: { results: `${t.id}Results`, pending: `${t.id}PendingItems`, needed: `${t.id}Needed` } })),
    })),
    names: { doneLines: `${id}DoneLines`, pendingGroups: `${id}PendingGroups`, missingGroups: `${id}MissingGroups`, missingLines: `${id}MissingLines`, pendingItems: `${id}PendingItems`, stateLines: `${id}StateLines` },
  };
  return { expressions: out, definition, suggestions };
}

/** Anchor of the checklists expanded after every expression of their library. */
const END = '\u0000end';

/**
 * A library's named expressions in evaluation order: its thresholds first, then its expressions with each checklist's
 * expansion inserted after the expression the checklist names; and the suggestion sets its checklists' orders make.
 */
export function libraryExpressions(
  lib: RawLibrary,
  file: string,
  issues: LoadIssue[],
): { expressions: Record<string, RawExpression>; checklists: ChecklistDefinition[]; suggestionSets: Record<string, RawSuggestion[]> } {
  const expansions = new Map<string, Record<string, string>[]>();
  const checklists: ChecklistDefinition[] = [];
  const suggestionSets: Record<string, RawSuggestion[]> = {};
  for (const [id, c] of Object.entries(lib.checklists ?? {})) {
    if (c.after !== undefined && !(c.after in lib.expressions)) issues.push({ file, pointer: `/checklists/${id}/after`, message: `no expression named "${c.after}" in this library` });
    const { expressions, definition, suggestions } = expandChecklist(id, c, file, issues);
    const anchor = c.after ?? END;
    expansions.set(anchor, [...(expansions.get(anchor) ?? []), expressions]);
    checklists.push(definition);
    if (c.suggestionSet !== undefined) {
      // A set named by the library itself too is reported where the sets are defined (load.ts).
      if (c.suggestionSet in suggestionSets) issues.push({ file, pointer: `/checklists/${id}/suggestionSet`, message: `suggestionSets "${c.suggestionSet}" is defined twice` });
      suggestionSets[c.suggestionSet] = suggestions;
    }
  }
  const out: Record<string, RawExpression> = { ...(lib.thresholds ?? {}) };
  const put = (name: string, e: RawExpression, pointer: string) => {
    if (name in out) issues.push({ file, pointer, message: `name "${name}" is defined twice (threshold, checklist or expression)` });
    out[name] = e;
  };
  for (const [name, e] of Object.entries(lib.expressions)) {
    put(name, e, `/expressions/${escapePointer(name)}`);
    for (const x of expansions.get(name) ?? []) for (const [n, v] of Object.entries(x)) put(n, v, `/checklists`);
  }
  for (const x of expansions.get(END) ?? []) for (const [n, v] of Object.entries(x)) put(n, v, `/checklists`);
  return { expressions: out, checklists, suggestionSets };
}

/** Tables: rows whose `valueSet` names no known value set are issues (memberOf(valueSet) reads them). */
export function checkTables(lib: RawLibrary, file: string, valueSets: ValueSetIndex, issues: LoadIssue[]): void {
  for (const [name, rows] of Object.entries(lib.tables ?? {})) {
    rows.forEach((row, i) => {
      if (typeof row.valueSet === 'string' && !valueSets.has(resolveValueSetUrl(row.valueSet))) issues.push({ file, pointer: `/tables/${name}/${i}/valueSet`, message: `unknown value set "${row.valueSet}"` });
    });
  }
  for (const [id, c] of Object.entries(lib.checklists ?? {})) {
    c.tests.forEach((t, i) => {
      if (!valueSets.has(resolveValueSetUrl(t.valueSet))) issues.push({ file, pointer: `/checklists/${id}/tests/${i}/valueSet`, message: `unknown value set "${t.valueSet}"` });
    });
  }
}
