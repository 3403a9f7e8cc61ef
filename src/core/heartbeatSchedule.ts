/**
 * When a worker's next PanDA heartbeat is due.
 *
 * Each worker's period is jittered (±10 %) so thousands of workers do not wake together, and the
 * result is then rounded up to the queue's heartbeat tick (a tenth of the period, with a per-queue
 * phase). Workers of one queue that are due in the same tick therefore wake together, and the
 * central worker sends their reports as one bulk PanDA call (at most 100 per call): 1,000 running
 * workers cost about ten calls per 30-minute period, like Harvester's propagator.
 */

export interface HeartbeatScheduleInput {
  /** Epoch ms of the previous heartbeat (or of the start of running). */
  fromMs: number;
  intervalSeconds: number;
  /** A number in [0, 1) from the workflow's seeded PRNG. */
  random: number;
  queueName: string;
}

export const HEARTBEAT_TICKS_PER_INTERVAL = 10;

/** FNV-1a: a stable small hash, so one queue always gets the same tick phase. */
export function stableHash(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

export function nextHeartbeatAt(i: HeartbeatScheduleInput): number {
  const periodMs = i.intervalSeconds * 1000;
  const jitterMs = (i.random * 0.2 - 0.1) * periodMs;
  const target = i.fromMs + periodMs + jitterMs;
  const tickMs = Math.max(1000, Math.floor(periodMs / HEARTBEAT_TICKS_PER_INTERVAL));
  const phase = stableHash(i.queueName) % tickMs;
  const ticks = Math.ceil((target - phase) / tickMs);
  return ticks * tickMs + phase;
}
