/**
 * The instance's queue list and queue configs from the PanDA side (Harvester's configFromCacher,
 * the Developer Q&A's "config file downloaded with the identifier when the instance is up"):
 * whole central processes (startCentralProcess, as `harvester worker` runs it) against the real
 * dev server, PostgreSQL and the simulator's cache URL. The remote config is merged with a local
 * file, the instance starts the queue workflows it names, a change on the simulator is picked up
 * by a restart (and, with a short interval, by the next refresh), PanDA unreachable at start
 * falls back to the last good copy in the DB, and a garbled reply is an error that keeps it.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Client } from '@temporalio/client';
import { type CentralProcess, startCentralProcess } from '../../src/cli/centralProcess';
import { createRemoteDocumentFetcher } from '../../src/config/remoteDocument';
import { loadSettings } from '../../src/config/settings';
import { getCachedDocument } from '../../src/db/configCache';
import { type Db, openDatabase } from '../../src/db/pool';
import { createLogger } from '../../src/observability/logger';
import { createPandaClient } from '../../src/panda';
import { instanceStateQuery, instanceWorkflowId } from '../../src/workflows/instanceMessages';
import { queueWorkflowId } from '../../src/workflows/queueMessages';
import { accessPointUnder, dummyQueueConfig } from '../helpers/dummyQueue';
import { TEST_NAMESPACE, testDatabaseUrl, testTemporalAddress } from '../helpers/env';
import { eventually } from '../helpers/stack';
import { testClient, uniqueName } from '../helpers/temporal';
import { type PandaSim, startPandaSim } from '../panda-sim';

const H = 'pandaharvester.harvester';
const Q1 = 'REMOTE_SITE_A';
const Q2 = 'REMOTE_SITE_B';

/** A pull queue on the dummy plugins; with no activated jobs in the simulator it submits nothing. */
function remoteQueue(scratch: string, name: string, extra: Record<string, unknown> = {}) {
  return {
    ...dummyQueueConfig(accessPointUnder(`${scratch}/${name}`), {
      maxWorkers: 3,
      temporal: { submitterIntervalSeconds: 1, monitorIntervalSeconds: 1 },
    }),
    ...extra,
  };
}

let sim: PandaSim;
let client: Client;
let db: Db;
let scratch: string;
const harvesterID = uniqueName('hrq');
const taskQueue = uniqueName('tq');
let central: CentralProcess | undefined;

before(async () => {
  sim = await startPandaSim({ port: 0 });
  client = await testClient();
  db = await openDatabase(testDatabaseUrl());
  scratch = mkdtempSync(join(tmpdir(), 'harvester-remote-qc-'));
});

after(async () => {
  await central?.stop();
  for (const id of [
    instanceWorkflowId(harvesterID),
    queueWorkflowId(harvesterID, Q1),
    queueWorkflowId(harvesterID, Q2),
  ]) {
    await client.workflow
      .getHandle(id)
      .terminate('test finished')
      .catch(() => {});
  }
  await client.connection.close();
  await db.end();
  await sim.close();
  rmSync(scratch, { recursive: true, force: true });
});

/** Starts a central process the way `harvester worker` does, with this test's environment. */
async function startProcess(env: { refreshSeconds: number; syncSeconds: number }): Promise<CentralProcess> {
  const localFile = join(scratch, 'panda_queueconfig.json');
  const settings = loadSettings({
    HARVESTER_ID: harvesterID,
    HARVESTER_TASK_QUEUE: taskQueue,
    HARVESTER_DATABASE_URL: testDatabaseUrl(),
    HARVESTER_DATA_DIR: scratch,
    TEMPORAL_ADDRESS: testTemporalAddress(),
    TEMPORAL_NAMESPACE: TEST_NAMESPACE,
    // The instance id is filled in by the harvester, as in Harvester's cacher lines.
    HARVESTER_QUEUE_CONFIG_URL: `${sim.origin}/cache/harvester_configs/$` + '{harvesterID}.json',
    HARVESTER_QUEUE_CONFIG_REFRESH_SECONDS: String(env.refreshSeconds),
  });
  return startCentralProcess({
    settings,
    log: createLogger({ level: 'silent' }),
    queueSource: { file: localFile },
    panda: createPandaClient({ baseUrl: sim.url, harvesterId: harvesterID, timeoutMs: 5000 }),
    startInstance: true,
    queueSyncIntervalSeconds: env.syncSeconds,
  });
}

async function restart(env: { refreshSeconds: number; syncSeconds: number }): Promise<void> {
  await central?.stop();
  central = await startProcess(env);
}

async function workflowStatus(id: string): Promise<string | undefined> {
  try {
    return (await client.workflow.getHandle(id).describe()).status.name;
  } catch {
    return undefined;
  }
}

const instanceState = () =>
  client.workflow.getHandle(instanceWorkflowId(harvesterID)).query(instanceStateQuery);

