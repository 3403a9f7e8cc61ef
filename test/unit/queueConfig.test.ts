// biome-ignore-all lint/suspicious/noTemplateCurlyInString: the strings are Harvester ${...} placeholders, meant literally
/**
 * Queue configuration: Harvester's panda_queueconfig.json read as Harvester reads it (templates,
 * key-by-key plugin merge, common, injected names, limit rules), plus our checks (all errors
 * at once, placeholders, configID) and the `harvester queues` command functions.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { Command } from 'commander';
import {
  EXIT_INVALID,
  EXIT_OK,
  registerQueuesCommands,
  runQueuesShow,
  runQueuesValidate,
} from '../../src/cli/queuesCommand';
import {
  applyLimitRules,
  type ConfigError,
  configIdOf,
  expandPlaceholders,
  loadQueueConfigFile,
  PlaceholderError,
  parseQueueConfig,
  pluginTaskQueueOf,
  QUEUE_LIMIT_ATTRS,
  type QueueConfig,
  type QueueConfigLoadResult,
  resolveQueue,
  TEMPORAL_DEFAULTS,
  workerIdDigits,
} from '../../src/core/queueConfig';
import type { RawQueueLimits } from '../../src/core/queueConfig/limits';
import type { KnownPluginPredicate } from '../../src/core/queueConfig/types';
import type { WorkSpec } from '../../src/core/specs';
import { createPluginRegistry } from '../../src/plugins';

const FIXTURES = join(__dirname, '..', 'fixtures', 'queueconfig');
const ROOT = join(__dirname, '..', '..');
const GOOD = join(FIXTURES, 'good.json');
const BROKEN = join(FIXTURES, 'broken.json');

type Entry = Record<string, unknown>;

/** The seven mandatory sections, with the dummy plugins. */
function dummyPlugins(): Entry {
  const section = (pkg: string, mod: string, name: string) => ({
    module: `pandaharvester.${pkg}.${mod}`,
    name,
  });
  return {
    submitter: section('harvestersubmitter', 'dummy_submitter', 'DummySubmitter'),
    monitor: section('harvestermonitor', 'dummy_monitor', 'DummyMonitor'),
    sweeper: section('harvestersweeper', 'dummy_sweeper', 'DummySweeper'),
    workerMaker: section('harvesterworkermaker', 'simple_worker_maker', 'SimpleWorkerMaker'),
    messenger: {
      ...section('harvestermessenger', 'shared_file_messenger', 'SharedFileMessenger'),
      accessPoint: '/tmp/harvester/${workerID}',
    },
    preparator: section('harvesterpreparator', 'dummy_preparator', 'DummyPreparator'),
    stager: section('harvesterstager', 'dummy_stager', 'DummyStager'),
  };
}

function parse(doc: Record<string, unknown>, opts = {}): QueueConfigLoadResult {
  return parseQueueConfig(doc, 'inline.json', opts);
}

/** Resolves a document that must hold exactly one valid queue `name`. */
function only(doc: Record<string, unknown>, name: string, opts = {}): QueueConfig {
  const result = parse(doc, opts);
  assert.deepEqual(
    result.errors.map((e) => e.message),
    [],
  );
  const queue = result.queues.find((q) => q.queueName === name);
  assert.ok(queue, `queue ${name} resolved`);
  return queue;
}

function worker(overrides: Partial<WorkSpec> = {}): WorkSpec {
  return {
    workerID: 123456,
    computingSite: 'EXAMPLE_GRID_PUSH',
    harvesterID: 'cern_central_a',
    configID: 'c0ffee',
    mapType: 'OneToOne',
    status: 'submitted',
    resourceType: 'SCORE',
    jobType: 'managed',
    nCore: 8,
    creationTime: '2026-01-01T00:00:00.000Z',
    ...overrides,
  };
}

const errorAt = (errors: ConfigError[], queue: string, field: string): ConfigError | undefined =>
  errors.find((e) => e.queue === queue && e.field === field);

// ---------------------------------------------------------------------------------------------
// The good fixture: templates, merging, common, injected names, status

test('good.json loads with no errors or warnings: four queues of three map types and two templates', () => {
  const result = loadQueueConfigFile(GOOD);
  assert.deepEqual(result.errors, []);
  assert.deepEqual(result.warnings, []);
  assert.deepEqual(result.templates, ['SLURM_PULL_TEMPLATE', 'grid.push']);
  assert.deepEqual(
    result.queues.map((q) => [q.queueName, q.mapType]),
    [
      ['DUMMY_LOCAL', 'ManyToOne'],
      ['EXAMPLE-HPC/MCORE', 'NoJob'],
      ['EXAMPLE-HPC/SCORE', 'NoJob'],
      ['EXAMPLE_GRID_PUSH', 'OneToOne'],
    ],
  );
});

test('templates (isTemplateQueue or _TEMPLATE suffix) are not queues', () => {
  const result = loadQueueConfigFile(GOOD);
  const names = result.queues.map((q) => q.queueName);
  assert.ok(!names.includes('SLURM_PULL_TEMPLATE'));
  assert.ok(!names.includes('grid.push'));
});

