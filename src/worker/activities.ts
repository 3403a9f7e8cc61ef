/**
 * Wires every activity the central worker registers from its dependencies. The edge worker
 * registers only the plugin activities (createPluginActivities) on its own task queue.
 */
import { join } from 'node:path';
import type { Client } from '@temporalio/client';
import { createCentralActivities } from '../activities/central';
import { createInstanceCentralActivities } from '../activities/instanceCentral';
import { createLifecycleCentralActivities } from '../activities/lifecycleCentral';
import { createPluginActivities } from '../activities/plugin';
import { createQueueCentralActivities } from '../activities/queueCentral';
import type { QueueConfigStore } from '../config/queueConfigStore';
import { monitorDatabaseUrlFromEnv } from '../config/settings';
import type { AdjusterSettings } from '../core/workerAdjusterTypes';
import type { Db } from '../db/pool';
import type { Logger } from '../observability/logger';
import type { PandaCommunicator } from '../panda/client';
import type { PluginRegistry } from '../plugins/registry';
import { CENTRAL_WORKER_SLOTS } from './centralWorker';

export interface CentralDependencies {
  db: Db;
  client: Client;
  log: Logger;
  harvesterID: string;
  /** Main task queue: the lifecycles the queue workflows start run there. */
  centralTaskQueue: string;
  /** Control task queue (core/taskQueues): the queue workflows the instance starts run there. */
  controlTaskQueue: string;
  configs: QueueConfigStore;
  registry: PluginRegistry;
  panda?: PandaCommunicator;
  /** Register the plugin activities here too (queues whose config names no edge task queue). Default true. */
  withPluginActivities?: boolean;
  reportBatchWindowMs?: number;
  /**
   * Central monitoring DB (settings.monitorDatabaseUrl). Undefined = HARVESTER_MONITOR_DATABASE_URL,
   * so callers written before the export existed still honour the setting; null = export off.
   */
  monitorDatabaseUrl?: string | null;
  /** Data dir whose disk space goes into the service metrics (settings.dataDir). */
  dataDir?: string;
  /** Instance-wide [submitter] settings (settings.adjuster); Harvester's defaults when unset. */
  adjusterSettings?: Partial<AdjusterSettings>;
}

export function createAllCentralActivities(d: CentralDependencies) {
  return {
    ...createCentralActivities({ db: d.db, log: d.log, harvesterID: d.harvesterID }),
    ...createLifecycleCentralActivities({
      db: d.db,
      harvesterID: d.harvesterID,
      panda: d.panda,
      reportBatchWindowMs: d.reportBatchWindowMs,
    }),
    ...createQueueCentralActivities({
      db: d.db,
      client: d.client,
      harvesterID: d.harvesterID,
      centralTaskQueue: d.centralTaskQueue,
      configs: d.configs,
      panda: d.panda,
      registry: d.registry,
      adjusterSettings: d.adjusterSettings,
    }),
    ...createInstanceCentralActivities({
      db: d.db,
      client: d.client,
      harvesterID: d.harvesterID,
      controlTaskQueue: d.controlTaskQueue,
      configs: d.configs,
      panda: d.panda,
      monitorDatabaseUrl:
        d.monitorDatabaseUrl === undefined
          ? monitorDatabaseUrlFromEnv()
          : (d.monitorDatabaseUrl ?? undefined),
      dataDir: d.dataDir ?? (process.env.HARVESTER_DATA_DIR || '.data'),
    }),
    ...(d.withPluginActivities === false
      ? {}
      : createPluginActivities({
          registry: d.registry,
          mirrorDir: join(d.dataDir ?? (process.env.HARVESTER_DATA_DIR || '.data'), 'edge-monitor'),
          activitySlots: CENTRAL_WORKER_SLOTS.maxConcurrentActivityTaskExecutions,
        })),
  };
}
