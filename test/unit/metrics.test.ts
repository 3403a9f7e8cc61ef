/**
 * Harvester's Prometheus metrics, read back from the endpoint the Temporal runtime serves
 * (HARVESTER_METRICS_PORT): failures by reason, one submission count per worker outcome, the
 * workers gauge dropping statuses to 0, and every PanDA call's latency and errors recorded once by
 * the transport (the client adding only the refusals it decides on).
 */
import assert from 'node:assert/strict';
import { createServer as createHttpServer, type Server } from 'node:http';
import { after, before, test } from 'node:test';
import { MockActivityEnvironment } from '@temporalio/testing';
import { Runtime } from '@temporalio/worker';
import { createLogger } from '../../src/observability/logger';
import { harvesterMetrics, statusQueryFailureReason } from '../../src/observability/metrics';
import { installTemporalLogging } from '../../src/observability/temporalLogging';
import { createPandaClient, type PandaCommunicator } from '../../src/panda';
import type { WorkerUpdate } from '../../src/panda/types';
import { freePort } from '../helpers/freePort';

let metricsPort: number;
let panda: Server;
let pandaUrl: string;

/** Sum of the samples of `name` whose labels include all of `labels` (other labels may differ). */
async function sample(name: string, labels: Record<string, string>): Promise<number | undefined> {
  const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  let sum: number | undefined;
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries(
      [...(m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((l) => [l[1], l[2]]),
    );
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) sum = (sum ?? 0) + Number(m[3]);
  }
  return sum;
}