test('plugin sections are merged key by key: the queue overrides some keys, the template gives the rest', () => {
  const q = loadQueueConfigFile(GOOD).queues.find((x) => x.queueName === 'EXAMPLE-HPC/MCORE')!;
  assert.equal(q.templateQueueName, 'SLURM_PULL_TEMPLATE');
  assert.equal(q.submitter.module, 'pandaharvester.harvestersubmitter.slurm_submitter');
  assert.equal(q.submitter.name, 'SlurmSubmitter');
  assert.equal(q.submitter['templateFile'], '/opt/harvester/etc/slurm/example_hpc_mcore.sh');
  assert.equal(q.submitter['partition'], 'regular');
  assert.equal(q.submitter['nCore'], 64);
  assert.equal(q.monitor.name, 'SlurmSqueueMonitor');
  // Scalars: queue wins, template fills in.
  assert.equal(q.maxWorkers, 40);
  assert.equal(q.truePilot, true);
  // The temporal section merges key by key too.
  assert.equal(q.temporal.taskQueue, 'edge-example-hpc');
  assert.equal(q.temporal.maxConsecutiveMonitorFailures, 5);
  assert.equal(q.temporal.monitorIntervalSeconds, 120);
});

test('a whole non-plugin value (a list) from the queue replaces the template one', () => {
  const q = loadQueueConfigFile(GOOD).queues.find((x) => x.queueName === 'EXAMPLE_GRID_PUSH')!;
  assert.deepEqual(q.throttler?.['rulesForMissed'], [{ level: 'pq', timeWindow: 10, maxMissed: 10 }]);
  assert.equal(q.throttler?.['logicType'], 'OR');
});

test('common keys are copied into every plugin section but never override a key the section sets', () => {
  const doc = {
    Q: {
      ...dummyPlugins(),
      common: { proxy: '/proxy/common', module: 'ignored' },
      submitter: { module: 'm.dummy_submitter', name: 'DummySubmitter', proxy: '/proxy/own' },
      credmanagers: [{ module: 'm.no_voms_cred_manager', name: 'NoVomsCredManager', out: '${common.proxy}' }],
    },
  };
  const q = only(doc, 'Q');
  assert.equal(q.submitter['proxy'], '/proxy/own');
  assert.equal(q.submitter.module, 'm.dummy_submitter');
  for (const slot of ['monitor', 'sweeper', 'workerMaker', 'messenger', 'preparator', 'stager'] as const) {
    assert.equal(q[slot]['proxy'], '/proxy/common', slot);
  }
  // As in Harvester, credmanagers get common values through ${common.KEY}, not by copying.
  assert.equal(q.credmanagers[0]!['out'], '/proxy/common');
  assert.equal(q.credmanagers[0]!['proxy'], undefined);
  assert.deepEqual(q.common, { proxy: '/proxy/common', module: 'ignored' });
});

test('queueName and siteName are injected into every plugin section; SITE/RESOURCETYPE names split', () => {
  const q = loadQueueConfigFile(GOOD).queues.find((x) => x.queueName === 'EXAMPLE-HPC/MCORE')!;
  assert.equal(q.siteName, 'EXAMPLE-HPC');
  assert.equal(q.resourceType, 'MCORE');
  assert.equal(q.siteFamily, 'EXAMPLE-HPC');
  for (const slot of [
    'submitter',
    'monitor',
    'sweeper',
    'workerMaker',
    'messenger',
    'preparator',
    'stager',
  ] as const) {
    assert.equal(q[slot].queueName, 'EXAMPLE-HPC/MCORE', slot);
    assert.equal(q[slot].siteName, 'EXAMPLE-HPC', slot);
  }
  const plain = loadQueueConfigFile(GOOD).queues.find((x) => x.queueName === 'DUMMY_LOCAL')!;
  assert.equal(plain.siteName, 'DUMMY_LOCAL');
  assert.equal(plain.resourceType, 'ANY');
});

test('a plugin section that sets its own siteName keeps it (Harvester injects only when absent)', () => {
  const plugins = dummyPlugins();
  const q = only(
    { Q: { ...plugins, monitor: { ...(plugins['monitor'] as Entry), siteName: 'OTHER' } } },
    'Q',
  );
  assert.equal(q.monitor.siteName, 'OTHER');
  assert.equal(q.sweeper.siteName, 'Q');
});

test('queueStatus offline: still listed, flagged inactive; status is lower-cased', () => {
  const q = loadQueueConfigFile(GOOD).queues.find((x) => x.queueName === 'EXAMPLE-HPC/SCORE')!;
  assert.equal(q.queueStatus, 'offline');
  assert.equal(q.active, false);
  const online = loadQueueConfigFile(GOOD).queues.find((x) => x.queueName === 'EXAMPLE-HPC/MCORE')!;
  assert.equal(online.active, true);
});

test("Harvester's defaults are filled in exactly", () => {
  const q = only({ Q: dummyPlugins() }, 'Q');
  assert.equal(q.queueStatus, 'online');
  assert.equal(q.prodSourceLabel, 'managed');
  assert.equal(q.mapType, 'OneToOne');
  assert.equal(q.useJobLateBinding, false);
  assert.equal(q.runMode, 'self');
  assert.equal(q.truePilot, false);
  assert.deepEqual(q.noHeartbeat, []);
  assert.equal(q.maxWorkers, 0);
  assert.equal(q.nNewWorkers, 0);
  assert.equal(q.maxNewWorkersPerCycle, 0);
  assert.equal(q.maxSubmissionAttempts, 3);
  assert.equal(q.prefetchEvents, true);
  assert.equal(q.initEventsMultipler, 2);
  assert.deepEqual(q.prioritizedProdSourceLabels, ['rc_alrb']);
  assert.equal(q.jobType, 'ANY');
  for (const attr of QUEUE_LIMIT_ATTRS) {
    if (attr !== 'maxWorkers' && attr !== 'maxNewWorkersPerCycle') assert.equal(q[attr], null, attr);
  }
  assert.deepEqual(q.credmanagers, []);
  assert.equal(q.throttler, undefined);
});