/** Waits for a queue sync that ran after `since` and satisfies pred. */
function syncAfter(
  since: number,
  label: string,
  pred: (s: NonNullable<Awaited<ReturnType<typeof instanceState>>['lastSync']>) => boolean,
) {
  return eventually(
    label,
    async () => {
      const s = (await instanceState()).lastSync;
      return s && Date.parse(s.at) > since && pred(s) ? s : undefined;
    },
    40_000,
  );
}

/** The resolved config the instance registered for a queue most recently. */
async function registeredConfig(queue: string): Promise<Record<string, unknown> | undefined> {
  const { rows } = await db.query<{ data: Record<string, unknown> }>(
    `SELECT d.data FROM queues q JOIN queue_config_dumps d ON d.config_id = q.config_id
     WHERE q.harvester_id = $1 AND q.queue_name = $2`,
    [harvesterID, queue],
  );
  return rows[0]?.data;
}

test('queue list and configs from the simulator: start, change + restart, refresh, PanDA down, garbled reply', async () => {
  // The local file overrides one plugin parameter and one limit of the remote queue.
  writeFileSync(
    join(scratch, 'panda_queueconfig.json'),
    JSON.stringify({ [Q1]: { maxWorkers: 5, submitter: { localKey: 'L' } } }),
  );
  sim.control.setInstanceConfig(harvesterID, {
    [Q1]: remoteQueue(scratch, Q1, {
      submitter: { module: `${H}submitter.dummy_submitter`, name: 'DummySubmitter', remoteKey: 'R1' },
    }),
  });

  // 1. Start: the config is fetched with the instance id; the queue it names gets its workflow.
  let t0 = Date.now();
  central = await startProcess({ refreshSeconds: 600, syncSeconds: 2 });
  const first = await syncAfter(t0, 'first sync with Q1', (s) => s.active.includes(Q1));
  assert.deepEqual(first.active, [Q1]);
  assert.deepEqual(first.errors, []);
  await eventually(
    'queue workflow of Q1 running',
    async () => (await workflowStatus(queueWorkflowId(harvesterID, Q1))) === 'RUNNING',
  );
  const cfg1 = await registeredConfig(Q1);
  assert.ok(cfg1, 'Q1 registered');
  const submitter1 = cfg1.submitter as Record<string, unknown>;
  assert.equal(cfg1.maxWorkers, 5, 'local limit over the remote one');
  assert.equal(submitter1.remoteKey, 'R1', 'remote plugin key kept');
  assert.equal(submitter1.localKey, 'L', 'local plugin key merged in');
  assert.equal(sim.control.callsTo('cache/harvester_configs')[0]?.args.harvester_id, harvesterID);
  const cached = await getCachedDocument(db, harvesterID, 'queues_config_file');
  assert.ok(cached && Object.keys(cached.data as object).includes(Q1), 'the good copy is in the DB');

  // 2. The config changes on the PanDA side: Q1's plugin parameter, and a new queue Q2.
  sim.control.setInstanceConfig(harvesterID, {
    [Q1]: remoteQueue(scratch, Q1, {
      submitter: { module: `${H}submitter.dummy_submitter`, name: 'DummySubmitter', remoteKey: 'R2' },
    }),
    [Q2]: remoteQueue(scratch, Q2),
  });
  // Several syncs inside the refresh interval do not fetch again ...
  t0 = Date.now();
  const unchanged = await syncAfter(t0 + 2500, 'syncs inside the refresh interval', () => true);
  assert.deepEqual(unchanged.active, [Q1]);
  assert.equal(sim.control.callsTo('cache/harvester_configs').length, 1);
  // ... a restart does.
  t0 = Date.now();
  await restart({ refreshSeconds: 600, syncSeconds: 2 });
  await syncAfter(t0, 'sync after restart with Q1 and Q2', (s) => s.active.length === 2);
  await eventually(
    'queue workflow of Q2 running',
    async () => (await workflowStatus(queueWorkflowId(harvesterID, Q2))) === 'RUNNING',
  );
  await eventually('Q1 registered with the new parameter', async () => {
    const c = await registeredConfig(Q1);
    return (c?.submitter as Record<string, unknown> | undefined)?.remoteKey === 'R2';
  });

  // 3. PanDA unreachable at start: the last good copy from the DB is used, and the error is shown.
  sim.control.injectFault('cache/harvester_configs', { kind: 'http500', status: 503 }, 1000);
  t0 = Date.now();
  await restart({ refreshSeconds: 600, syncSeconds: 2 });
  const down = await syncAfter(t0, 'sync with PanDA down', (s) => s.errors.length > 0);
  assert.deepEqual(down.active.sort(), [Q1, Q2], 'queues of the DB copy still served');
  assert.match(
    down.errors.join('\n'),
    /harvester_configs\/hrq-[^ ]+\.json: HTTP 503: ERROR : service unavailable \(keeping the last good copy, fetched at /,
  );
  assert.equal(await workflowStatus(queueWorkflowId(harvesterID, Q2)), 'RUNNING');
  sim.control.clearFaults();

  // 4. With a short refresh interval the next refresh picks changes up without a restart: Q2 goes.
  t0 = Date.now();
  await restart({ refreshSeconds: 1, syncSeconds: 2 });
  await syncAfter(t0, 'sync after recovery', (s) => s.errors.length === 0 && s.active.length === 2);
  sim.control.setInstanceConfig(harvesterID, { [Q1]: remoteQueue(scratch, Q1) });
  t0 = Date.now();
  const removed = await syncAfter(t0, 'sync without Q2', (s) => s.active.length === 1);
  assert.deepEqual(removed.active, [Q1]);
  assert.ok(removed.stopped.includes(Q2), 'Q2 stopped');

  // 5. A garbled reply: a clear error naming the URL; the last good copy (Q1 only) stays.
  sim.control.setInstanceConfig(harvesterID, {
    [Q1]: remoteQueue(scratch, Q1),
    [Q2]: remoteQueue(scratch, Q2),
  });
  sim.control.injectFault('cache/harvester_configs', { kind: 'malformed' }, 1000);
  t0 = Date.now();
  const garbled = await syncAfter(t0, 'sync with a garbled reply', (s) => s.errors.length > 0);
  assert.deepEqual(garbled.active, [Q1]);
  assert.match(
    garbled.errors.join('\n'),
    /harvester_configs\/hrq-[^ ]+\.json: the reply is not valid JSON: .*keeping the last good copy/,
  );
  const kept = await getCachedDocument(db, harvesterID, 'queues_config_file');
  assert.deepEqual(Object.keys(kept?.data as object), [Q1], 'the DB copy is the last good one');
  assert.match(kept?.lastError ?? '', /not valid JSON/);
  sim.control.clearFaults();
  await syncAfter(
    Date.now(),
    'recovered: both queues again',
    (s) => s.errors.length === 0 && s.active.length === 2,
  );
});

/** A CA and a server certificate for 127.0.0.1, made with openssl; undefined without openssl. */
function makeServerPki(dir: string): { ca: string; key: string; cert: string } | undefined {
  const openssl = (args: string[]) => spawnSync('openssl', args, { cwd: dir, stdio: 'pipe' }).status === 0;
  if (!openssl(['version'])) return undefined;
  writeFileSync(join(dir, 'san.ext'), 'subjectAltName=IP:127.0.0.1\n');
  const ok =
    openssl([
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      'ca.key',
      '-out',
      'ca.pem',
      '-days',
      '2',
      '-subj',
      '/CN=qc-ca',
    ]) &&
    openssl([
      'req',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      'srv.key',
      '-out',
      'srv.csr',
      '-subj',
      '/CN=127.0.0.1',
    ]) &&
    openssl([
      'x509',
      '-req',
      '-in',
      'srv.csr',
      '-CA',
      'ca.pem',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-out',
      'srv.pem',
      '-days',
      '2',
      '-extfile',
      'san.ext',
    ]);
  return ok ? { ca: join(dir, 'ca.pem'), key: join(dir, 'srv.key'), cert: join(dir, 'srv.pem') } : undefined;
}

test('https: the queue config is fetched with the PanDA token, Origin and CA file; a bad token is a clear error without the token', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'harvester-qc-tls-'));
  const pki = makeServerPki(dir);
  if (!pki) {
    t.skip('openssl not available');
    return;
  }
  const TOKEN = 'remote-config-token-0123456789';
  const tlsSim = await startPandaSim({
    tokens: [TOKEN],
    tls: { key: readFileSync(pki.key), cert: readFileSync(pki.cert) },
  });
  try {
    const HID = 'h-tls';
    tlsSim.control.setInstanceConfig(HID, { [Q1]: { maxWorkers: 1 } });
    const tokenFile = join(dir, 'token');
    writeFileSync(tokenFile, `${TOKEN}\n`);
    const url = tlsSim.queueConfigUrl(HID);
    const good = createRemoteDocumentFetcher({ auth: { tokenFile, origin: 'atlas', caFile: pki.ca } });
    assert.deepEqual(await good(url), { [Q1]: { maxWorkers: 1 } });
    const call = tlsSim.control.callsTo('cache/harvester_configs').at(-1);
    assert.equal(call?.authenticated, true, 'the token was sent over https');

    const noCa = createRemoteDocumentFetcher({ auth: { tokenFile } });
    await assert.rejects(noCa(url), new RegExp(`^RemoteDocumentError: ${url}: cannot fetch: .*certificate`));

    writeFileSync(tokenFile, 'wrong-token-9876543210\n');
    await assert.rejects(good(url), (err: Error) => {
      assert.match(err.message, new RegExp(`^${url}: HTTP 403: ERROR : Token authentication failed`));
      assert.ok(!err.message.includes('wrong-token-9876543210') && !err.message.includes(TOKEN));
      return true;
    });
  } finally {
    await tlsSim.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
