/**
 * The `harvester` CLI against a real central worker process (`harvester worker`) on the test dev
 * server: the operator's page of the README, command by command, plus the Prometheus endpoint
 * and the `temporal` CLI's list query on our search attributes. Tests run in order and share the
 * worker's queue: each one leaves the queue running as it found it.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { HarvesterInstance } from '../../src/core/searchAttributes';
import { loadMigrations } from '../../src/db/migrate';
import { PROJECT_ROOT, TEMPORAL_CLI } from '../../temporal/devServer';
import { accessPointUnder, dummyQueueConfig } from '../helpers/dummyQueue';
import { testDatabaseUrl, testTemporalAddress } from '../helpers/env';
import { freePort } from '../helpers/freePort';
import { eventually } from '../helpers/stack';
import { testClient, uniqueName } from '../helpers/temporal';

const QUEUE = 'CLI_DUMMY';
const harvesterID = uniqueName('cli');
const taskQueue = uniqueName('cli-tq');
/** Picked in before(): the worker's metrics endpoint cannot bind port 0 and say which it got. */
let metricsPort: number;
let scratch: string;
let workerProcess: ChildProcess;
let workerLog = '';

function env(): NodeJS.ProcessEnv {
  return {
    ...process.env,
    TEMPORAL_ADDRESS: testTemporalAddress(),
    HARVESTER_ID: harvesterID,
    HARVESTER_TASK_QUEUE: taskQueue,
    HARVESTER_DATABASE_URL: testDatabaseUrl(),
    HARVESTER_QUEUE_CONFIG: join(scratch, 'queueconfig.json'),
    HARVESTER_METRICS_PORT: String(metricsPort),
    HARVESTER_LOG_LEVEL: 'warn',
    HARVESTER_WORKFLOW_BUNDLE: process.env.HARVESTER_WORKFLOW_BUNDLE ?? '',
  };
}

/** Runs bin/harvester with this file's environment, changed by `overrides`. */
function harvesterWith(overrides: NodeJS.ProcessEnv, ...args: string[]) {
  const r = spawnSync(join(PROJECT_ROOT, 'bin', 'harvester'), args, {
    encoding: 'utf8',
    timeout: 60000,
    env: { ...env(), ...overrides },
  });
  return { status: r.status, out: r.stdout, err: r.stderr };
}

function harvester(...args: string[]) {
  return harvesterWith({}, ...args);
}

function json<T>(...args: string[]): T {
  const r = harvester(...args, '--json');
  assert.equal(r.status, 0, `harvester ${args.join(' ')} failed: ${r.err}`);
  return JSON.parse(r.out) as T;
}