test("truePilot with no noHeartbeat gets Harvester's list; an explicit CSV is parsed", () => {
  assert.deepEqual(only({ Q: { ...dummyPlugins(), truePilot: true } }, 'Q').noHeartbeat, [
    'running',
    'transferring',
    'finished',
    'failed',
  ]);
  assert.deepEqual(only({ Q: { ...dummyPlugins(), noHeartbeat: 'running, finished' } }, 'Q').noHeartbeat, [
    'running',
    'finished',
  ]);
});

test('getJobCriteria "k=v,k2=v2" is parsed into a record', () => {
  const q = loadQueueConfigFile(GOOD).queues.find((x) => x.queueName === 'EXAMPLE_GRID_PUSH')!;
  assert.deepEqual(q.getJobCriteria, { resourceType: 'SCORE', workingGroup: 'AP_PROD' });
});

test('middleware: the named section is laid over the plugin section, which is kept in original_config', () => {
  const doc = {
    Q: {
      ...dummyPlugins(),
      sshTunnel: {
        module: 'pandaharvester.harvestermiddleware.ssh_tunnel_pool',
        name: 'SshTunnelPool',
        host: 'login1',
      },
      submitter: { module: 'm.slurm_submitter', name: 'SlurmSubmitter', middleware: 'sshTunnel', nCore: 8 },
    },
  };
  const result = parse(doc);
  assert.deepEqual(result.errors, []);
  // A section that is only used as a middleware target is not an "unknown key".
  assert.deepEqual(result.warnings, []);
  const q = result.queues[0]!;
  assert.equal(q.submitter.name, 'SshTunnelPool');
  assert.equal(q.submitter['host'], 'login1');
  const original = q.submitter['original_config'] as Entry;
  assert.equal(original['name'], 'SlurmSubmitter');
  assert.equal(original['nCore'], 8);
  assert.deepEqual(q.extra['sshTunnel'], doc.Q.sshTunnel);
});

// ---------------------------------------------------------------------------------------------
// Our temporal section

test('temporal section: our defaults, overrides, monitor heldTimeout/checkTimeout carried over', () => {
  const plain = only({ Q: dummyPlugins() }, 'Q');
  assert.deepEqual(plain.temporal, TEMPORAL_DEFAULTS);
  assert.equal(plain.temporal.submitterIntervalSeconds, 60);
  assert.equal(plain.temporal.monitorIntervalSeconds, 300);
  assert.equal(plain.temporal.heartbeatIntervalSeconds, 1800);
  assert.equal(plain.temporal.sweeperIntervalSeconds, 180);
  assert.deepEqual(
    [plain.temporal.keepFinished, plain.temporal.keepFailed, plain.temporal.keepCancelled],
    [24, 72, 72],
  );
  assert.deepEqual([plain.temporal.keepMissed, plain.temporal.keepPending], [24, 24]);
  assert.deepEqual(
    [plain.temporal.workerQueueTimeLimit, plain.temporal.heldTimeout, plain.temporal.checkTimeout],
    [172800, 3600, 3600],
  );
  assert.equal(plain.temporal.maxConsecutiveMonitorFailures, 3);
  assert.equal(pluginTaskQueueOf(plain.temporal, 'harvester-central'), 'harvester-central');

  const grid = loadQueueConfigFile(GOOD).queues.find((x) => x.queueName === 'EXAMPLE_GRID_PUSH')!;
  assert.equal(grid.temporal.heldTimeout, 7200);
  const hpc = loadQueueConfigFile(GOOD).queues.find((x) => x.queueName === 'EXAMPLE-HPC/MCORE')!;
  assert.equal(pluginTaskQueueOf(hpc.temporal, 'harvester-central'), 'edge-example-hpc');
});

test('temporal section: unknown keys and bad values are errors (it is ours, so typos cannot be tolerated)', () => {
  const result = parse({
    Q: { ...dummyPlugins(), temporal: { keepFinshed: 12, sweeperIntervalSeconds: -1 } },
  });
  assert.ok(errorAt(result.errors, 'Q', 'temporal.keepFinshed'));
  assert.ok(errorAt(result.errors, 'Q', 'temporal.sweeperIntervalSeconds'));
  assert.equal(result.queues.length, 0);
});

test('temporal section: autoResumeAfterMonitorRecovery is true by default, false stays paused; not a boolean is an error', () => {
  assert.equal(only({ Q: dummyPlugins() }, 'Q').temporal.autoResumeAfterMonitorRecovery, true);
  const manual = only({ Q: { ...dummyPlugins(), temporal: { autoResumeAfterMonitorRecovery: false } } }, 'Q');
  assert.equal(manual.temporal.autoResumeAfterMonitorRecovery, false);
  const bad = parse({ Q: { ...dummyPlugins(), temporal: { autoResumeAfterMonitorRecovery: 'no' } } });
  const err = errorAt(bad.errors, 'Q', 'temporal.autoResumeAfterMonitorRecovery');
  assert.ok(err);
  assert.match(err.message, /true or false/);
});

