/**
 * Instance settings from the environment. The Temporal connection uses the same TEMPORAL_*
 * variables as the `temporal` CLI, so one shell environment serves both.
 */
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { parseQueueList, QUEUE_LIST_ALL } from '../core/queueConfig/queueList';
import { controlTaskQueueOf, isControlTaskQueueName } from '../core/taskQueues';
import type { AdjusterSettings } from '../core/workerAdjusterTypes';

export interface TemporalSettings {
  address: string;
  namespace: string;
  /** TLS material paths (TEMPORAL_TLS_CLIENT_CERT_PATH etc.); absent = plaintext, as the dev server needs. */
  tls?: { clientCertPath?: string; clientKeyPath?: string; serverCaCertPath?: string; serverName?: string };
  apiKey?: string;
}

export interface HarvesterSettings {
  harvesterID: string;
  /** Main task queue of the central process: the worker lifecycles and their activities. */
  taskQueue: string;
  /**
   * The queue and instance workflows' task queue, served by the central process's control worker:
   * always controlTaskQueueOf(taskQueue) (core/taskQueues says why it has no variable of its own).
   */
  controlTaskQueue: string;
  /** Unset = start the embedded PostgreSQL under dataDir. */
  databaseUrl?: string;
  dataDir: string;
  /**
   * True when HARVESTER_DATA_DIR names the data folder. As root, the embedded PostgreSQL keeps the
   * default folder's cluster under /var/lib/temporal-harvester when the `postgres` user cannot
   * reach it, but refuses (with the reason) for a folder the operator chose.
   */
  dataDirExplicit: boolean;
  embeddedPostgresPort: number;
  queueConfigFile?: string;
  /** Harvester [qconf] queueList: queue names, or ALL / DYNAMIC (HARVESTER_QUEUE_LIST; default ALL). */
  queueList: string[];
  /**
   * Harvester [qconf] configFromCacher with the cacher's `queues_config_file` line: the instance's
   * queue config fetched from PanDA and merged under the local file. undefined = local file only.
   */
  remoteQueueConfig?: RemoteQueueConfigSettings;
  temporal: TemporalSettings;
  logLevel: string;
  /** Port of the Prometheus /metrics endpoint; undefined = no endpoint. */
  metricsPort?: number;
  /** Central PostgreSQL the workers/jobs tables are mirrored to for monitoring; undefined = no export. */
  monitorDatabaseUrl?: string;
  /** Harvester's instance-wide [submitter] settings for the worker adjuster. */
  adjuster: AdjusterSettings;
}

export interface RemoteQueueConfigSettings {
  /** http(s): or file: URL, `${harvesterID}` already substituted (HARVESTER_QUEUE_CONFIG_URL). */
  url: string;
  /** Seconds between fetches (Harvester [cacher] refreshInterval 10 min; HARVESTER_QUEUE_CONFIG_REFRESH_SECONDS). */
  refreshIntervalSeconds: number;
}

export class SettingsError extends Error {
  override name = 'SettingsError';
}

function intFromEnv(
  env: NodeJS.ProcessEnv,
  name: string,
  fallback: number,
  min: number,
  max: number,
): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new SettingsError(
      `environment variable ${name}=${JSON.stringify(raw)}: expected an integer in [${min}, ${max}]`,
    );
  }
  return n;
}

/** HARVESTER_MONITOR_DATABASE_URL; unset or empty = monitoring export off. */
export function monitorDatabaseUrlFromEnv(env: NodeJS.ProcessEnv = process.env): string | undefined {
  return env.HARVESTER_MONITOR_DATABASE_URL || undefined;
}

/** HARVESTER_QUEUE_CONFIG_URL with `${harvesterID}` filled in; only http:, https: and file: URLs. */
function remoteQueueConfigFromEnv(
  env: NodeJS.ProcessEnv,
  harvesterID: string,
): RemoteQueueConfigSettings | undefined {
  const raw = env.HARVESTER_QUEUE_CONFIG_URL;
  if (!raw) return undefined;
  // biome-ignore lint/suspicious/noTemplateCurlyInString: Harvester's placeholder, meant literally
  const url = raw.split('${harvesterID}').join(harvesterID);
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new SettingsError(
      `environment variable HARVESTER_QUEUE_CONFIG_URL=${JSON.stringify(raw)}: expected an http(s): or file: URL`,
    );
  }
  if (!['http:', 'https:', 'file:'].includes(parsed.protocol)) {
    throw new SettingsError(
      `environment variable HARVESTER_QUEUE_CONFIG_URL=${JSON.stringify(raw)}: expected an http(s): or file: URL, got ${parsed.protocol}`,
    );
  }
  return {
    url,
    refreshIntervalSeconds: intFromEnv(env, 'HARVESTER_QUEUE_CONFIG_REFRESH_SECONDS', 600, 1, 86400),
  };
}

/**
 * Harvester's [submitter] maxNewWorkers, activateWorkerFactor and noPilotsWhenNoActiveJobs
 * (HARVESTER_MAX_NEW_WORKERS, HARVESTER_ACTIVATE_WORKER_FACTOR, HARVESTER_NO_PILOTS_WHEN_NO_ACTIVE_JOBS),
 * with Harvester's defaults 1000, 1.0 and false.
 */
