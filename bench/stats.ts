// Small statistics and timing helpers for the benchmark (percentiles by nearest rank, medians, clocks, GC).
import v8 from 'node:v8';
import vm from 'node:vm';

export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1] as number;
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/** A monotonic reading in nanoseconds. */
export function clock(): bigint {
  return process.hrtime.bigint();
}

/** Milliseconds since an earlier `clock()` reading. */
export function msSince(start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1e6;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

let gcFunction: (() => void) | undefined | null = null;

/**
 * A full garbage collection between phases, so that one phase's garbage (the 20 MB L chart is ~300 MB of
 * objects while it is built) is not collected during the next phase's timings. Without --expose-gc on the
 * command line, the flag is set at run time and `gc` taken from a fresh context; a no-op if that fails.
 */
export function collectGarbage(): void {
  if (gcFunction === null) {
    try {
      v8.setFlagsFromString('--expose-gc');
      gcFunction = vm.runInNewContext('gc') as () => void;
    } catch {
      gcFunction = undefined;
    }
  }
  gcFunction?.();
}
