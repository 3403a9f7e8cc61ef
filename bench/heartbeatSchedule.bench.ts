/**
 * The floor that the heartbeat schedule alone puts under the PanDA call count, with no server:
 * 1,000 running workers of one queue follow src/core/heartbeatSchedule.ts (each worker keeps the
 * tick of the period its worker id gives it, a tenth of the period per tick) for many periods; every tick's heartbeats are
 * assumed to go out in perfect bulks of ≤ 100. What the real system does can only be worse
 * (batches split by the 1.5 s report window when a tick's wake-ups take longer to process).
 *
 * Standalone: node --import tsx bench/heartbeatSchedule.bench.ts
 */
import { nextHeartbeatAt } from '../src/core/heartbeatSchedule';
import type { BenchResult } from './support/env';

const WORKERS = 1000;
const PERIOD_SECONDS = 1800;
const PERIODS = 40;
const WARMUP_PERIODS = 5;
const MAX_PER_CALL = 100;
const TARGET_CALLS_PER_PERIOD = 10;

/** Small seeded PRNG (mulberry32) so the result is the same on every run. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export async function runHeartbeatScheduleBench(): Promise<BenchResult[]> {
  const random = prng(20260501);
  const periodMs = PERIOD_SECONDS * 1000;
  const beatsPerTick = new Map<number, number>();
  const from = WARMUP_PERIODS * periodMs;
  const to = PERIODS * periodMs;
  // Worker ids are handed out in sequence, as the DB sequence does.
  for (let w = 1; w <= WORKERS; w++) {
    // Workers start running at random moments, as they do in a real queue.
    let t = Math.floor(random() * periodMs);
    while (t < to) {
      t = nextHeartbeatAt({
        fromMs: t,
        intervalSeconds: PERIOD_SECONDS,
        workerID: w,
        queueName: 'BENCH_SCHEDULE',
      });
      if (t >= from && t < to) beatsPerTick.set(t, (beatsPerTick.get(t) ?? 0) + 1);
    }
  }
  let calls = 0;
  let beats = 0;
  for (const n of beatsPerTick.values()) {
    calls += Math.ceil(n / MAX_PER_CALL);
    beats += n;
  }
  const periods = PERIODS - WARMUP_PERIODS;
  const callsPerPeriod = calls / periods;
  return [
    {
      name: `PanDA calls per ${PERIOD_SECONDS} s heartbeat period implied by the schedule alone, ${WORKERS} workers, perfect batching`,
      value: callsPerPeriod,
      unit: 'calls/period',
      target: `≤ ${TARGET_CALLS_PER_PERIOD}`,
      pass: callsPerPeriod <= TARGET_CALLS_PER_PERIOD,
      note:
        `${(beats / periods).toFixed(0)} heartbeats per period over ${(beatsPerTick.size / periods).toFixed(1)} ticks per period ` +
        `(mean ${(beats / beatsPerTick.size).toFixed(0)} per tick); a lower bound for the measured count`,
    },
  ];
}

if (require.main === module) {
  runHeartbeatScheduleBench().then((rs) => {
    for (const r of rs)
      console.log(
        `${r.name}: ${r.value.toFixed(2)} ${r.unit} (target ${r.target}) ${r.pass ? 'PASS' : 'FAIL'}\n  ${r.note}`,
      );
  });
}
