/**
 * Operator commands that talk to Temporal: pause/resume/drain/limits of a queue, list/show/kill
 * workers (by id or by a visibility query), instance start/status. Thin wrappers over the same client
 * calls an operator could make with the `temporal` CLI.
 */
import { createInterface } from 'node:readline/promises';
import type { Client } from '@temporalio/client';
import type { Command } from 'commander';
import { type HarvesterSettings, loadSettings } from '../config/settings';
import { connectClient } from '../temporal/connection';
import { forEachLimited } from '../util/concurrency';
import { instanceStateQuery, instanceWorkflowId } from '../workflows/instanceMessages';
import {
  drainUpdate,
  LIMIT_OVERRIDE_FIELDS,
  pauseUpdate,
  type QueueLimitOverrides,
  queueStateQuery,
  queueWorkflowId,
  resumeUpdate,
  setLimitsUpdate,
} from '../workflows/queueMessages';
import {
  KILL_SIGNAL_CONCURRENCY,
  killSignal,
  statusQuery,
  workerWorkflowId,
} from '../workflows/workerMessages';
import { startInstanceWorkflow } from './centralProcess';

export class CliUsageError extends Error {
  override name = 'CliUsageError';
}

async function withClient<T>(
  fn: (client: Client, harvesterID: string, settings: HarvesterSettings) => Promise<T>,
): Promise<T> {
  const settings = loadSettings();
  const client = await connectClient(settings.temporal);
  try {
    return await fn(client, settings.harvesterID, settings);
  } finally {
    await client.connection.close();
  }
}

export interface TaskQueueHealth {
  name: string;
  role: string;
  /** Workers polling its workflow tasks (a central process has one of each); undefined = not known. */
  workflowPollers?: number;
  /** Workflow tasks waiting for a worker (the server's estimate); undefined = not known. */
  workflowBacklog?: number;
}

/** temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW (@temporalio/proto is no direct dependency). */
const TASK_QUEUE_TYPE_WORKFLOW = 1;

/**
 * Who polls a task queue's workflow tasks and how many wait: a control queue with no poller, or
 * with a backlog, is why monitor cycles come late. A server that cannot tell gives undefined.
 */
async function taskQueueHealth(
  client: Client,
  settings: HarvesterSettings,
  name: string,
  role: string,
): Promise<TaskQueueHealth> {
  try {
    const r = await client.workflowService.describeTaskQueue({
      namespace: settings.temporal.namespace,
      taskQueue: { name },
      taskQueueType: TASK_QUEUE_TYPE_WORKFLOW,
      reportStats: true,
    });
    const backlog = r.stats?.approximateBacklogCount;
    return {
      name,
      role,
      workflowPollers: r.pollers?.length ?? 0,
      workflowBacklog: backlog == null ? undefined : Number(backlog),
    };
  } catch {
    return { name, role };
  }
}

/** A command's result: JSON with --json, else the human line(s). */
export function print(json: boolean | undefined, value: unknown, human: () => string): void {
  console.log(json ? JSON.stringify(value, null, 2) : human());
}

/** The message a failed update carries is the validator's; show that, not the wrapper's. */
function updateError(err: unknown): Error {
  const cause = (err as { cause?: Error }).cause;
  return new Error(cause?.message ?? (err as Error).message);
}

const QUERY_VALUE = /^[A-Za-z0-9._\-/]+$/;

/** Builds a visibility query from filters; values are checked so nothing can be injected into the query. */
export function buildWorkerQuery(f: {
  queue?: string;
  status?: string;
  instance?: string;
  olderThanMinutes?: number;
}): string {
  const parts = ["WorkflowType = 'workerLifecycleWorkflow'", "ExecutionStatus = 'Running'"];
  const add = (field: string, flag: string, value?: string) => {
    if (value === undefined) return;
    if (!QUERY_VALUE.test(value))
      throw new CliUsageError(
        `${flag} ${JSON.stringify(value)}: only letters, digits and . _ - / are allowed`,
      );
    parts.push(`${field} = '${value}'`);
  };
  add('HarvesterQueue', '--queue', f.queue);
  add('HarvesterWorkerStatus', '--status', f.status);
  add('HarvesterInstance', '--instance', f.instance);
  if (f.olderThanMinutes !== undefined) {
    parts.push(`StartTime < '${new Date(Date.now() - f.olderThanMinutes * 60000).toISOString()}'`);
  }
  return parts.join(' AND ');
}

function positiveInt(flag: string) {
  return (v: string) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0)
      throw new CliUsageError(`${flag} ${JSON.stringify(v)}: expected a non-negative integer`);
    return n;
  };
}

