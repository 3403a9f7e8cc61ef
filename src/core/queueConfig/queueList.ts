/**
 * Harvester's [qconf] queueList: the queues this instance serves. `ALL` = every configured queue;
 * `DYNAMIC` also turns the filter off (in Harvester it adds the queues CRIC assigns to this
 * instance; we have no CRIC resolver, so it acts as ALL over the local and remote configs);
 * otherwise only the named queues are active. Offline queues stay inactive either way.
 */
import { formatProblem } from './diagnostics';
import type { ConfigError, QueueConfigLoadResult } from './types';

/** Where messages say the list comes from. */
export const QUEUE_LIST_SOURCE = 'queueList (HARVESTER_QUEUE_LIST)';

export const QUEUE_LIST_ALL = 'ALL';
export const QUEUE_LIST_DYNAMIC = 'DYNAMIC';

/** Splits a list written with commas, spaces or new lines (Harvester's multi-line cfg value). */
export function parseQueueList(raw: string): string[] {
  return raw
    .split(/[\s,]+/)
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

/** True when the list names no filter (ALL or DYNAMIC present, or the list is empty). */
export function queueListIsOpen(queueList: readonly string[]): boolean {
  return (
    queueList.length === 0 || queueList.includes(QUEUE_LIST_ALL) || queueList.includes(QUEUE_LIST_DYNAMIC)
  );
}

/**
 * Marks queues not in the list inactive (their configs stay loaded, so workers already made for
 * them can still be monitored and swept) and warns about listed names that have no valid config
 * and no error of their own explaining why.
 */
export function applyQueueList(
  result: QueueConfigLoadResult,
  queueList: readonly string[],
): QueueConfigLoadResult {
  if (queueListIsOpen(queueList)) return result;
  const listed = new Set(queueList);
  const queues = result.queues.map((q) =>
    q.active && !listed.has(q.queueName) ? { ...q, active: false } : q,
  );
  const known = new Set(result.queues.map((q) => q.queueName));
  const explained = new Set(result.errors.map((e) => e.queue));
  const warnings: ConfigError[] = [...result.warnings];
  for (const name of queueList) {
    if (known.has(name) || explained.has(name)) continue;
    const base: Omit<ConfigError, 'message'> = {
      severity: 'warning',
      file: QUEUE_LIST_SOURCE,
      queue: name,
      field: '',
      value: name,
      expected: result.templates.includes(name)
        ? 'a queue name, not a template'
        : 'a queue of the local or remote queue config (none has this name, so it is not served)',
    };
    warnings.push({ ...base, message: formatProblem(base) });
  }
  return { ...result, queues, warnings };
}
