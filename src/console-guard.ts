// Keeps libraries off stdout/stderr: fhirpath.js and its UCUM library print request data (a unit string, a
// trace) with console.log/warn, which would put patient data and forged lines next to pino's JSON. In the server
// and its evaluation threads only the logger writes; a library's console call becomes one fixed debug line.
import type { Logger } from 'pino';

const METHODS = ['log', 'info', 'warn', 'error', 'debug', 'trace', 'dir', 'dirxml', 'table'] as const;

/** Replaces the console methods; with a logger, each call is noted (without its arguments, which may be data). */
export function silenceConsole(log?: Pick<Logger, 'debug'>): void {
  const note = () => log?.debug({ source: 'console' }, 'a library wrote to the console; suppressed');
  for (const m of METHODS) (console as unknown as Record<string, unknown>)[m] = note;
}