/** A PanDA server whose reply per endpoint is fixed: success, success:false, or an HTTP error. */
function startFakePanda(): Promise<Server> {
  const replies: Record<string, { status: number; body: unknown }> = {
    '/api/v1/system/is_alive': { status: 200, body: { success: true, message: '', data: null } },
    '/api/v1/harvester/update_workers': {
      status: 200,
      body: { success: false, message: 'database error', data: null },
    },
    '/api/v1/harvester/heartbeat': { status: 500, body: 'internal error' },
    '/api/v1/pilot/acquire_jobs': {
      status: 200,
      body: { success: false, message: 'No jobs in PanDA', data: null },
    },
  };
  const server = createHttpServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const reply = replies[new URL(req.url ?? '/', 'http://x').pathname] ?? {
        status: 404,
        body: 'no such endpoint',
      };
      res.writeHead(reply.status, { 'content-type': 'application/json' });
      res.end(typeof reply.body === 'string' ? reply.body : JSON.stringify(reply.body));
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

function client(baseUrl = pandaUrl): PandaCommunicator {
  return createPandaClient({ baseUrl, harvesterId: 'metrics-test', timeoutMs: 5000 });
}

before(async () => {
  metricsPort = await freePort();
  installTemporalLogging(createLogger({ level: 'silent' }), { metricsPort });
  panda = await startFakePanda();
  pandaUrl = `http://127.0.0.1:${(panda.address() as { port: number }).port}/api/v1`;
});

after(async () => {
  await new Promise((resolve) => panda.close(resolve));
  // The runtime (and its metrics server) would keep the test process alive.
  await Runtime.instance().shutdown();
});

test('the workers gauge sets every status on each cycle: one that emptied reads 0, not its old value', async () => {
  harvesterMetrics.workersByStatus('GAUGE_Q', { submitted: 2, running: 3 });
  assert.equal(await sample('harvester_workers', { queue: 'GAUGE_Q', status: 'submitted' }), 2);
  // Next cycle's GROUP BY has no submitted row: those workers all started.
  harvesterMetrics.workersByStatus('GAUGE_Q', { running: 5 });
  assert.equal(await sample('harvester_workers', { queue: 'GAUGE_Q', status: 'submitted' }), 0);
  assert.equal(await sample('harvester_workers', { queue: 'GAUGE_Q', status: 'running' }), 5);
  for (const status of ['pending', 'idle', 'ready', 'finished', 'failed', 'cancelled', 'missed']) {
    assert.equal(await sample('harvester_workers', { queue: 'GAUGE_Q', status }), 0, status);
  }
});

test('submission outcomes: one count per call, and a missed worker is a submission failure by reason', async () => {
  harvesterMetrics.submissionOutcome('SUB_Q', { outcome: 'submitted' });
  harvesterMetrics.submissionOutcome('SUB_Q', { outcome: 'submitted' });
  harvesterMetrics.submissionOutcome('SUB_Q', { outcome: 'missed', reason: 'temporary' });
  harvesterMetrics.submissionOutcome('SUB_Q', { outcome: 'missed', reason: 'own_submission' });
  assert.equal(await sample('harvester_submissions', { queue: 'SUB_Q', outcome: 'submitted' }), 2);
  assert.equal(await sample('harvester_submissions', { queue: 'SUB_Q', outcome: 'missed' }), 2);
  const failures = (reason: string) =>
    sample('harvester_failures', { queue: 'SUB_Q', operation: 'submission', reason });
  assert.equal(await failures('temporary'), 1);
  assert.equal(await failures('own_submission'), 1);
  assert.equal(await failures('permanent'), undefined);
});

test('a failed bulk status query is a status_query failure, a time-out told apart from other errors', async () => {
  harvesterMetrics.monitorCycle('MON_Q', true);
  harvesterMetrics.monitorCycle('MON_Q', false, 'Activity task timed out');
  harvesterMetrics.monitorCycle('MON_Q', false, 'squeue: exit 1: slurm_load_jobs error');
  harvesterMetrics.monitorCycle('MON_Q', false, 'squeue: exit 1: slurm_load_jobs error');
  assert.equal(await sample('harvester_monitor_cycles', { queue: 'MON_Q', ok: 'true' }), 1);
  assert.equal(await sample('harvester_monitor_cycles', { queue: 'MON_Q', ok: 'false' }), 3);
  const failures = (reason: string) =>
    sample('harvester_failures', { queue: 'MON_Q', operation: 'status_query', reason });
  assert.equal(await failures('timeout'), 1);
  assert.equal(await failures('error'), 2);
  assert.equal(statusQueryFailureReason('no reply within 180000 ms (deadline)'), 'timeout');
});

test("a bulk kill's failed results are kill failures by the plugin's verdict", async () => {
  harvesterMetrics.killResults('KILL_Q', [
    { outcome: 'success' },
    { outcome: 'temporaryFailure' },
    { outcome: 'temporaryFailure' },
    { outcome: 'permanentFailure' },
  ]);
  const failures = (reason: string) =>
    sample('harvester_failures', { queue: 'KILL_Q', operation: 'kill', reason });
  assert.equal(await failures('temporary'), 2);
  assert.equal(await failures('permanent'), 1);
});

test('every PanDA call is timed once by endpoint; errors are counted once, by kind', async () => {
  const c = client();
  // The test's own clock around the call bounds the latency the transport can have recorded.
  const t0 = performance.now();
  await c.checkPanda();
  const isAliveSeconds = (performance.now() - t0) / 1000;
  // success:false: delivered by the transport, refused by the client (counted there, not twice).
  await assert.rejects(c.updateWorkers([{ workerID: 1 } as unknown as WorkerUpdate]), { kind: 'rejected' });
  await assert.rejects(c.heartbeat(), { kind: 'http' });
  // "No jobs" is PanDA's normal empty answer, not an error.
  assert.deepEqual(await c.acquireJobs({ site_name: 'Q', prod_source_label: 'managed' }), []);
  // Nothing listens there: a transport failure, still timed.
  await assert.rejects(client(`http://127.0.0.1:${await freePort()}/api/v1`).getCurrentWorkerId(), {
    kind: 'transport',
  });

  const calls = (endpoint: string) => sample('harvester_panda_call_seconds_count', { endpoint });
  const errors = (endpoint: string, kind: string) =>
    sample('harvester_panda_call_errors', { endpoint, kind });
  for (const endpoint of [
    'system/is_alive',
    'harvester/update_workers',
    'harvester/heartbeat',
    'pilot/acquire_jobs',
    'harvester/get_current_worker_id',
  ]) {
    assert.equal(await calls(endpoint), 1, `${endpoint} timed once`);
  }
  assert.equal(await errors('system/is_alive', 'transport'), undefined);
  assert.equal(await sample('harvester_panda_call_errors', { endpoint: 'system/is_alive' }), undefined);
  assert.equal(await sample('harvester_panda_call_errors', { endpoint: 'harvester/update_workers' }), 1);
  assert.equal(await errors('harvester/update_workers', 'rejected'), 1);
  assert.equal(await errors('harvester/heartbeat', 'http'), 1);
  assert.equal(await sample('harvester_panda_call_errors', { endpoint: 'pilot/acquire_jobs' }), undefined);
  assert.equal(await errors('harvester/get_current_worker_id', 'transport'), 1);
  // Seconds, in buckets meant for seconds (the runtime's defaults are milliseconds, from 50 up).
  // Not "the call fell in the 50 ms bucket": on a loaded machine a local call can take longer.
  assert.notEqual(
    await sample('harvester_panda_call_seconds_bucket', { endpoint: 'system/is_alive', le: '0.05' }),
    undefined,
    'the seconds buckets, not the runtime default ones',
  );
  const recorded = await sample('harvester_panda_call_seconds_sum', { endpoint: 'system/is_alive' });
  assert.ok(
    recorded !== undefined && recorded > 0 && recorded <= isAliveSeconds + 0.001,
    `is_alive recorded as ${recorded} for a call that took ${isAliveSeconds} s: seconds, not milliseconds`,
  );
});

test("inside an activity the activity's meter is used (its series carry the activity's tags)", async () => {
  const env = new MockActivityEnvironment(
    {},
    { metricMeter: Runtime.instance().metricMeter.withTags({ activity_type: 'startWorkers' }) },
  );
  await env.run(async () => harvesterMetrics.workersStarted('ACT_Q', 4));
  assert.equal(
    await sample('harvester_workers_started', { queue: 'ACT_Q', activity_type: 'startWorkers' }),
    4,
  );
});