// ---------------------------------------------------------------------------------------------
// Placeholders

test('_workerID_a.b picks digits counted from the right, 0 = last digit (hand-worked: 123456)', () => {
  // 123456 read from the right: position 0 = 6, 1 = 5, 2 = 4, 3 = 3, 4 = 2, 5 = 1.
  assert.equal(workerIdDigits(123456, '3.2'), '34');
  assert.equal(workerIdDigits(123456, '1.0'), '56');
  assert.equal(workerIdDigits(123456, '5'), '1');
  // Positions past the left end read as 0: 42 has only positions 0 and 1.
  assert.equal(workerIdDigits(42, '3.2'), '00');
  assert.equal(workerIdDigits(42, '2.1.0'), '042');
});

test('expandPlaceholders: workerID, sharding digits, harvesterID (from the worker), hostname, attributes', () => {
  const w = worker();
  assert.equal(
    expandPlaceholders('/data/wdirs/${harvesterID}/${_workerID_3.2}/${_workerID_1.0}/${workerID}', w),
    '/data/wdirs/cern_central_a/34/56/123456',
  );
  assert.equal(
    expandPlaceholders('https://${hostname}/logs', w, { hostname: 'edge01' }),
    'https://edge01/logs',
  );
  assert.equal(
    expandPlaceholders('${computingSite}-${resourceType}-${nCore}', w),
    'EXAMPLE_GRID_PUSH-SCORE-8',
  );
  assert.equal(expandPlaceholders('/logs/${harvester_id}', w, { harvesterID: 'other' }), '/logs/other');
  assert.equal(expandPlaceholders('${SRCDIR}/zips', w), '${SRCDIR}/zips');
  assert.equal(expandPlaceholders('${TMPDIR:-/tmp}', w), '${TMPDIR:-/tmp}');
  assert.equal(expandPlaceholders('/x/${site}', w, { values: { site: 'S1' } }), '/x/S1');
});

test('expandPlaceholders: a placeholder without a value for this worker throws, naming it', () => {
  assert.throws(
    () => expandPlaceholders('/logs/${batchID}.out', worker()),
    (err: unknown) =>
      err instanceof PlaceholderError && err.placeholder === 'batchID' && /123456/.test(err.message),
  );
  assert.throws(() => expandPlaceholders('https://${hostname}/', worker()), PlaceholderError);
});

test('per-worker placeholders stay in the resolved config; ${common.X} is expanded at load', () => {
  const q = loadQueueConfigFile(GOOD).queues.find((x) => x.queueName === 'EXAMPLE-HPC/MCORE')!;
  assert.equal(q.messenger['accessPoint'], '/scratch/harvester/${harvesterID}/${_workerID_3.2}/${workerID}');
  assert.equal(q.submitter['logDir'], '/scratch/harvester/logs/${harvesterID}');
  const grid = loadQueueConfigFile(GOOD).queues.find((x) => x.queueName === 'EXAMPLE_GRID_PUSH')!;
  assert.equal(grid.submitter['x509UserProxy'], '/data/harvester/proxy/x509up_pilot');
  assert.equal(grid.submitter['logBaseURL'], 'https://${hostname}/condor_logs');
});

test('with a harvesterID option, ${harvesterID} is expanded at load time (it is per instance)', () => {
  const q = loadQueueConfigFile(GOOD, { harvesterID: 'inst1' }).queues.find(
    (x) => x.queueName === 'EXAMPLE-HPC/MCORE',
  )!;
  assert.equal(q.messenger['accessPoint'], '/scratch/harvester/inst1/${_workerID_3.2}/${workerID}');
  const grid = loadQueueConfigFile(GOOD, { harvesterID: 'inst1' }).queues.find(
    (x) => x.queueName === 'EXAMPLE_GRID_PUSH',
  )!;
  assert.equal(grid.submitter['logDir'], '/var/log/condor_logs/inst1');
});

test('unknown placeholders are load errors naming the field; extraPlaceholders allows plugin-own ones', () => {
  const plugins = dummyPlugins();
  const doc = {
    Q: {
      ...plugins,
      messenger: { ...(plugins['messenger'] as Entry), accessPoint: '/w/${workerId}' },
      submitter: { ...(plugins['submitter'] as Entry), args: ['--dir', '${scratchDir}'] },
    },
  };
  const result = parse(doc);
  const typo = errorAt(result.errors, 'Q', 'messenger.accessPoint');
  assert.ok(typo);
  assert.match(typo.message, /\$\{workerId\} is not one/);
  assert.ok(errorAt(result.errors, 'Q', 'submitter.args[1]'));
  assert.deepEqual(parse(doc, { extraPlaceholders: ['workerId', 'scratchDir'] }).errors, []);
});

// ---------------------------------------------------------------------------------------------
// Limits

function limits(overrides: Partial<RawQueueLimits>): RawQueueLimits {
  const raw = {} as RawQueueLimits;
  for (const attr of QUEUE_LIMIT_ATTRS) raw[attr] = null;
  return { ...raw, ...overrides };
}

