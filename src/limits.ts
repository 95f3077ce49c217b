// Length limits for request strings that reach a parser or become a map key (units, codes, systems, dates,
// references). Real values are far shorter; a longer one is unusable data, never parsed: the parsers behind them
// (UCUM, date regexes, value-set lookups) cost more than linear time or memory in the string's length.
export const MAX_UNIT_LENGTH = 64;
export const MAX_CODE_LENGTH = 256;
export const MAX_SYSTEM_LENGTH = 512;
export const MAX_DATE_LENGTH = 64;
export const MAX_REFERENCE_LENGTH = 512;

/** The string itself when it is a string of at most `max` characters, else undefined (unusable). */
export function bounded(value: unknown, max: number): string | undefined {
  return typeof value === 'string' && value.length <= max ? value : undefined;
}

/** True for a string longer than `max`: present but unusable. */
export function overLong(value: unknown, max: number): boolean {
  return typeof value === 'string' && value.length > max;
}
