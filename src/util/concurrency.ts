/**
 * Bounded concurrency: runs `fn` over `items` with at most `limit` calls in flight (a batch
 * system, the Temporal server or the DB is not flooded, and the process is not idle).
 */

/** Results stay aligned with the input. */
export async function mapWithConcurrency<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const lanes = Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i], i);
    }
  });
  await Promise.all(lanes);
  return results;
}

/** The same, for calls whose results are not needed. */
export async function forEachLimited<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  await mapWithConcurrency(items, limit, (item) => fn(item));
}
