/**
 * Assembles and runs a central harvester process: database (migrated), Temporal connections,
 * plugin registry, queue configs, PanDA communicator, the two central workers (main task queue:
 * lifecycles; control task queue: queue and instance workflows, see core/taskQueues), and
 * (optionally) the instance workflow that starts the queue workflows.
 */
import { readFileSync } from 'node:fs';
import { type Client, WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import type { Worker } from '@temporalio/worker';
import { type QueueConfigSource, QueueConfigStore } from '../config/queueConfigStore';
import { createRemoteDocumentFetcher } from '../config/remoteDocument';
import type { HarvesterSettings } from '../config/settings';
import { HarvesterInstance } from '../core/searchAttributes';
import { openHarvesterDatabase } from '../db/bootstrap';
import type { Logger } from '../observability/logger';
import { installTemporalLogging } from '../observability/temporalLogging';
import type { AuthOptions, PandaCommunicator } from '../panda';
import { createPluginRegistry } from '../plugins';
import { connectClient, connectWorkerConnection } from '../temporal/connection';
import { createAllCentralActivities } from '../worker/activities';
import { createCentralWorker, createControlWorker } from '../worker/centralWorker';
import {
  type InstanceWorkflowInput,
  instanceWorkflowId,
  reloadQueuesSignal,
} from '../workflows/instanceMessages';

export interface CentralProcessOptions {
  settings: HarvesterSettings;
  log: Logger;
  queueSource: QueueConfigSource;
  panda?: PandaCommunicator;
  /** Start (or find) the instance workflow, which starts the queue workflows. */
  startInstance: boolean;
  queueSyncIntervalSeconds?: number;
  /** Credentials for an https: remote queue config (the PanDA client's: HARVESTER_PANDA_*). */
  remoteQueueConfigAuth?: AuthOptions;
}

export interface CentralProcess {
  /** The main worker, on settings.taskQueue: the lifecycles. */
  worker: Worker;
  /** The control worker, on settings.controlTaskQueue: the queue and instance workflows. */
  controlWorker: Worker;
  /** Resolves when both workers have stopped. */
  done: Promise<void>;
  /** Where the harvester DB lives, for the start banner (URL host or embedded folder). */
  databaseWhere: string;
  stop(): Promise<void>;
}

export interface InstanceWorkflowStart {
  workflowId: string;
  /** False: it was already running (nothing was started). */
  started: boolean;
  /** The run started now; undefined when it was already running. */
  runId?: string;
  taskQueue: string;
}

/**
 * Starts the instance workflow `instance-<harvesterID>` on the control task queue, or finds it
 * running (a run found on the main task queue moves to the control queue by itself). The central process (`harvester worker`, `start`) and `harvester instance
 * start` use this one function, so both start it with the same input.
 */
export async function startInstanceWorkflow(
  client: Client,
  settings: Pick<HarvesterSettings, 'harvesterID' | 'controlTaskQueue'>,
  opts: { queueSyncIntervalSeconds?: number } = {},
): Promise<InstanceWorkflowStart> {
  const workflowId = instanceWorkflowId(settings.harvesterID);
  const input: InstanceWorkflowInput = {
    harvesterID: settings.harvesterID,
    queueSyncIntervalSeconds: opts.queueSyncIntervalSeconds ?? 600,
    commandIntervalSeconds: 30,
    pandaHeartbeatIntervalSeconds: 600,
    controlTaskQueue: settings.controlTaskQueue,
  };
  const taskQueue = settings.controlTaskQueue;
  try {
    const handle = await client.workflow.start('instanceWorkflow', {
      taskQueue,
      workflowId,
      args: [input],
      typedSearchAttributes: [{ key: HarvesterInstance, value: settings.harvesterID }],
      staticSummary: `harvester instance ${settings.harvesterID}`,
    });
    return { workflowId, started: true, runId: handle.firstExecutionRunId, taskQueue };
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) return { workflowId, started: false, taskQueue };
    throw err;
  }
}