/** A limit for set-limits: a non-negative integer, or `config` to drop the override. */
function limitValue(flag: string) {
  // 'config' stays a string here: commander does not keep a null from a parser (it stores '').
  return (v: string): number | 'config' => {
    if (v === 'config') return 'config';
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0)
      throw new CliUsageError(`${flag} ${JSON.stringify(v)}: expected a non-negative integer, or config`);
    return n;
  };
}

interface WorkerRow {
  workflowId: string;
  queue: string;
  status: string;
  batchID: string;
  startTime: string;
}

async function listWorkers(client: Client, query: string, limit: number): Promise<WorkerRow[]> {
  const rows: WorkerRow[] = [];
  for await (const wf of client.workflow.list({ query, pageSize: Math.min(limit, 1000) })) {
    const sa = wf.searchAttributes as Record<string, unknown[] | undefined>;
    rows.push({
      workflowId: wf.workflowId,
      queue: String(sa.HarvesterQueue?.[0] ?? ''),
      status: String(sa.HarvesterWorkerStatus?.[0] ?? ''),
      batchID: String(sa.HarvesterBatchId?.[0] ?? ''),
      startTime: wf.startTime.toISOString(),
    });
    if (rows.length >= limit) break;
  }
  return rows;
}

export function registerOperateCommands(program: Command, queues: Command): void {
  const queueAction = (
    name: string,
    description: string,
    run: (client: Client, id: string, reason?: string) => Promise<unknown>,
    needsReason: boolean,
  ) => {
    const cmd = queues
      .command(name)
      .description(description)
      .argument('<queue>', 'PanDA queue name')
      .option('--json', 'print JSON');
    if (needsReason) cmd.requiredOption('--reason <text>', 'why (shown in the queue state and logs)');
    cmd.action(async (queue: string, opts: { json?: boolean; reason?: string }) => {
      await withClient(async (client, harvesterID) => {
        const state = await run(client, queueWorkflowId(harvesterID, queue), opts.reason).catch((err) => {
          throw updateError(err);
        });
        print(opts.json, state, () => `queue ${queue}: ${JSON.stringify(state)}`);
      });
    });
  };
  queueAction(
    'pause',
    'stop submitting new workers to a queue (live workers go on; monitoring goes on)',
    (c, id, reason) => c.workflow.getHandle(id).executeUpdate(pauseUpdate, { args: [{ reason: reason! }] }),
    true,
  );
  queueAction(
    'resume',
    'resume submission to a paused or draining queue',
    (c, id) => c.workflow.getHandle(id).executeUpdate(resumeUpdate, { args: [] }),
    false,
  );
  queueAction(
    'drain',
    'make no new workers; live ones finish',
    (c, id, reason) => c.workflow.getHandle(id).executeUpdate(drainUpdate, { args: [{ reason: reason! }] }),
    true,
  );
  queueAction(
    'state',
    "show a queue workflow's state",
    (c, id) => c.workflow.getHandle(id).query(queueStateQuery),
    false,
  );

  queues
    .command('set-limits')
    .description("override queue limits at run time (0 = no limit; 'config' = back to the config's value)")
    .argument('<queue>', 'PanDA queue name')
    .option('--max-workers <n>', 'cap on queued+running workers', limitValue('--max-workers'))
    .option('--n-queue-limit-worker <n>', 'cap on queued workers', limitValue('--n-queue-limit-worker'))
    .option(
      '--max-new-workers-per-cycle <n>',
      'cap per submitter cycle',
      limitValue('--max-new-workers-per-cycle'),
    )
    .option('--json', 'print JSON')
    .action(async (queue: string, opts: Record<string, number | 'config' | boolean | undefined>) => {
      const limits: QueueLimitOverrides = {};
      const value = (v: unknown) => (v === 'config' ? null : (v as number));
      if (opts.maxWorkers !== undefined) limits.maxWorkers = value(opts.maxWorkers);
      if (opts.nQueueLimitWorker !== undefined) limits.nQueueLimitWorker = value(opts.nQueueLimitWorker);
      if (opts.maxNewWorkersPerCycle !== undefined)
        limits.maxNewWorkersPerCycle = value(opts.maxNewWorkersPerCycle);
      if (Object.keys(limits).length === 0) {
        throw new CliUsageError(
          `set-limits: give at least one of ${LIMIT_OVERRIDE_FIELDS.join(', ')} (see --help)`,
        );
      }
      await withClient(async (client, harvesterID) => {
        const state = await client.workflow
          .getHandle(queueWorkflowId(harvesterID, queue))
          .executeUpdate(setLimitsUpdate, { args: [limits] })
          .catch((err) => {
            throw updateError(err);
          });
        print(
          Boolean(opts.json),
          state,
          () => `queue ${queue}: limits now ${JSON.stringify(state.limitOverrides)}`,
        );
      });
    });

  queues
    .command('list')
    .description('queue workflows of this instance and their state')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }) => {
      await withClient(async (client, harvesterID) => {
        const rows: Array<{ queue: string; state: string; workflowId: string }> = [];
        const query = `WorkflowType = 'queueWorkflow' AND ExecutionStatus = 'Running' AND HarvesterInstance = '${harvesterID}'`;
        for await (const wf of client.workflow.list({ query })) {
          const sa = wf.searchAttributes as Record<string, unknown[] | undefined>;
          rows.push({
            queue: String(sa.HarvesterQueue?.[0] ?? ''),
            state: String(sa.HarvesterQueueState?.[0] ?? ''),
            workflowId: wf.workflowId,
          });
        }
        print(opts.json, rows, () =>
          rows.length
            ? rows.map((r) => `${r.queue}\t${r.state}\t${r.workflowId}`).join('\n')
            : 'no running queue workflows',
        );
      });
    });

  const workers = program.command('workers').description('find, inspect and kill workers (pilots)');
  workers
    .command('list')
    .description('running worker workflows, filtered by queue, status, instance and age')
    .option('--queue <name>', 'PanDA queue')
    .option('--status <status>', 'worker status (submitted, running, ...)')
    .option('--instance <id>', 'harvester instance')
    .option('--older-than <minutes>', 'started more than this many minutes ago', positiveInt('--older-than'))
    .option('--limit <n>', 'at most this many', positiveInt('--limit'), 1000)
    .option('--json', 'print JSON')
    .action(
      async (opts: {
        queue?: string;
        status?: string;
        instance?: string;
        olderThan?: number;
        limit: number;
        json?: boolean;
      }) => {
        const query = buildWorkerQuery({ ...opts, olderThanMinutes: opts.olderThan });
        await withClient(async (client) => {
          const rows = await listWorkers(client, query, opts.limit);
          print(opts.json, rows, () =>
            rows.length
              ? rows
                  .map((r) => `${r.workflowId}\t${r.status}\tbatch=${r.batchID}\tstarted=${r.startTime}`)
                  .join('\n')
              : 'no matching workers',
          );
        });
      },
    );
  workers
    .command('show')
    .description("a worker's state: status, batch id, times, diagnostic, kill reason, pending reports")
    .argument('<queue>', 'PanDA queue')
    .argument('<workerID>', 'worker id', positiveInt('workerID'))
    .option('--json', 'print JSON')
    .action(async (queue: string, workerID: number, opts: { json?: boolean }) => {
      await withClient(async (client, harvesterID) => {
        const s = await client.workflow
          .getHandle(workerWorkflowId(harvesterID, queue, workerID))
          .query(statusQuery);
        print(opts.json, s, () =>
          [
            `worker ${workerID} of ${queue}: ${s.worker.status} (phase ${s.phase})`,
            `batch id: ${s.worker.batchID ?? '-'}  submitted: ${s.worker.submitTime ?? '-'}  started: ${s.worker.startTime ?? '-'}  ended: ${s.worker.endTime ?? '-'}`,
            `diagnostic: ${s.worker.diagMessage ?? '-'}`,
            `kill: ${s.kill ? `${s.kill.source}: ${s.kill.reason} (${s.kill.attempts} attempts, ${s.kill.lastResult ?? ''})` : '-'}`,
            `reports sent: ${s.reportsSent}, heartbeats: ${s.heartbeatsSent}, pending: ${s.pendingReports}`,
          ].join('\n'),
        );
      });
    });
  workers
    .command('kill')
    .description(
      'kill workers by id or by filter; the sweeper kills the batch job and the worker ends as cancelled',
    )
    .option('--queue <name>', 'PanDA queue (with --id, or as a filter)')
    .option('--id <workerID...>', 'worker ids (needs --queue)')
    .option('--status <status>', 'filter: worker status')
    .option('--instance <id>', 'filter: harvester instance')
    .option(
      '--older-than <minutes>',
      'filter: started more than this many minutes ago',
      positiveInt('--older-than'),
    )
    .requiredOption('--reason <text>', 'why; recorded on each worker')
    .option('--dry-run', 'only print what would be killed')
    .option('--yes', 'do not ask for confirmation')
    .option(
      '--confirm-above <n>',
      'ask before killing more than this many',
      positiveInt('--confirm-above'),
      10,
    )
    .action(
      async (opts: {
        queue?: string;
        id?: string[];
        status?: string;
        instance?: string;
        olderThan?: number;
        reason: string;
        dryRun?: boolean;
        yes?: boolean;
        confirmAbove: number;
      }) => {
        await withClient(async (client, harvesterID) => {
          let ids: string[];
          if (opts.id) {
            if (!opts.queue) throw new CliUsageError('workers kill --id needs --queue');
            ids = opts.id.map((x) => workerWorkflowId(harvesterID, opts.queue!, positiveInt('--id')(x)));
          } else {
            if (!opts.queue && !opts.status && !opts.instance && opts.olderThan === undefined) {
              throw new CliUsageError(
                'workers kill: give --id, or at least one filter (--queue, --status, --instance, --older-than)',
              );
            }
            const query = buildWorkerQuery({ ...opts, olderThanMinutes: opts.olderThan });
            ids = (await listWorkers(client, query, 100000)).map((r) => r.workflowId);
          }
          if (ids.length === 0) {
            console.log('no matching workers');
            return;
          }
          if (opts.dryRun) {
            console.log(`would kill ${ids.length} worker(s):\n${ids.join('\n')}`);
            return;
          }
          if (ids.length > opts.confirmAbove && !opts.yes) {
            if (!process.stdin.isTTY)
              throw new CliUsageError(
                `refusing to kill ${ids.length} workers without --yes (more than --confirm-above ${opts.confirmAbove})`,
              );
            const rl = createInterface({ input: process.stdin, output: process.stdout });
            const answer = await rl.question(`kill ${ids.length} workers? type "yes": `);
            rl.close();
            if (answer.trim() !== 'yes') {
              console.log('nothing killed');
              return;
            }
          }
          let done = 0;
          const failed: string[] = [];
          // Several at a time: the kills reach the lifecycles close together, so the sweeper kills
          // them in a few batch calls (one scancel for many) instead of one call per worker.
          await forEachLimited(ids, KILL_SIGNAL_CONCURRENCY, async (id) => {
            try {
              await client.workflow
                .getHandle(id)
                .signal(killSignal, { reason: opts.reason, source: 'operator' });
            } catch (err) {
              failed.push(`${id}: ${(err as Error).message}`);
            }
            done++;
            if (ids.length > 20 && done % 100 === 0)
              process.stderr.write(`  ${done}/${ids.length} signalled\n`);
          });
          console.log(
            `kill sent to ${ids.length - failed.length} worker(s)${failed.length ? `; failed: ${failed.join('; ')}` : ''}`,
          );
          if (failed.length) process.exitCode = 1;
        });
      },
    );

  const instance = program
    .command('instance')
    .description('the harvester instance workflow (instance-<HARVESTER_ID>): queue set, PanDA commands');
  instance
    .command('start')
    .description(
      'start the instance workflow on the control task queue, as `harvester worker` does; a running one is left alone',
    )
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }) => {
      await withClient(async (client, _harvesterID, settings) => {
        const r = await startInstanceWorkflow(client, settings);
        print(opts.json, r, () =>
          r.started
            ? `started ${r.workflowId} on task queue ${r.taskQueue} (run ${r.runId})`
            : `${r.workflowId} is already running: nothing started`,
        );
      });
    });
  instance
    .command('status')
    .description(
      "the instance workflow's state: active queues of its last sync, PanDA commands applied (a central worker answers), and its task queues: pollers and backlog",
    )
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }) => {
      await withClient(async (client, harvesterID, settings) => {
        const handle = client.workflow.getHandle(instanceWorkflowId(harvesterID));
        const s = await handle.query(instanceStateQuery);
        const runsOn = (await handle.describe()).taskQueue;
        const taskQueues = [
          await taskQueueHealth(
            client,
            settings,
            settings.controlTaskQueue,
            'control: queue and instance workflows',
          ),
          await taskQueueHealth(client, settings, settings.taskQueue, 'main: worker lifecycles'),
        ];
        print(opts.json, { ...s, taskQueue: runsOn, taskQueues }, () =>
          [
            `instance ${harvesterID}: queues ${s.lastSync?.active.join(', ') ?? '-'}; commands applied ${s.commandsApplied}`,
            `  instance workflow on task queue ${runsOn}${runsOn === settings.controlTaskQueue ? '' : ` (moves to ${settings.controlTaskQueue} at the end of its cycle)`}`,
            ...taskQueues.map(
              (t) =>
                `  task queue ${t.name} (${t.role}): ${t.workflowPollers ?? '?'} workflow pollers, backlog ${t.workflowBacklog ?? '?'} workflow tasks`,
            ),
          ].join('\n'),
        );
      });
    });
}
