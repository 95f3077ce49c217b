// Keeps libraries off stdout/stderr: fhirpath.js and its UCUM library print request data (a unit string, a
// trace) with console.log/warn, which would put patient data and forged lines next to pino's JSON. In the server
// and its evaluation threads only the logger writes; a library's console call is only counted (its arguments
// may be patient data), and the caller logs the count.

const METHODS = ['log', 'info', 'warn', 'error', 'debug', 'trace', 'dir', 'dirxml', 'table'] as const;

/** Replaces the console methods of this thread; each call runs `onWrite` (never with the arguments). */
export function silenceConsole(onWrite: () => void): void {
  for (const m of METHODS) (console as unknown as Record<string, unknown>)[m] = () => onWrite();
}
