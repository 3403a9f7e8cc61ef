/**
 * End to end through every pipe: a workflow on the real dev server runs an activity that writes a
 * row to the real PostgreSQL through pg; the test reads the row back from the DB and the activity's
 * result back from the workflow's history.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createCentralActivities } from '../../src/activities/central';
import { migrate } from '../../src/db/migrate';
import { type Db, openDatabase } from '../../src/db/pool';
import { createLogger } from '../../src/observability/logger';
import { recordEventWorkflow } from '../../src/workflows/pipes';
import { testDatabaseUrl } from '../helpers/env';
import { testClient, testWorker, uniqueName } from '../helpers/temporal';

let db: Db;

before(async () => {
  db = await openDatabase(testDatabaseUrl());
  await migrate(db);
});

after(async () => {
  await db.end();
});

test('a workflow activity writes a row through pg; DB and history agree', async () => {
  const taskQueue = uniqueName('pipes');
  const harvesterID = uniqueName('h');
  const activities = createCentralActivities({ db, log: createLogger({ level: 'silent' }), harvesterID });
  const worker = await testWorker({ taskQueue, activities });
  const client = await testClient();
  const workflowId = uniqueName('pipes-wf');
  const result = await worker.runUntil(
    client.workflow.execute(recordEventWorkflow, {
      taskQueue,
      workflowId,
      args: [{ kind: 'pipes-check', payload: { answer: 42, text: 'hé' } }],
    }),
  );

  const { rows } = await db.query('SELECT * FROM harvester_events WHERE event_id = $1', [result.eventId]);
  assert.equal(rows.length, 1);
  assert.equal(rows[0].workflow_id, workflowId);
  assert.equal(rows[0].harvester_id, harvesterID);
  assert.deepEqual(rows[0].payload, { answer: 42, text: 'hé' });

  const history = await client.workflow.getHandle(workflowId).fetchHistory();
  const completed = history.events?.find((e) => e.activityTaskCompletedEventAttributes);
  assert.ok(completed, 'history has an ActivityTaskCompleted event');
  const payload = completed.activityTaskCompletedEventAttributes?.result?.payloads?.[0]?.data;
  assert.ok(payload);
  assert.deepEqual(JSON.parse(Buffer.from(payload).toString('utf8')), { eventId: result.eventId });
  await client.connection.close();
  // The worker's own connection would keep this test process alive.
  await worker.connection?.close();
});