test('nQueueLimitWorker = min(nQueueLimitWorker, nQueueLimitWorkerMax, maxWorkers); Min clipped to it', () => {
  const { limits: l } = applyLimitRules(
    limits({ maxWorkers: 40, nQueueLimitWorker: 60, nQueueLimitWorkerMax: 50, nQueueLimitWorkerMin: 100 }),
    'NoJob',
  );
  assert.equal(l.nQueueLimitWorker, 40);
  assert.equal(l.nQueueLimitWorkerMax, 40);
  assert.equal(l.nQueueLimitWorkerMin, 40);
  const { limits: l2 } = applyLimitRules(
    limits({ maxWorkers: 100, nQueueLimitWorker: 60, nQueueLimitWorkerMax: 50 }),
    'OneToOne',
  );
  assert.equal(l2.nQueueLimitWorker, 50);
});

test('only nQueueLimitWorkerMax: nQueueLimitWorker = min(Max, maxWorkers)', () => {
  const { limits: l } = applyLimitRules(limits({ maxWorkers: 30, nQueueLimitWorkerMax: 50 }), 'OneToOne');
  assert.equal(l.nQueueLimitWorker, 30);
  assert.equal(l.nQueueLimitWorkerMax, 30);
});

test('cores and memory Min are clipped to their limits', () => {
  const { limits: l } = applyLimitRules(
    limits({
      maxWorkers: 10,
      nQueueLimitWorkerCores: 100,
      nQueueLimitWorkerCoresMin: 500,
      nQueueLimitWorkerMemory: 4000,
      nQueueLimitWorkerMemoryMin: 8000,
      nQueueLimitJobCores: 64,
      nQueueLimitJobCoresMin: 128,
    }),
    'OneToOne',
  );
  assert.equal(l.nQueueLimitWorkerCoresMin, 100);
  assert.equal(l.nQueueLimitWorkerMemoryMin, 4000);
  assert.equal(l.nQueueLimitJobCoresMin, 64);
});

test('nQueueLimitJob = min(Job, JobMax); only JobMax sets Job; JobMin clipped', () => {
  const both = applyLimitRules(
    limits({ nQueueLimitJob: 200, nQueueLimitJobMax: 150, nQueueLimitJobMin: 300 }),
    'OneToOne',
  );
  assert.equal(both.limits.nQueueLimitJob, 150);
  assert.equal(both.limits.nQueueLimitJobMax, 150);
  assert.equal(both.limits.nQueueLimitJobMin, 150);
  const onlyMax = applyLimitRules(limits({ nQueueLimitJobMax: 70 }), 'OneToOne');
  assert.equal(onlyMax.limits.nQueueLimitJob, 70);
});

test('NoJob nulls the job-prefetch limits; push queues null the worker ratio limits (with a note each)', () => {
  const pull = applyLimitRules(
    limits({
      nQueueLimitJob: 5,
      nQueueLimitJobRatio: 40,
      nQueueLimitJobMin: 1,
      nQueueLimitJobMax: 9,
      nQueueLimitWorkerRatio: 20,
    }),
    'NoJob',
  );
  assert.deepEqual(
    [
      pull.limits.nQueueLimitJob,
      pull.limits.nQueueLimitJobRatio,
      pull.limits.nQueueLimitJobMin,
      pull.limits.nQueueLimitJobMax,
    ],
    [null, null, null, null],
  );
  assert.equal(pull.limits.nQueueLimitWorkerRatio, 20);
  assert.deepEqual(
    pull.notes.map((n) => n.field),
    ['nQueueLimitJob', 'nQueueLimitJobRatio', 'nQueueLimitJobMax', 'nQueueLimitJobMin'],
  );
  const push = applyLimitRules(
    limits({ maxWorkers: 9, nQueueLimitWorkerRatio: 20, nQueueLimitWorkerMin: 3 }),
    'OneToOne',
  );
  assert.equal(push.limits.nQueueLimitWorkerRatio, null);
  assert.equal(push.limits.nQueueLimitWorkerMin, null);
});

test('maxWorkers 0 (no limit) does not clip nQueueLimitWorker to 0, and a note says Harvester would', () => {
  const { limits: l, notes } = applyLimitRules(limits({ nQueueLimitWorker: 10 }), 'OneToOne');
  assert.equal(l.maxWorkers, 0);
  assert.equal(l.nQueueLimitWorker, 10);
  assert.equal(notes.length, 1);
  assert.match(notes[0]!.expected, /Harvester clips this to 0/);
});

test('limit attributes must be whole numbers >= 0: errors name the field (Harvester would null/zero them)', () => {
  const result = parse({
    Q: {
      ...dummyPlugins(),
      maxWorkers: '10',
      nQueueLimitWorker: -1,
      nQueueLimitJobRatio: 2.5,
      maxNewWorkersPerCycle: true,
    },
  });
  assert.deepEqual(result.queues, []);
  for (const field of ['maxWorkers', 'nQueueLimitWorker', 'nQueueLimitJobRatio', 'maxNewWorkersPerCycle']) {
    const e = errorAt(result.errors, 'Q', field);
    assert.ok(e, field);
    assert.match(e.message, new RegExp(`inline\\.json: queue Q: ${field}: got `));
  }
  assert.match(errorAt(result.errors, 'Q', 'nQueueLimitWorker')!.expected, />= 0/);
});

test('a push queue on a pull template: template job limits are ignored with a warning, queue stays valid', () => {
  const result = parse({
    PULL_TEMPLATE: { ...dummyPlugins(), mapType: 'NoJob', maxWorkers: 10 },
    Q: { templateQueueName: 'PULL_TEMPLATE', nQueueLimitJob: 4 },
  });
  assert.deepEqual(result.errors, []);
  assert.equal(result.queues[0]!.nQueueLimitJob, null);
  const w = errorAt(result.warnings, 'Q', 'nQueueLimitJob');
  assert.ok(w);
  assert.equal(w.severity, 'warning');
});