export async function startCentralProcess(o: CentralProcessOptions): Promise<CentralProcess> {
  const { settings, log } = o;
  installTemporalLogging(log, { metricsPort: settings.metricsPort });
  const database = await openHarvesterDatabase(settings, log);
  let refreshTimer: NodeJS.Timeout | undefined;
  try {
    const connection = await connectWorkerConnection(settings.temporal);
    const client = await connectClient(settings.temporal);
    const registry = createPluginRegistry();
    const remote = settings.remoteQueueConfig;
    const configs = new QueueConfigStore(o.queueSource, {
      db: database.db,
      harvesterID: settings.harvesterID,
      registry,
      queueList: settings.queueList,
      remote: remote && {
        ...remote,
        fetch: createRemoteDocumentFetcher({ auth: o.remoteQueueConfigAuth }),
      },
    });
    if (settings.queueList.includes('DYNAMIC')) {
      log.warn(
        { queueList: settings.queueList },
        'queueList DYNAMIC: queues assigned by CRIC are not resolved here; it serves every local and remote queue, like ALL',
      );
    }
    if (remote) {
      // Harvester downloads the instance's config when it comes up: a restart picks up changes.
      // A failure is logged with the other load errors below.
      const r = await configs.refresh({ force: true });
      if (r.status === 'fetched') log.info({ url: r.url }, 'remote queue config fetched');
    }
    // Processes that do not run the instance's queue sync still follow the remote config.
    refreshTimer = remote
      ? setInterval(() => {
          configs.refresh().then(
            (r) => {
              if (r.status === 'failed' && r.error) log.warn({ url: r.url }, r.error);
            },
            () => {},
          );
        }, Math.min(remote.refreshIntervalSeconds, 60) * 1000).unref()
      : undefined;
    const loaded = configs.load();
    for (const e of loaded.errors) log.error({ file: e.file, queue: e.queue, field: e.field }, e.message);
    log.info(
      { queues: loaded.queues.map((q) => `${q.queueName}${q.active ? '' : ' (inactive)'}`) },
      'queue config loaded',
    );
    const activities = createAllCentralActivities({
      db: database.db,
      client,
      log,
      harvesterID: settings.harvesterID,
      centralTaskQueue: settings.taskQueue,
      controlTaskQueue: settings.controlTaskQueue,
      configs,
      registry,
      panda: o.panda,
      monitorDatabaseUrl: settings.monitorDatabaseUrl ?? null,
      dataDir: settings.dataDir,
      adjusterSettings: settings.adjuster,
    });
    const bundlePath = process.env.HARVESTER_WORKFLOW_BUNDLE;
    const workflowBundle = bundlePath ? { code: readFileSync(bundlePath, 'utf8') } : undefined;
    const namespace = settings.temporal.namespace;
    const worker = await createCentralWorker({
      connection,
      namespace,
      taskQueue: settings.taskQueue,
      activities,
      workflowBundle,
    });
    const controlWorker = await createControlWorker({
      connection,
      namespace,
      taskQueue: settings.controlTaskQueue,
      activities,
      workflowBundle,
    });
    // Either worker failing stops the other: a process serving only half of the task queues would
    // look alive while its queues (or its lifecycles) stand still.
    const runs = [worker, controlWorker].map((w) =>
      w.run().catch((err: Error) => {
        for (const other of [worker, controlWorker]) if (other.getState() === 'RUNNING') other.shutdown();
        throw err;
      }),
    );
    // Settles once both have stopped (stop() closes the connections after it), with the first error.
    const done = Promise.allSettled(runs).then((results) => {
      for (const r of results) if (r.status === 'rejected') throw r.reason;
    });
    log.info(
      { taskQueue: settings.taskQueue, controlTaskQueue: settings.controlTaskQueue, namespace },
      'central workers running',
    );
    if (o.startInstance) {
      const instance = await startInstanceWorkflow(client, settings, {
        queueSyncIntervalSeconds: o.queueSyncIntervalSeconds,
      });
      if (instance.started) {
        log.info({ workflowId: instance.workflowId }, 'instance workflow started');
      } else {
        // A restart finds its instance running and resumes serving it; the queue set is synced
        // now rather than at the next interval, so a changed config takes effect with the restart.
        await client.workflow
          .getHandle(instance.workflowId)
          .signal(reloadQueuesSignal)
          .catch((e: Error) =>
            log.warn({ err: e.message }, 'could not ask the instance to reload its queues'),
          );
        log.info({ workflowId: instance.workflowId }, 'instance workflow already running');
      }
    }
    return {
      worker,
      controlWorker,
      done,
      databaseWhere: database.embeddedPgDir
        ? `embedded PostgreSQL in ${database.embeddedPgDir}${database.embeddedLinkedFrom ? ` (linked from ${database.embeddedLinkedFrom}: as root, the 'postgres' user cannot reach the data folder)` : ''}`
        : 'HARVESTER_DATABASE_URL',
      async stop() {
        clearInterval(refreshTimer);
        // Both drain together, each within its shutdownGraceTime.
        for (const w of [controlWorker, worker]) if (w.getState() === 'RUNNING') w.shutdown();
        await done.catch((err: Error) => log.error({ err: err.message }, 'worker stopped with an error'));
        await client.connection.close();
        await connection.close();
        await database.close();
      },
    };
  } catch (err) {
    clearInterval(refreshTimer);
    await database.close();
    throw err;
  }
}
