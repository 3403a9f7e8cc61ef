/**
 * When a worker's next PanDA heartbeat is due.
 *
 * The heartbeat period of a queue is cut into ticks (a tenth of the period, shifted by a per-queue
 * phase). Each worker owns one tick for its whole life, chosen from its worker id, so consecutive
 * workers of a queue spread evenly over the ticks and never drift between them. Workers due in the
 * same tick wake together and the central worker sends their reports as one bulk PanDA call (at
 * most 100 per call): 1,000 running workers of a queue cost ten calls per period, like Harvester's
 * propagator with its bulks of 100. Spreading by id is also the jitter that keeps thousands of
 * workers from waking at the same moment.
 */

export interface HeartbeatScheduleInput {
  /** Epoch ms of the previous heartbeat (or of the start of watching). */
  fromMs: number;
  intervalSeconds: number;
  workerID: number;
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

/** The worker's slot: offset from the start of each period at which its heartbeats fall. */
export function heartbeatOffsetMs(intervalSeconds: number, workerID: number, queueName: string): number {
  const periodMs = intervalSeconds * 1000;
  const tickMs = Math.max(1, Math.floor(periodMs / HEARTBEAT_TICKS_PER_INTERVAL));
  const phase = stableHash(queueName) % tickMs;
  return (phase + (workerID % HEARTBEAT_TICKS_PER_INTERVAL) * tickMs) % periodMs;
}

/**
 * The first moment in the worker's slot at least half a period after `fromMs`: consecutive beats
 * are exactly one period apart (a late wake-up does not shift the slot), and the first one comes
 * between half a period and one and a half periods after the worker started being watched.
 */
export function nextHeartbeatAt(i: HeartbeatScheduleInput): number {
  const periodMs = i.intervalSeconds * 1000;
  const offset = heartbeatOffsetMs(i.intervalSeconds, i.workerID, i.queueName);
  const earliest = i.fromMs + periodMs / 2;
  const periods = Math.ceil((earliest - offset) / periodMs);
  return periods * periodMs + offset;
}