// ---------------------------------------------------------------------------------------------
// Errors and warnings

test('broken.json: every error at once, each naming file, queue, field, value and expectation', () => {
  const result = loadQueueConfigFile(BROKEN);
  const expected: Array<[string, string]> = [
    ['BROKEN_TEMPLATE_USER', 'sweeper'],
    ['BAD_TEMPLATE_REFERENCES', 'templateQueueName'],
    ['TEMPLATE_IS_A_QUEUE', 'templateQueueName'],
    ['BAD_SCALARS', 'mapType'],
    ['BAD_SCALARS', 'runMode'],
    ['BAD_SCALARS', 'truePilot'],
    ['BAD_SCALARS', 'maxWorkers'],
    ['BAD_SCALARS', 'nQueueLimitWorker'],
    ['BAD_SCALARS', 'nQueueLimitJobRatio'],
    ['BAD_SCALARS', 'getJobCriteria'],
    ['BAD_SCALARS', 'credmanagers'],
    ['BAD_SCALARS', 'submitter.module'],
    ['BAD_SCALARS', 'monitor.name'],
    ['BAD_SCALARS', 'sweeper.middleware'],
    ['BAD_SCALARS', 'messenger.accessPoint'],
    ['BAD_SCALARS', 'stager'],
    ['BAD_SCALARS', 'temporal.taskQueue'],
    ['BAD_SCALARS', 'temporal.monitorIntervalSeconds'],
    ['BAD_SCALARS', 'temporal.keepFinshed'],
    ['NOT_AN_OBJECT', ''],
  ];
  for (const [queue, field] of expected) {
    const e = errorAt(result.errors, queue, field);
    assert.ok(e, `error for ${queue} ${field}`);
    assert.equal(e.file, BROKEN);
    assert.ok(e.message.startsWith(`${BROKEN}: queue ${queue}`), e.message);
    if (field !== '') assert.ok(e.message.includes(`: ${field}: got `), e.message);
    assert.ok(e.message.includes(', expected '), e.message);
  }
  assert.ok(result.errors.every((e) => e.severity === 'error'));
  // The valid queue of the same file still resolves; the broken ones are left out.
  assert.deepEqual(
    result.queues.map((q) => q.queueName),
    ['STILL_FINE'],
  );
});

test('a bad value inherited from a template says so', () => {
  const e = errorAt(loadQueueConfigFile(BROKEN).errors, 'BROKEN_TEMPLATE_USER', 'sweeper')!;
  assert.equal(e.template, 'BROKEN_TEMPLATE');
  assert.match(e.message, /inherited from template BROKEN_TEMPLATE/);
});

test('an unusable templateQueueName lists the templates and does not add a cascade of missing sections', () => {
  const errors = loadQueueConfigFile(BROKEN).errors.filter((e) => e.queue === 'BAD_TEMPLATE_REFERENCES');
  assert.equal(errors.length, 1);
  assert.match(errors[0]!.message, /templates here: BROKEN_TEMPLATE/);
});

test('missing mandatory plugin section is an error naming the section', () => {
  const plugins = dummyPlugins();
  delete plugins['stager'];
  const result = parse({ Q: plugins });
  const e = errorAt(result.errors, 'Q', 'stager');
  assert.ok(e);
  assert.equal(e.value, undefined);
  assert.match(e.message, /mandatory/);
});

test('unknown top-level keys are warnings, not errors; the value is kept in extra', () => {
  const result = parse({ Q: { ...dummyPlugins(), nQueueLimitWorkers: 20, walltimeLimit: 3600 } });
  assert.deepEqual(result.errors, []);
  assert.equal(result.warnings.length, 1);
  assert.equal(result.warnings[0]!.field, 'nQueueLimitWorkers');
  assert.equal(result.queues[0]!.extra['nQueueLimitWorkers'], 20);
  // walltimeLimit is a Harvester attribute plugins read: kept without a warning.
  assert.equal(result.queues[0]!.extra['walltimeLimit'], 3600);
});

test('the plugin registry predicate: false or a reason string is an error; kinds map from slots', () => {
  const asked: string[] = [];
  const isKnownPlugin = (kind: string, _module: string, name: string): boolean | string => {
    asked.push(kind);
    if (name === 'DummyStager') return false;
    if (name === 'DummySweeper') return 'a sweeper registered for "dummy" (known: DummySweeperX)';
    return true;
  };
  const doc = {
    Q: {
      ...dummyPlugins(),
      aux_preparator: { module: 'm.dummy_preparator', name: 'DummyPreparator' },
      credmanagers: [{ module: 'm.no_voms_cred_manager', name: 'NoVomsCredManager' }],
    },
  };
  const result = parse(doc, { isKnownPlugin });
  assert.match(errorAt(result.errors, 'Q', 'stager')!.expected, /stager plugin registered/);
  assert.equal(
    errorAt(result.errors, 'Q', 'sweeper')!.expected,
    'a sweeper registered for "dummy" (known: DummySweeperX)',
  );
  assert.deepEqual(errorAt(result.errors, 'Q', 'sweeper')!.value, {
    module: 'pandaharvester.harvestersweeper.dummy_sweeper',
    name: 'DummySweeper',
  });
  assert.ok(asked.includes('credmanager'));
  assert.equal(asked.filter((k) => k === 'preparator').length, 2);
});

