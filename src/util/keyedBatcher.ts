/**
 * Collects calls that arrive close together for the same key and serves them with one bulk call:
 * many workers' PanDA reports of one queue become one update_workers call (≤ maxItems each),
 * the way Harvester's propagator sends its bulks. Each caller gets its own result or error.
 */
export interface KeyedBatcherOptions<In, Out> {
  /** Flush a key's batch when it holds this many items. */
  maxItems: number;
  /** Flush a key's batch at the latest this long after its first item arrived. */
  windowMs: number;
  /**
   * Flush earlier when no new item came for this long: a burst (one heartbeat tick's workers waking
   * together) is taken whole however long it takes to arrive, and a lone report is not held for
   * the full window. Default: a quarter of windowMs.
   */
  idleMs?: number;
  /**
   * A batch that has grown to `afterItems` is a burst (a bulk kill whose items arrive over many
   * seconds as their workflows get to them): from then on it waits up to `windowMs` from its first
   * item and `idleMs` of quiet, so the burst goes out in a few calls, while a lone item or a small
   * group keeps the short windows above.
   */
  burst?: { afterItems: number; windowMs: number; idleMs: number };
  /** One bulk call; must return one result per item, in order. */
  flush(key: string, items: In[]): Promise<Out[]>;
}

interface Pending<In, Out> {
  items: In[];
  waiters: Array<{ resolve(v: Out): void; reject(e: unknown): void }>;
  timer: NodeJS.Timeout;
  idleTimer?: NodeJS.Timeout;
  /** Grown to burst.afterItems: the window and the quiet gap are the burst's. */
  burst: boolean;
}

export class KeyedBatcher<In, Out> {
  private readonly pending = new Map<string, Pending<In, Out>>();
  /** Number of bulk calls made; benchmarks and tests read it. */
  flushCount = 0;

  constructor(private readonly opts: KeyedBatcherOptions<In, Out>) {}

  add(key: string, item: In): Promise<Out> {
    return new Promise<Out>((resolve, reject) => {
      let batch = this.pending.get(key);
      if (!batch) {
        batch = {
          items: [],
          waiters: [],
          timer: setTimeout(() => this.windowEnded(key), this.opts.windowMs),
          burst: false,
        };
        this.pending.set(key, batch);
      }
      batch.items.push(item);
      batch.waiters.push({ resolve, reject });
      if (batch.items.length >= this.opts.maxItems) {
        this.flushKey(key);
        return;
      }
      const burst = this.opts.burst;
      if (burst && batch.items.length >= burst.afterItems) batch.burst = true;
      clearTimeout(batch.idleTimer);
      const idleMs = batch.burst && burst ? burst.idleMs : (this.opts.idleMs ?? this.opts.windowMs / 4);
      batch.idleTimer = setTimeout(() => this.flushKey(key), idleMs);
    });
  }

  /** The short window is over: a burst waits on to its own window, anything else goes out. */
  private windowEnded(key: string): void {
    const batch = this.pending.get(key);
    const burst = this.opts.burst;
    if (batch?.burst && burst && burst.windowMs > this.opts.windowMs) {
      batch.timer = setTimeout(() => this.flushKey(key), burst.windowMs - this.opts.windowMs);
      return;
    }
    this.flushKey(key);
  }

  private flushKey(key: string): void {
    const batch = this.pending.get(key);
    if (!batch) return;
    this.pending.delete(key);
    clearTimeout(batch.timer);
    clearTimeout(batch.idleTimer);
    this.flushCount++;
    this.opts.flush(key, batch.items).then(
      (results) => {
        if (results.length !== batch.items.length) {
          const err = new Error(
            `bulk call for ${key} returned ${results.length} results for ${batch.items.length} items`,
          );
          for (const w of batch.waiters) w.reject(err);
          return;
        }
        for (const [i, w] of batch.waiters.entries()) w.resolve(results[i]);
      },
      (err) => {
        for (const w of batch.waiters) w.reject(err);
      },
    );
  }
}
