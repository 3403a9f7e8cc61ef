/**
 * The batch-job name that carries the worker id. It is what makes submission idempotent: a
 * submit retried after a crash asks the batch system for this name before making a new job.
 */
const NAME_PREFIX = 'harvester';

export function batchJobName(harvesterID: string, workerID: number): string {
  return `${NAME_PREFIX}-${harvesterID}-${workerID}`;
}

/** The worker id in a name made by batchJobName for this harvester, or undefined for other names. */
export function workerIdFromJobName(harvesterID: string, name: string): number | undefined {
  const prefix = `${NAME_PREFIX}-${harvesterID}-`;
  if (!name.startsWith(prefix)) return undefined;
  const rest = name.slice(prefix.length);
  return /^\d+$/.test(rest) ? Number(rest) : undefined;
}

/**
 * Splits a list so that each part, joined with `sep`, stays under `maxChars`. Linux caps one argv
 * string at 128 KiB (MAX_ARG_STRLEN); a comma-joined list of ten thousand job ids must not hit it.
 * Realistic cycles (hundreds of workers) give one part, hence one command.
 */
export function chunkByLength(items: readonly string[], maxChars = 100_000, sep = ','): string[][] {
  const out: string[][] = [];
  let current: string[] = [];
  let length = 0;
  for (const item of items) {
    const add = item.length + (current.length > 0 ? sep.length : 0);
    if (current.length > 0 && length + add > maxChars) {
      out.push(current);
      current = [];
      length = 0;
    }
    length += item.length + (current.length > 0 ? sep.length : 0);
    current.push(item);
  }
  if (current.length > 0) out.push(current);
  return out;
}