test('file-level problems: bad JSON with line and column, empty file, non-object, unreadable file', () => {
  const bad = parseQueueConfig('{\n  "Q": {\n    "mapType": "NoJob",\n  }\n}', 'bad.json');
  assert.equal(bad.errors.length, 1);
  assert.equal(bad.errors[0]!.queue, null);
  assert.match(bad.errors[0]!.message, /^bad\.json: got .*line 4, column 3/);
  assert.match(parseQueueConfig('   ', 'empty.json').errors[0]!.message, /empty/);
  assert.match(parseQueueConfig('[1, 2]', 'list.json').errors[0]!.expected, /JSON object/);
  const missing = loadQueueConfigFile('/nonexistent/queues.json');
  assert.equal(missing.errors.length, 1);
  assert.match(missing.errors[0]!.message, /^\/nonexistent\/queues\.json: got .*ENOENT/);
});

test('resolveQueue resolves one entry of a document on its own', () => {
  const doc = { T_TEMPLATE: { ...dummyPlugins(), maxWorkers: 7 }, Q: { templateQueueName: 'T_TEMPLATE' } };
  const { queue, diagnostics } = resolveQueue('Q', doc, 'doc.json');
  assert.equal(diagnostics.errors.length, 0);
  assert.equal(queue?.maxWorkers, 7);
  const asTemplate = resolveQueue('T_TEMPLATE', doc, 'doc.json');
  assert.equal(asTemplate.queue, null);
  assert.match(asTemplate.diagnostics.errors[0]!.expected, /not a template/);
});

// ---------------------------------------------------------------------------------------------
// configID

test('configID is stable: same content in another key order, or another queueStatus, gives the same id', () => {
  const first = loadQueueConfigFile(GOOD).queues.map((q) => q.configID);
  const second = loadQueueConfigFile(GOOD).queues.map((q) => q.configID);
  assert.deepEqual(first, second);
  assert.match(first[0]!, /^[0-9a-f]{64}$/);
  assert.equal(new Set(first).size, first.length);

  const a = only({ Q: { ...dummyPlugins(), maxWorkers: 5, mapType: 'NoJob' } }, 'Q');
  const reordered = Object.fromEntries(
    Object.entries({ ...dummyPlugins(), maxWorkers: 5, mapType: 'NoJob' }).reverse(),
  );
  const b = only({ Q: reordered }, 'Q');
  assert.equal(a.configID, b.configID);
  const offline = only(
    { Q: { ...dummyPlugins(), maxWorkers: 5, mapType: 'NoJob', queueStatus: 'offline' } },
    'Q',
  );
  assert.equal(offline.active, false);
  assert.equal(offline.configID, a.configID);
  assert.equal(configIdOf(a), a.configID);
});

test('configID changes when a plugin parameter, a limit or the template changes', () => {
  const base = only({ Q: dummyPlugins() }, 'Q').configID;
  const plugins = dummyPlugins();
  const changedPlugin = only(
    { Q: { ...plugins, submitter: { ...(plugins['submitter'] as Entry), nCore: 16 } } },
    'Q',
  ).configID;
  const changedLimit = only({ Q: { ...dummyPlugins(), maxWorkers: 1 } }, 'Q').configID;
  assert.notEqual(changedPlugin, base);
  assert.notEqual(changedLimit, base);
  const viaTemplate = (n: number) =>
    only({ X_TEMPLATE: { ...dummyPlugins(), maxWorkers: n }, Q: { templateQueueName: 'X_TEMPLATE' } }, 'Q')
      .configID;
  assert.notEqual(viaTemplate(1), viaTemplate(2));
});

// ---------------------------------------------------------------------------------------------
// CLI functions

function capture(): { log: (l: string) => void; error: (l: string) => void; out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  return { log: (l) => out.push(l), error: (l) => err.push(l), out, err };
}

test('queues validate: good file prints each queue with map type, status, plugins, limits, configID; exit 0', async () => {
  const io = capture();
  // The plugin check of the real CLI (src/cli/main.ts): every module must be one we can run.
  const registry = createPluginRegistry();
  const isKnownPlugin: KnownPluginPredicate = (kind, module, name) => registry.has(kind, module, name);
  assert.equal(await runQueuesValidate([GOOD], { isKnownPlugin }, io), EXIT_OK);
  const text = io.out.join('\n');
  const grid = loadQueueConfigFile(GOOD).queues.find((q) => q.queueName === 'EXAMPLE_GRID_PUSH')!;
  assert.match(text, /4 valid queues \(1 inactive\), 2 templates, 0 errors/);
  assert.match(text, /EXAMPLE_GRID_PUSH {2}OneToOne {2}online/);
  assert.match(text, /EXAMPLE-HPC\/SCORE {2}NoJob {2}offline \(inactive\)/);
  assert.ok(text.includes(grid.configID));
  assert.match(text, /throttler=simple_throttler\.SimpleThrottler/);
  assert.match(text, /nQueueLimitJob=150/);
  assert.match(text, /taskQueue {2}edge-example-hpc/);
  assert.match(text, /OK: 1 file valid/);
  // Harvester's NoVomsCredManager is not run here: a warning that keeps the queue, not an error.
  assert.deepEqual(
    io.err.map((l) => l.replace(/: got .*/, '')),
    [`warning: ${GOOD}: queue EXAMPLE_GRID_PUSH: credmanagers[0]`],
  );
});

