/**
 * The scale bench (bench/scale.bench.ts) at its smoke size, so CI runs it: a whole instance (the
 * real `harvester worker` and `harvester edge` processes, the instance workflow, three queues of
 * which one on the edge, 300 workers whose jobs end spread over minutes) ramps up, holds a steady
 * state for two minutes and has one queue emptied by a PanDA KILL_WORKERS.
 *
 * What a user would notice: a queue's monitor cycle costs the Temporal server a bounded amount of
 * history whatever the queue's size, workers keep completing and being replaced, a kill reaches
 * the batch system, PanDA's kill command ends every worker it names, and no workflow's history
 * runs away. Timing targets (kill p95, throughput) are the bench's to report, not this test's:
 * the CI machine is shared.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cycleBudget, measureScale, scaleSizeFromEnv } from '../../bench/scale.bench';
import { testDatabaseUrl, testTemporalAddress } from '../helpers/env';

test('the scale bench at smoke size: steady state held, every figure measured, history per cycle within budget', async (t) => {
  process.env.HARVESTER_BENCH_TEMPORAL_ADDRESS = testTemporalAddress();
  process.env.HARVESTER_BENCH_DATABASE_URL = testDatabaseUrl();
  const size = scaleSizeFromEnv({ HARVESTER_BENCH_SCALE: 'smoke' });
  const report = await measureScale(size, process.env.HARVESTER_TEST_OUTPUT);
  for (const r of report.results) t.diagnostic(`${r.name}: ${r.value} ${r.unit}`);

  for (const q of report.queues) {
    // 12 are due (every 10 s); fewer than 3 means the queue workflow was starved for over a minute.
    assert.ok(q.monitorCycles >= 3, `${q.name}: ${q.monitorCycles} monitor cycles in the 2-minute hold`);
    assert.equal(q.statusCallsPerCycle, 1, `${q.name}: one bulk status call per cycle`);
    assert.ok(
      q.changedMedian > 0,
      `${q.name}: workers changed state in its cycles (jobs spread over minutes)`,
    );
    assert.equal(
      q.cyclesOverBudget,
      0,
      `${q.name}: a monitor cycle wrote more than ${cycleBudget(q.changedMax)} B (max ${q.monitorBytesMax} B)`,
    );
  }
  assert.ok(
    report.queues.some((q) => q.edge && q.monitorCycles > 0),
    'the edge queue was measured',
  );
  const d = report.details as {
    completed: number;
    meanLive: number;
    kills: Array<{ callStartMs?: number }>;
    bulk: { marked: number; open: number };
    heartbeats: { calls: number };
    largest: { byBytes: { bytes: number }; byEvents: { events: number } };
    cpuSeconds: { central: number; server: number };
  };
  assert.ok(d.completed > 50, `${d.completed} lifecycles completed in the hold`);
  assert.ok(d.meanLive >= 0.9 * 300, `finished workers are replaced: ${d.meanLive} live on average`);
  assert.ok(
    d.kills.length > 0 && d.kills.every((k) => k.callStartMs !== undefined),
    'every kill reached the sweeper',
  );
  assert.ok(d.bulk.marked > 0, 'KILL_WORKERS marked the queue’s workers');
  assert.equal(d.bulk.open, 0, 'every worker KILL_WORKERS marked has ended');
  assert.ok(d.heartbeats.calls > 0, 'heartbeats reached PanDA');
  assert.ok(d.largest.byBytes.bytes > 0 && d.largest.byBytes.bytes < 10e6, 'largest history under 10 MB');
  assert.ok(d.largest.byEvents.events < 10_240, 'largest history under 10,240 events');
  assert.ok(
    d.cpuSeconds.central > 0 && d.cpuSeconds.server > 0,
    'CPU read from /proc for the worker and the server',
  );
});
