import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SharedFileMessenger, SimpleThrottler, SimpleWorkerMaker } from '../../src/plugins/common';
import { DummyMonitor, DummySubmitter, DummySweeper } from '../../src/plugins/dummy';
import { createPluginRegistry } from '../../src/plugins/index';
import { DuplicatePluginError, PluginRegistry, UnknownPluginError } from '../../src/plugins/registry';
import type { PluginContext, Submitter } from '../../src/plugins/types';

const ctx: PluginContext = { harvesterID: 'h1', queueName: 'TEST_PQ' };

test('Harvester module paths resolve to our plugins', () => {
  const registry = createPluginRegistry();
  const cases = [
    ['submitter', 'pandaharvester.harvestersubmitter.dummy_submitter', 'DummySubmitter', DummySubmitter],
    ['monitor', 'pandaharvester.harvestermonitor.dummy_monitor', 'DummyMonitor', DummyMonitor],
    ['sweeper', 'pandaharvester.harvestersweeper.dummy_sweeper', 'DummySweeper', DummySweeper],
    [
      'messenger',
      'pandaharvester.harvestermessenger.shared_file_messenger',
      'SharedFileMessenger',
      SharedFileMessenger,
    ],
    [
      'workerMaker',
      'pandaharvester.harvesterworkermaker.simple_worker_maker',
      'SimpleWorkerMaker',
      SimpleWorkerMaker,
    ],
    ['throttler', 'pandaharvester.harvesterthrottler.simple_throttler', 'SimpleThrottler', SimpleThrottler],
  ] as const;
  for (const [kind, module, name, cls] of cases) {
    const plugin = registry.create(kind, { module, name }, ctx);
    assert.ok(plugin instanceof cls, `${module}/${name}`);
  }
  assert.equal(
    typeof registry.create(
      'preparator',
      { module: 'pandaharvester.harvesterpreparator.dummy_preparator', name: 'DummyPreparator' },
      ctx,
    ).triggerPreparation,
    'function',
  );
  assert.equal(
    typeof registry.create(
      'stager',
      { module: 'pandaharvester.harvesterstager.dummy_stager', name: 'DummyStager' },
      ctx,
    ).triggerStageOut,
    'function',
  );
});

test('the built-in registry has every back-end under its Harvester module name', () => {
  const registry = createPluginRegistry();
  for (const [kind, module, name] of [
    ['submitter', 'pandaharvester.harvestersubmitter.slurm_submitter', 'SlurmSubmitter'],
    ['monitor', 'pandaharvester.harvestermonitor.slurm_monitor', 'SlurmMonitor'],
    ['sweeper', 'pandaharvester.harvestersweeper.slurm_sweeper', 'SlurmSweeper'],
    ['submitter', 'pandaharvester.harvestersubmitter.htcondor_submitter', 'HTCondorSubmitter'],
    ['monitor', 'pandaharvester.harvestermonitor.htcondor_monitor', 'HTCondorMonitor'],
    ['sweeper', 'pandaharvester.harvestersweeper.htcondor_sweeper', 'HTCondorSweeper'],
    ['submitter', 'local', 'LocalSubmitter'],
  ] as const) {
    assert.equal(registry.has(kind, module, name), true, `${kind} ${module}/${name}`);
  }
});

test('abbreviated module paths and our short names resolve too', () => {
  const registry = createPluginRegistry();
  assert.ok(
    registry.create('submitter', { module: '...dummy_submitter', name: 'DummySubmitter' }, ctx) instanceof
      DummySubmitter,
  );
  assert.ok(
    registry.create('submitter', { module: 'dummy', name: 'DummySubmitter' }, ctx) instanceof DummySubmitter,
  );
  // a short module with no name picks the only plugin of that kind in it
  assert.ok(registry.create('monitor', { module: 'dummy', name: '' }, ctx) instanceof DummyMonitor);
  assert.ok(
    registry.create('messenger', { module: 'shared_file', name: '' }, ctx) instanceof SharedFileMessenger,
  );
});

test('params reach the plugin', () => {
  const registry = createPluginRegistry();
  const maker = registry.create(
    'workerMaker',
    { module: 'simple', name: 'SimpleWorkerMaker', nJobsPerWorker: 4 },
    ctx,
  );
  assert.equal(maker.getNumJobsPerWorker(10), 4);
});

test('an unknown plugin is an error naming kind, module, name and what is known', () => {
  const registry = createPluginRegistry();
  let error: unknown;
  try {
    registry.create(
      'submitter',
      { module: 'pandaharvester.harvestersubmitter.pbs_submitter', name: 'PBSSubmitter' },
      ctx,
    );
  } catch (err) {
    error = err;
  }
  assert.ok(error instanceof UnknownPluginError);
  assert.equal(error.kind, 'submitter');
  assert.equal(error.module, 'pandaharvester.harvestersubmitter.pbs_submitter');
  assert.equal(error.pluginName, 'PBSSubmitter');
  assert.match(
    error.message,
    /unknown submitter plugin: module "pandaharvester\.harvestersubmitter\.pbs_submitter", name "PBSSubmitter"/,
  );
  assert.match(error.message, /Known submitter plugins: .*dummy_submitter\/DummySubmitter/);
  assert.doesNotMatch(error.message, /DummyMonitor/, 'lists only plugins of the kind asked for');
});

test('a right module with a wrong class name is unknown', () => {
  const registry = createPluginRegistry();
  assert.throws(
    () => registry.create('submitter', { module: 'dummy_submitter', name: 'DumySubmitter' }, ctx),
    /unknown submitter plugin: module "dummy_submitter", name "DumySubmitter"/,
  );
});

test('a Harvester module under the wrong section says which kind it is', () => {
  const registry = createPluginRegistry();
  assert.throws(
    () =>
      registry.create(
        'submitter',
        { module: 'pandaharvester.harvestermonitor.dummy_monitor', name: 'DummyMonitor' },
        ctx,
      ),
    /unknown submitter plugin: .*\(that is a monitor module\)/,
  );
});

test('back-ends register themselves; a duplicate registration is refused', () => {
  const registry = new PluginRegistry();
  const fake: Submitter = { submitWorkers: async () => [] };
  registry.register('submitter', ['slurm', 'slurm_submitter'], 'SlurmSubmitter', () => fake);
  assert.equal(
    registry.create(
      'submitter',
      { module: 'pandaharvester.harvestersubmitter.slurm_submitter', name: 'SlurmSubmitter' },
      ctx,
    ),
    fake,
  );
  assert.equal(registry.create('submitter', { module: 'slurm', name: 'SlurmSubmitter' }, ctx), fake);
  assert.deepEqual(
    registry.known('submitter').map((p) => `${p.module}/${p.name}`),
    ['slurm/SlurmSubmitter', 'slurm_submitter/SlurmSubmitter'],
  );
  assert.throws(
    () =>
      registry.register(
        'submitter',
        'pandaharvester.harvestersubmitter.slurm_submitter',
        'SlurmSubmitter',
        () => fake,
      ),
    DuplicatePluginError,
  );
  assert.throws(
    () => registry.create('monitor', { module: 'slurm', name: 'SlurmMonitor' }, ctx),
    /\(none registered\)/,
  );
});