test('bin/harvester queues validate: the example file (pull Slurm, push HTCondor, dummy) passes with the real plugins; the broken one fails', () => {
  const run = (file: string) =>
    spawnSync(join(ROOT, 'bin', 'harvester'), ['queues', 'validate', file], { encoding: 'utf8', cwd: ROOT });
  const good = run(GOOD);
  assert.equal(good.status, 0, good.stderr);
  assert.match(good.stdout, /4 valid queues \(1 inactive\), 2 templates, 0 errors/);
  for (const plugin of ['SlurmSubmitter', 'SlurmSqueueMonitor', 'HTCondorSubmitter', 'DummySubmitter'])
    assert.ok(good.stdout.includes(plugin), plugin);
  const broken = run(BROKEN);
  assert.equal(broken.status, 1);
  assert.match(broken.stdout, /INVALID: \d+ errors in 1 file/);
});

test('queues validate: broken file prints every error and exits 1; --json is parseable', async () => {
  const io = capture();
  assert.equal(await runQueuesValidate([GOOD, BROKEN], {}, io), EXIT_INVALID);
  const errors = io.err.filter((l) => l.startsWith('error: '));
  assert.equal(errors.length, loadQueueConfigFile(BROKEN).errors.length);
  assert.ok(errors.some((l) => l.includes('queue BAD_SCALARS: submitter.module: got 42')));
  assert.ok(io.err.some((l) => l.startsWith('warning: ')));
  assert.match(io.out.join('\n'), /INVALID: \d+ errors in 1 file/);

  const json = capture();
  assert.equal(await runQueuesValidate([BROKEN], { json: true }, json), EXIT_INVALID);
  const parsed = JSON.parse(json.out.join('\n')) as {
    ok: boolean;
    files: Array<{ errors: ConfigError[]; queues: unknown[] }>;
  };
  assert.equal(parsed.ok, false);
  assert.equal(parsed.files[0]!.errors.length, loadQueueConfigFile(BROKEN).errors.length);
  assert.equal(parsed.files[0]!.queues.length, 1);
});

test('queues show: prints the resolved queue as JSON, exit 0; unknown queue or template: exit 1', async () => {
  const io = capture();
  assert.equal(await runQueuesShow(GOOD, 'EXAMPLE-HPC/MCORE', {}, io), EXIT_OK);
  const shown = JSON.parse(io.out.join('\n')) as QueueConfig;
  assert.deepEqual(
    shown,
    loadQueueConfigFile(GOOD).queues.find((q) => q.queueName === 'EXAMPLE-HPC/MCORE'),
  );

  const missing = capture();
  assert.equal(await runQueuesShow(GOOD, 'NOPE', {}, missing), EXIT_INVALID);
  assert.match(missing.err.join('\n'), /has no queue NOPE; valid queues there: DUMMY_LOCAL/);

  const template = capture();
  assert.equal(await runQueuesShow(GOOD, 'grid.push', {}, template), EXIT_INVALID);
  assert.match(template.err.join('\n'), /is a template/);

  const broken = capture();
  assert.equal(await runQueuesShow(BROKEN, 'BAD_SCALARS', {}, broken), EXIT_INVALID);
  assert.ok(broken.err.some((l) => l.includes('temporal.keepFinshed')));

  const fine = capture();
  assert.equal(await runQueuesShow(BROKEN, 'STILL_FINE', {}, fine), EXIT_OK);
  assert.match(fine.err.join('\n'), /errors in other queues/);
});

test('registerQueuesCommands: `queues validate FILE... --json` and `queues show FILE QUEUE` through commander', async () => {
  const io = capture();
  const program = new Command('harvester').exitOverride();
  registerQueuesCommands(program, { output: io });
  const previousExitCode = process.exitCode;
  try {
    await program.parseAsync(['queues', 'validate', GOOD, '--json'], { from: 'user' });
    assert.equal(process.exitCode, EXIT_OK);
    assert.equal((JSON.parse(io.out.join('\n')) as { ok: boolean }).ok, true);

    io.out.length = 0;
    await program.parseAsync(['queues', 'show', GOOD, 'DUMMY_LOCAL', '--harvester-id', 'h1'], {
      from: 'user',
    });
    assert.equal(process.exitCode, EXIT_OK);
    assert.equal((JSON.parse(io.out.join('\n')) as QueueConfig).queueName, 'DUMMY_LOCAL');

    await program.parseAsync(['queues', 'validate', BROKEN], { from: 'user' });
    assert.equal(process.exitCode, EXIT_INVALID);
  } finally {
    process.exitCode = previousExitCode;
  }
  const queues = program.commands.find((c) => c.name() === 'queues')!;
  assert.deepEqual(
    queues.commands.map((c) => c.name()),
    ['validate', 'show'],
  );
  assert.match(queues.commands[0]!.helpInformation(), /--json/);
  assert.match(queues.commands[0]!.helpInformation(), /configID/);
});

test('a file written to disk by a test round-trips through loadQueueConfigFile', () => {
  const dir = mkdtempSync(join(tmpdir(), 'qconf-'));
  const file = join(dir, 'panda_queueconfig.json');
  writeFileSync(file, JSON.stringify({ Q: dummyPlugins() }));
  const result = loadQueueConfigFile(file);
  assert.deepEqual(result.errors, []);
  assert.equal(result.queues[0]!.queueName, 'Q');
});