before(async () => {
  metricsPort = await freePort();
  scratch = mkdtempSync(join(tmpdir(), 'harvester-cli-'));
  writeFileSync(
    join(scratch, 'queueconfig.json'),
    JSON.stringify({
      [QUEUE]: dummyQueueConfig(accessPointUnder(`${scratch}/w`), {
        maxWorkers: 3,
        nQueueLimitWorker: 3,
        submitter: { runAfterSeconds: 1 },
        temporal: {
          submitterIntervalSeconds: 1,
          monitorIntervalSeconds: 1,
          sweeperIntervalSeconds: 1,
          keepCancelled: 0,
        },
      }),
    }),
  );
  workerProcess = spawn(join(PROJECT_ROOT, 'bin', 'harvester'), ['worker'], {
    env: env(),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  workerProcess.stdout?.on('data', (d) => {
    workerLog += d;
  });
  workerProcess.stderr?.on('data', (d) => {
    workerLog += d;
  });
});

after(async () => {
  if (workerProcess && workerProcess.exitCode === null) {
    workerProcess.kill('SIGTERM');
    await new Promise((r) => workerProcess.once('exit', r));
  }
  rmSync(scratch, { recursive: true, force: true });
});

test('harvester worker fills the queue; workers list/show find them; temporal workflow list filters by our search attributes', async () => {
  let lastList = '';
  const rows = await eventually(
    'three running workers',
    async () => {
      // Filtered by this run's instance too: a reused dev server may hold other runs' workflows.
      const r = harvester(
        'workers',
        'list',
        '--queue',
        QUEUE,
        '--status',
        'running',
        '--instance',
        harvesterID,
        '--json',
      );
      lastList = `${r.status} ${r.out} ${r.err}`;
      if (r.status !== 0) return undefined;
      const list = JSON.parse(r.out) as Array<{ workflowId: string; status: string }>;
      return list.length === 3 ? list : undefined;
    },
    90000,
  ).catch((err) => {
    throw new Error(
      `${(err as Error).message}\nlast list: ${lastList}\nworker log:\n${workerLog.slice(-3000)}`,
    );
  });
  assert.ok(
    rows.every((r) => r.status === 'running' && r.workflowId.startsWith(`worker-${harvesterID}-${QUEUE}-`)),
  );

  const id = Number(rows[0].workflowId.split('-').pop());
  // A query needs the worker process to answer; under load the first one may time out.
  const shown = await eventually('workers show', async () => {
    const r = harvester('workers', 'show', QUEUE, String(id), '--json');
    return r.status === 0
      ? (JSON.parse(r.out) as { worker: { status: string; batchID?: string } })
      : undefined;
  });
  assert.equal(shown.worker.status, 'running');
  assert.ok(shown.worker.batchID);

  const cli = spawnSync(
    TEMPORAL_CLI,
    [
      'workflow',
      'list',
      '--address',
      testTemporalAddress(),
      '--query',
      `HarvesterQueue='${QUEUE}' AND HarvesterWorkerStatus='running' AND HarvesterInstance='${harvesterID}'`,
      '-o',
      'json',
    ],
    { encoding: 'utf8', timeout: 20000 },
  );
  assert.equal(cli.status, 0, cli.stderr);
  const listed = (JSON.parse(cli.stdout) as Array<{ execution: { workflowId: string } }>)
    .map((w) => w.execution.workflowId)
    .sort();
  assert.deepEqual(listed, rows.map((r) => r.workflowId).sort());
});

test('queues pause / state / resume, and set-limits rejects a bad value naming the field', async () => {
  const paused = json<{ mode: string; pauseReason: string }>(
    'queues',
    'pause',
    QUEUE,
    '--reason',
    'downtime',
  );
  assert.equal(paused.mode, 'paused');
  const listed = json<Array<{ queue: string; state: string }>>('queues', 'list');
  assert.deepEqual(
    listed.filter((q) => q.queue === QUEUE).map((q) => q.state),
    ['paused'],
  );
  const state = json<{ mode: string; pauseReason: string }>('queues', 'state', QUEUE);
  assert.equal(state.pauseReason, 'downtime');
  const resumed = json<{ mode: string }>('queues', 'resume', QUEUE);
  assert.equal(resumed.mode, 'running');

  const bad = harvester('queues', 'set-limits', QUEUE, '--max-workers', '-3');
  assert.equal(bad.status, 2);
  assert.match(bad.err, /--max-workers "-3": expected a non-negative integer/);
  const good = json<{ limitOverrides: { maxWorkers: number } }>(
    'queues',
    'set-limits',
    QUEUE,
    '--max-workers',
    '3',
  );
  assert.equal(good.limitOverrides.maxWorkers, 3);
  // `config` drops the override: the config's value applies again.
  const back = json<{ limitOverrides: Record<string, number> }>(
    'queues',
    'set-limits',
    QUEUE,
    '--max-workers',
    'config',
  );
  assert.deepEqual(back.limitOverrides, {});
});

test('queues drain: the queue drains with the reason given; resume brings it back', async () => {
  const drained = json<{ mode: string; pauseReason: string; pausedBy: string }>(
    'queues',
    'drain',
    QUEUE,
    '--reason',
    'decommission',
  );
  assert.equal(drained.mode, 'draining');
  assert.equal(drained.pauseReason, 'decommission');
  assert.equal(drained.pausedBy, 'operator');
  const state = harvester('queues', 'state', QUEUE);
  assert.equal(state.status, 0, state.err);
  assert.match(state.out, /"mode":"draining"/);
  const listed = json<Array<{ queue: string; state: string }>>('queues', 'list');
  assert.deepEqual(
    listed.filter((q) => q.queue === QUEUE).map((q) => q.state),
    ['draining'],
  );
  const noReason = harvester('queues', 'drain', QUEUE);
  assert.equal(noReason.status, 2);
  assert.match(noReason.err, /required option '--reason <text>' not specified/);
  assert.equal(json<{ mode: string }>('queues', 'resume', QUEUE).mode, 'running');
});

test('instance status answers with the active queues of the last sync', async () => {
  const state = await eventually(
    'instance synced its queues',
    async () => {
      const r = harvester('instance', 'status', '--json');
      if (r.status !== 0) return undefined;
      const s = JSON.parse(r.out) as { lastSync?: { active: string[] }; commandsApplied: number };
      return s.lastSync?.active.includes(QUEUE) ? s : undefined;
    },
    30000,
  );
  assert.equal(typeof state.commandsApplied, 'number');
  const human = harvester('instance', 'status');
  assert.equal(human.status, 0, human.err);
  assert.match(human.out, new RegExp(`^instance ${harvesterID}: queues .*${QUEUE}`));
  // The worker process polls both task queues, and the instance runs on the control one.
  assert.match(human.out, new RegExp(`instance workflow on task queue ${taskQueue}-control\n`));
  assert.match(
    human.out,
    new RegExp(`task queue ${taskQueue}-control \\(control: [^)]*\\): [1-9]\\d* workflow pollers`),
  );
  assert.match(
    human.out,
    new RegExp(`task queue ${taskQueue} \\(main: [^)]*\\): [1-9]\\d* workflow pollers`),
  );
});

test('instance start: finds the running instance and says so (exit 0); starts a new one on the control task queue', async () => {
  // The worker process started this instance's workflow when it came up.
  const running = harvester('instance', 'start');
  assert.equal(running.status, 0, running.err);
  assert.match(running.out, new RegExp(`instance-${harvesterID} is already running: nothing started`));
  const runningJson = json<{ started: boolean; workflowId: string }>('instance', 'start');
  assert.deepEqual(runningJson, {
    workflowId: `instance-${harvesterID}`,
    started: false,
    taskQueue: `${taskQueue}-control`,
  });

  // Another instance, whose central worker is not running: the workflow waits on its task queue.
  const otherID = uniqueName('cli-instance');
  const otherTaskQueue = uniqueName('cli-instance-tq');
  const other = { HARVESTER_ID: otherID, HARVESTER_TASK_QUEUE: otherTaskQueue };
  const client = await testClient();
  try {
    const first = harvesterWith(other, 'instance', 'start', '--json');
    assert.equal(first.status, 0, first.err);
    const started = JSON.parse(first.out) as {
      started: boolean;
      workflowId: string;
      runId: string;
      taskQueue: string;
    };
    assert.equal(started.started, true);
    assert.equal(started.workflowId, `instance-${otherID}`);
    assert.equal(started.taskQueue, `${otherTaskQueue}-control`);
    const handle = client.workflow.getHandle(started.workflowId);
    const described = await handle.describe();
    assert.equal(described.status.name, 'RUNNING');
    assert.equal(described.taskQueue, `${otherTaskQueue}-control`, 'not behind the lifecycles');
    assert.equal(described.type, 'instanceWorkflow');
    assert.equal(described.runId, started.runId);
    assert.deepEqual(described.typedSearchAttributes.get(HarvesterInstance), otherID);

    const again = harvesterWith(other, 'instance', 'start');
    assert.equal(again.status, 0, again.err);
    assert.match(again.out, new RegExp(`instance-${otherID} is already running`));
    assert.equal((await handle.describe()).runId, started.runId, 'the running one is left alone');
  } finally {
    await client.workflow
      .getHandle(`instance-${otherID}`)
      .terminate('cli test done')
      .catch(() => {});
    await client.connection.close();
  }
});

test('workers kill: --dry-run lists and kills nothing; a real kill by id cancels the worker', async () => {
  const before = json<Array<{ workflowId: string }>>(
    'workers',
    'list',
    '--queue',
    QUEUE,
    '--status',
    'running',
  );
  assert.ok(before.length > 0);
  const dry = harvester(
    'workers',
    'kill',
    '--queue',
    QUEUE,
    '--status',
    'running',
    '--reason',
    'cli test',
    '--dry-run',
  );
  assert.equal(dry.status, 0, dry.err);
  assert.match(dry.out, new RegExp(`would kill ${before.length} worker`));
  const stillRunning = json<Array<{ workflowId: string }>>(
    'workers',
    'list',
    '--queue',
    QUEUE,
    '--status',
    'running',
  );
  assert.equal(stillRunning.length, before.length, 'a dry run kills nothing');

  const id = before[0].workflowId.split('-').pop()!;
  const kill = harvester('workers', 'kill', '--queue', QUEUE, '--id', id, '--reason', 'cli test');
  assert.equal(kill.status, 0, kill.err);
  await eventually(
    'worker cancelled',
    async () => {
      const r = harvester('workers', 'show', QUEUE, id, '--json');
      if (r.status !== 0) return undefined;
      const s = JSON.parse(r.out) as { worker: { status: string }; kill?: { source: string } };
      return s.worker.status === 'cancelled' && s.kill?.source === 'operator';
    },
    30000,
  );

  const refuse = harvester('workers', 'kill', '--reason', 'no filter');
  assert.equal(refuse.status, 2);
  assert.match(refuse.err, /give --id, or at least one filter/);
});

test('the metrics endpoint serves the SDK metrics and harvester metrics', async () => {
  const body = await eventually(
    'metrics',
    async () => {
      const r = await fetch(`http://127.0.0.1:${metricsPort}/metrics`).catch(() => undefined);
      const text = r?.ok ? await r.text() : undefined;
      return text?.includes('harvester_workers_started') ? text : undefined;
    },
    30000,
  );
  assert.match(body, /temporal_workflow_task_execution_latency|temporal_activity_execution_latency/);
  assert.match(body, new RegExp(`harvester_workers_started\\{[^}]*queue="${QUEUE}"`));
  assert.match(body, /harvester_submissions\{[^}]*outcome="submitted"/);
  assert.match(body, /harvester_workers\{[^}]*status="running"/);
  // Every worker here is submitted in bulk and then started: one submission count per lifecycle
  // started (the bulk step and the lifecycle both record the outcome; only one of them counts).
  await eventually(
    'one submission count per worker started',
    async () => {
      const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
      const started = sumOf(text, 'harvester_workers_started', { queue: QUEUE });
      const submitted = sumOf(text, 'harvester_submissions', { queue: QUEUE, outcome: 'submitted' });
      return started > 0 && started === submitted;
    },
    30000,
  ).catch(async (err) => {
    const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    throw new Error(
      `${(err as Error).message}: ${text
        .split('\n')
        .filter((l) => /^harvester_(workers_started|submissions)\{/.test(l))
        .join('\n')}`,
    );
  });
});

/** Sum of the samples of a metric whose labels include `labels`. */
function sumOf(text: string, name: string, labels: Record<string, string>): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    const labelText = line.slice(name.length + 1, line.lastIndexOf('}'));
    if (Object.entries(labels).every(([k, v]) => labelText.includes(`${k}="${v}"`)))
      sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

test('--help of a subcommand prints its usage and exits 0', () => {
  const drain = harvester('queues', 'drain', '--help');
  assert.equal(drain.status, 0, drain.err);
  assert.match(drain.out, /Usage: harvester queues drain \[options\] <queue>/);
  assert.match(drain.out, /--reason <text>/);
  const instance = harvester('instance', '--help');
  assert.equal(instance.status, 0, instance.err);
  assert.match(instance.out, /start \[options\]\s+start the instance workflow/);
  assert.match(instance.out, /status \[options\]\s+the instance workflow's state/);
  const start = harvester('instance', 'start', '--help');
  assert.equal(start.status, 0, start.err);
  assert.match(start.out, /Usage: harvester instance start \[options\]/);
});

test('db migrate says nothing was pending on a migrated database, and names what it applied on a new one', async () => {
  const current = harvester('db', 'migrate');
  assert.equal(current.status, 0, current.err);
  assert.equal(current.out.trim(), 'up to date: no migration was pending');

  const server = new URL(testDatabaseUrl());
  const name = `harvester_cli_migrate_${Date.now().toString(36)}_${process.pid}`;
  const admin = new pg.Client({ connectionString: server.toString() });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
    const fresh = new URL(server);
    fresh.pathname = `/${name}`;
    const onFresh = { HARVESTER_DATABASE_URL: fresh.toString() };
    const versions = loadMigrations().map((m) => m.version);
    const applied = harvesterWith(onFresh, 'db', 'migrate');
    assert.equal(applied.status, 0, applied.err);
    assert.equal(applied.out.trim(), `applied ${versions.join(', ')}`);
    const again = harvesterWith(onFresh, 'db', 'migrate', '--json');
    assert.equal(again.status, 0, again.err);
    assert.deepEqual(JSON.parse(again.out), { applied: [] });
  } finally {
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.end();
  }
});

test('db status lists every migration as applied', () => {
  const rows = json<Array<{ version: number; appliedAt: string | null }>>('db', 'status');
  assert.ok(rows.length >= 4);
  assert.ok(rows.every((r) => r.appliedAt));
});
