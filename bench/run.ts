/**
 * `npm run bench`: sets up what the benches need (a Temporal dev server on its own ports
 * 7433/8433 with its SQLite file under bench-output/, a fresh PostgreSQL database created here and
 * dropped at the end), runs each bench module one after the other (they share a 2-core machine:
 * running them together would measure each other), prints one line per result,
 *   name: value unit (target ...) PASS|FAIL
 * writes bench-output/results.json, and tears the set-up down.
 *
 * Benches are measurements, not tests: a missed target prints FAIL but the exit code stays 0;
 * only a bench that could not run at all makes the exit code 1.
 *
 *   node --import tsx bench/run.ts            every bench
 *   node --import tsx bench/run.ts history    benches whose name contains a filter
 *                                             (written to bench-output/results-<filter>.json)
 */
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { runAdjusterBench } from './adjuster.bench';
import { runFinalReportLatencyBench } from './finalReportLatency.bench';
import { runHeartbeatCallsBench } from './heartbeatCalls.bench';
import { runHeartbeatScheduleBench } from './heartbeatSchedule.bench';
import { runHistoryEventsBench } from './historyEvents.bench';
import { runKillLatencyBench } from './killLatency.bench';
import { runLifecycleThroughputBench } from './lifecycleThroughput.bench';
import { runLiveWorkerMemoryBench } from './liveWorkerMemory.bench';
import { runMonitorCallsBench } from './monitorCalls.bench';
import { runScaleBench } from './scale.bench';
import { runSlurmSubmitRateBench } from './slurmSubmitRate.bench';
import {
  BENCH_OUTPUT_DIR,
  type BenchResult,
  formatResult,
  setUpBenchEnvironment,
  writeResults,
} from './support/env';

const BENCHES: Array<{ name: string; run: () => Promise<BenchResult[]> }> = [
  { name: 'adjuster', run: runAdjusterBench },
  { name: 'historyEvents', run: runHistoryEventsBench },
  { name: 'heartbeatSchedule', run: runHeartbeatScheduleBench },
  { name: 'heartbeatCalls', run: runHeartbeatCallsBench },
  { name: 'monitorCalls', run: runMonitorCallsBench },
  { name: 'lifecycleThroughput', run: runLifecycleThroughputBench },
  // Real Slurm (scripts/slurm-setup.sh): runs its own short-lived batch jobs.
  { name: 'finalReportLatency', run: runFinalReportLatencyBench },
  { name: 'killLatency', run: runKillLatencyBench },
  { name: 'slurmSubmitRate', run: runSlurmSubmitRateBench },
  // Last: it leaves 20,000 lifecycles asleep on the bench server (discarded at the end).
  { name: 'liveWorkerMemory', run: runLiveWorkerMemoryBench },
  // A whole instance (HARVESTER_BENCH_SCALE=smoke|medium|full, default smoke); at full size it
  // leaves its 50,000 lifecycles asleep on the bench server too.
  { name: 'scale', run: runScaleBench },
];

async function main(argv: string[]): Promise<number> {
  const filters = argv.filter((a) => !a.startsWith('--'));
  const selected = BENCHES.filter((b) => filters.length === 0 || filters.some((f) => b.name.includes(f)));
  if (selected.length === 0) {
    console.error(
      `no bench matched ${filters.join(', ')}; benches: ${BENCHES.map((b) => b.name).join(', ')}`,
    );
    return 1;
  }
  const t0 = Date.now();
  const { env, teardown } = await setUpBenchEnvironment();
  console.log(
    `bench set-up ready in ${Date.now() - t0} ms: Temporal ${env.temporalAddress}, database ${env.databaseUrl}`,
  );
  const results: BenchResult[] = [];
  const errors: Array<{ bench: string; error: string }> = [];
  const timings: Record<string, number> = {};
  try {
    for (const bench of selected) {
      const started = Date.now();
      console.log(`\n== ${bench.name}`);
      try {
        for (const r of await bench.run()) {
          results.push(r);
          console.log(formatResult(r));
          if (r.note) console.log(`  ${r.note}`);
        }
      } catch (err) {
        const message = (err as Error).stack ?? String(err);
        errors.push({ bench: bench.name, error: message });
        console.error(`${bench.name}: could not run: ${message}`);
      }
      timings[bench.name] = (Date.now() - started) / 1000;
    }
  } finally {
    await teardown();
  }
  // A filtered run must not overwrite the full run's record.
  const file = join(
    BENCH_OUTPUT_DIR,
    filters.length ? `results-${filters.join('-').replace(/[^\w-]/g, '_')}.json` : 'results.json',
  );
  writeResults(file, results, {
    date: new Date().toISOString(),
    machine: {
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model,
      memoryGiB: Math.round(totalmem() / 2 ** 30),
      node: process.version,
    },
    secondsPerBench: timings,
    errors,
  });
  console.log(`\n${results.length} results, ${errors.length} benches failed to run; written to ${file}`);
  return errors.length > 0 ? 1 : 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: Error) => {
    console.error(`npm run bench: ${err.message}`);
    process.exit(1);
  },
);