export function adjusterSettingsFromEnv(env: NodeJS.ProcessEnv = process.env): AdjusterSettings {
  const factorRaw = env.HARVESTER_ACTIVATE_WORKER_FACTOR;
  let activateWorkerFactor: number | 'auto' = 1.0;
  if (factorRaw !== undefined && factorRaw !== '') {
    const n = Number(factorRaw);
    if (factorRaw === 'auto') activateWorkerFactor = 'auto';
    else if (Number.isFinite(n) && n > 0) activateWorkerFactor = n;
    else
      throw new SettingsError(
        `environment variable HARVESTER_ACTIVATE_WORKER_FACTOR=${JSON.stringify(factorRaw)}: expected a number > 0 or auto`,
      );
  }
  const noPilotsRaw = env.HARVESTER_NO_PILOTS_WHEN_NO_ACTIVE_JOBS;
  if (noPilotsRaw !== undefined && !['', 'true', 'false'].includes(noPilotsRaw)) {
    throw new SettingsError(
      `environment variable HARVESTER_NO_PILOTS_WHEN_NO_ACTIVE_JOBS=${JSON.stringify(noPilotsRaw)}: expected true or false`,
    );
  }
  return {
    maxNewWorkers: intFromEnv(env, 'HARVESTER_MAX_NEW_WORKERS', 1000, 0, 1_000_000),
    activateWorkerFactor,
    noPilotsWhenNoActiveJobs: noPilotsRaw === 'true',
  };
}

export function loadSettings(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): HarvesterSettings {
  const address = env.TEMPORAL_ADDRESS || '127.0.0.1:7233';
  if (!/^[^\s:/]+:\d{1,5}$/.test(address) && !/^\[[0-9a-fA-F:]+\]:\d{1,5}$/.test(address)) {
    throw new SettingsError(
      `environment variable TEMPORAL_ADDRESS=${JSON.stringify(address)}: expected host:port`,
    );
  }
  const tlsEnabled =
    env.TEMPORAL_TLS === 'true' ||
    Boolean(
      env.TEMPORAL_TLS_CLIENT_CERT_PATH || env.TEMPORAL_TLS_SERVER_CA_CERT_PATH || env.TEMPORAL_API_KEY,
    );
  const harvesterID = env.HARVESTER_ID || `harvester-${hostname().split('.')[0]}`;
  if (!/^[A-Za-z0-9._-]{1,64}$/.test(harvesterID)) {
    throw new SettingsError(
      `environment variable HARVESTER_ID=${JSON.stringify(harvesterID)}: expected 1-64 letters, digits, '.', '_' or '-'`,
    );
  }
  const taskQueue = env.HARVESTER_TASK_QUEUE || 'harvester-central';
  if (isControlTaskQueueName(taskQueue)) {
    throw new SettingsError(
      `environment variable HARVESTER_TASK_QUEUE=${JSON.stringify(taskQueue)}: must not end in "${controlTaskQueueOf('')}", which names the control task queue derived from it`,
    );
  }
  return {
    harvesterID,
    taskQueue,
    controlTaskQueue: controlTaskQueueOf(taskQueue),
    databaseUrl: env.HARVESTER_DATABASE_URL || undefined,
    dataDir: resolve(cwd, env.HARVESTER_DATA_DIR || '.data'),
    dataDirExplicit: Boolean(env.HARVESTER_DATA_DIR),
    embeddedPostgresPort: intFromEnv(env, 'HARVESTER_EMBEDDED_PG_PORT', 5433, 1, 65535),
    queueConfigFile: env.HARVESTER_QUEUE_CONFIG || undefined,
    queueList: env.HARVESTER_QUEUE_LIST ? parseQueueList(env.HARVESTER_QUEUE_LIST) : [QUEUE_LIST_ALL],
    remoteQueueConfig: remoteQueueConfigFromEnv(env, harvesterID),
    logLevel: env.HARVESTER_LOG_LEVEL || 'info',
    metricsPort: env.HARVESTER_METRICS_PORT
      ? intFromEnv(env, 'HARVESTER_METRICS_PORT', 0, 1, 65535)
      : undefined,
    monitorDatabaseUrl: monitorDatabaseUrlFromEnv(env),
    adjuster: adjusterSettingsFromEnv(env),
    temporal: {
      address,
      namespace: env.TEMPORAL_NAMESPACE || 'default',
      apiKey: env.TEMPORAL_API_KEY || undefined,
      tls: tlsEnabled
        ? {
            clientCertPath: env.TEMPORAL_TLS_CLIENT_CERT_PATH || undefined,
            clientKeyPath: env.TEMPORAL_TLS_CLIENT_KEY_PATH || undefined,
            serverCaCertPath: env.TEMPORAL_TLS_SERVER_CA_CERT_PATH || undefined,
            serverName: env.TEMPORAL_TLS_SERVER_NAME || undefined,
          }
        : undefined,
    },
  };
}
