import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadSettings } from '../../src/config/settings';

test('defaults point at the local dev server and the embedded database', () => {
  const s = loadSettings({}, '/srv/h');
  assert.equal(s.temporal.address, '127.0.0.1:7233');
  assert.equal(s.temporal.namespace, 'default');
  assert.equal(s.databaseUrl, undefined);
  assert.equal(s.dataDir, '/srv/h/.data');
  assert.equal(s.dataDirExplicit, false, 'the default data folder may keep its database elsewhere as root');
  assert.equal(s.temporal.tls, undefined);
});

test('HARVESTER_DATA_DIR names the data folder, relative to the working folder, and marks it as chosen', () => {
  const s = loadSettings({ HARVESTER_DATA_DIR: 'state' }, '/srv/h');
  assert.equal(s.dataDir, '/srv/h/state');
  assert.equal(s.dataDirExplicit, true);
});

test('a malformed TEMPORAL_ADDRESS is rejected with the variable name', () => {
  assert.throws(
    () => loadSettings({ TEMPORAL_ADDRESS: 'http://x' }),
    /TEMPORAL_ADDRESS="http:\/\/x": expected host:port/,
  );
});

test('a non-numeric port variable names the variable and the range', () => {
  assert.throws(
    () => loadSettings({ HARVESTER_EMBEDDED_PG_PORT: 'abc' }),
    /HARVESTER_EMBEDDED_PG_PORT="abc".*\[1, 65535\]/,
  );
});

test('TLS variables switch TLS on', () => {
  const s = loadSettings({
    TEMPORAL_TLS_SERVER_CA_CERT_PATH: '/ca.pem',
    TEMPORAL_ADDRESS: 'temporal.example:7233',
  });
  assert.deepEqual(s.temporal.tls?.serverCaCertPath, '/ca.pem');
});

test('an invalid HARVESTER_ID is rejected', () => {
  assert.throws(() => loadSettings({ HARVESTER_ID: 'a b' }), /HARVESTER_ID/);
});

test("the worker adjuster's instance settings: Harvester's defaults, overrides, and clear errors", () => {
  assert.deepEqual(loadSettings({}).adjuster, {
    maxNewWorkers: 1000,
    activateWorkerFactor: 1,
    noPilotsWhenNoActiveJobs: false,
  });
  assert.deepEqual(
    loadSettings({
      HARVESTER_MAX_NEW_WORKERS: '50',
      HARVESTER_ACTIVATE_WORKER_FACTOR: 'auto',
      HARVESTER_NO_PILOTS_WHEN_NO_ACTIVE_JOBS: 'true',
    }).adjuster,
    { maxNewWorkers: 50, activateWorkerFactor: 'auto', noPilotsWhenNoActiveJobs: true },
  );
  assert.equal(loadSettings({ HARVESTER_ACTIVATE_WORKER_FACTOR: '0.5' }).adjuster.activateWorkerFactor, 0.5);
  assert.throws(
    () => loadSettings({ HARVESTER_ACTIVATE_WORKER_FACTOR: '0' }),
    /HARVESTER_ACTIVATE_WORKER_FACTOR="0": expected a number > 0 or auto/,
  );
  assert.throws(
    () => loadSettings({ HARVESTER_MAX_NEW_WORKERS: '-1' }),
    /HARVESTER_MAX_NEW_WORKERS="-1": expected an integer in \[0, 1000000\]/,
  );
  assert.throws(
    () => loadSettings({ HARVESTER_NO_PILOTS_WHEN_NO_ACTIVE_JOBS: 'yes' }),
    /HARVESTER_NO_PILOTS_WHEN_NO_ACTIVE_JOBS="yes": expected true or false/,
  );
});

test('the control task queue is derived from the main one, which may not look like a control queue', () => {
  assert.equal(loadSettings({}).taskQueue, 'harvester-central');
  assert.equal(loadSettings({}).controlTaskQueue, 'harvester-central-control');
  assert.equal(loadSettings({ HARVESTER_TASK_QUEUE: 'atlas-1' }).controlTaskQueue, 'atlas-1-control');
  // A main queue named like a control queue would make a run on it look as if it had moved already.
  assert.throws(
    () => loadSettings({ HARVESTER_TASK_QUEUE: 'atlas-control' }),
    /HARVESTER_TASK_QUEUE="atlas-control": must not end in "-control"/,
  );
});
