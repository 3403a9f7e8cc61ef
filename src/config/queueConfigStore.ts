/**
 * The queue configs of this instance, from a panda_queueconfig.json file (reloaded when the file
 * changes, like Harvester's QueueConfigMapper) or from an object given in code (the demo),
 * optionally merged with the instance's queue config fetched from PanDA (Harvester's
 * configFromCacher: the Developer Q&A's "config file downloaded with the identifier when the
 * instance is up"), and filtered by the instance's queueList.
 *
 * The remote document is fetched on start (refresh({force: true})) and then at most every
 * refresh interval; each good copy is kept in the harvester DB (config_cache), so a restart while
 * PanDA is unreachable, or a garbled reply, leaves the last good copy in use and is reported as an
 * error naming the URL. load() stays synchronous: it merges whatever copy is in memory.
 *
 * Every resolved config is stored in the DB under its configID, so workers created with an older
 * config keep monitoring and sweeping with the plugin parameters they were made with.
 */
import { statSync } from 'node:fs';
import {
  applyQueueList,
  loadQueueConfigFile,
  parseLayeredQueueConfig,
  parseQueueConfig,
  queueListIsOpen,
  readQueueConfigDocument,
} from '../core/queueConfig';
import type { ConfigError, QueueConfig, QueueConfigLoadResult } from '../core/queueConfig/types';
import { getCachedDocument, recordCacheError, saveCachedDocument } from '../db/configCache';
import { getConfigDump, saveConfigDump } from '../db/configDumps';
import type { Db } from '../db/pool';
import type { PluginRegistry } from '../plugins/registry';
import { checkQueueConfigDocument, createRemoteDocumentFetcher } from './remoteDocument';

/** config_cache key of the remote queue config (Harvester's cacher key). */
export const QUEUES_CONFIG_CACHE_KEY = 'queues_config_file';

/** After a failed fetch, the next try waits at most this long even with a long refresh interval. */
const RETRY_AFTER_FAILURE_MS = 60_000;

export class QueueConfigError extends Error {
  override name = 'QueueConfigError';
}

export type QueueConfigSource = { file: string } | { inline: Record<string, unknown>; name: string };

/** Where the last good copy of the remote document is kept (the DB's config_cache by default). */
export interface RemoteConfigCache {
  get(): Promise<{ sourceUrl: string; data: unknown; fetchedAt: Date } | null>;
  save(doc: { sourceUrl: string; data: unknown; fetchedAt: Date }): Promise<void>;
  recordError(message: string, at: Date): Promise<void>;
}

export interface RemoteQueueConfigOptions {
  /** http(s): or file: URL of the instance's queue config, ${harvesterID} already filled in. */
  url: string;
  /** Seconds between fetches (Harvester [cacher] refreshInterval: 600). */
  refreshIntervalSeconds: number;
  /** Fetches and JSON-parses the URL; default: createRemoteDocumentFetcher() (no credentials). */
  fetch?: (url: string) => Promise<unknown>;
  /** Default: the harvester DB's config_cache table. */
  cache?: RemoteConfigCache;
}

export interface QueueConfigStoreOptions {
  db: Db;
  harvesterID: string;
  registry?: PluginRegistry;
  /** Harvester [qconf] queueList; default ALL. */
  queueList?: readonly string[];
  remote?: RemoteQueueConfigOptions;
}

export interface RemoteRefreshResult {
  /** off: no remote config; fresh: fetched less than an interval ago; fetched; failed. */
  status: 'off' | 'fresh' | 'fetched' | 'failed';
  url?: string;
  /** When the copy now in use was fetched (undefined = no copy at all). */
  fetchedAt?: string;
  /** Where the copy in use came from in this process: a fetch, or the DB after a failure. */
  copyFrom?: 'fetch' | 'db';
  error?: string;
}

interface RemoteCopy {
  document: Record<string, unknown>;
  fetchedAt: Date;
  from: 'fetch' | 'db';
}

export class QueueConfigStore {
  private loaded?: { result: QueueConfigLoadResult; key: string };
  private readonly saved = new Set<string>();
  private remoteCopy?: RemoteCopy;
  /** Bumped whenever the remote copy or its problem changes, so load() recomputes. */
  private remoteVersion = 0;
  private remoteProblem?: ConfigError;
  private lastAttemptAt = 0;
  private lastSuccessAt = 0;
  private inFlight?: Promise<RemoteRefreshResult>;
  private readonly fetchRemote?: (url: string) => Promise<unknown>;
  private readonly cache?: RemoteConfigCache;

  constructor(
    private readonly source: QueueConfigSource,
    private readonly opts: QueueConfigStoreOptions,
  ) {
    const remote = opts.remote;
    if (remote) {
      this.fetchRemote = remote.fetch ?? createRemoteDocumentFetcher();
      this.cache = remote.cache ?? {
        get: () => getCachedDocument(opts.db, opts.harvesterID, QUEUES_CONFIG_CACHE_KEY),
        save: (doc) => saveCachedDocument(opts.db, opts.harvesterID, QUEUES_CONFIG_CACHE_KEY, doc),
        recordError: (message, at) =>
          recordCacheError(opts.db, opts.harvesterID, QUEUES_CONFIG_CACHE_KEY, message, at),
      };
    }
  }

  /** What messages call the local source. */
  private get localName(): string {
    return 'file' in this.source ? this.source.file : this.source.name;
  }

  /** What messages call all sources together. */
  private get sourceNames(): string {
    return this.opts.remote ? `${this.opts.remote.url} + ${this.localName}` : this.localName;
  }

  /**
   * Fetches the remote queue config when it is due (or at once with force: the start of a
   * process), keeps a good reply in memory and in the DB, and on failure keeps the last good copy
   * (from memory, else from the DB) and records the error. Never throws; concurrent calls share one fetch.
   */
  refresh(opts: { force?: boolean } = {}): Promise<RemoteRefreshResult> {
    const remote = this.opts.remote;
    if (!remote) return Promise.resolve({ status: 'off' });
    const now = Date.now();
    if (!opts.force && !this.inFlight) {
      const intervalMs = remote.refreshIntervalSeconds * 1000;
      const fresh = this.lastSuccessAt > 0 && now - this.lastSuccessAt < intervalMs;
      const waiting =
        this.lastAttemptAt > this.lastSuccessAt &&
        now - this.lastAttemptAt < Math.min(intervalMs, RETRY_AFTER_FAILURE_MS);
      if (fresh || waiting) return Promise.resolve(this.remoteResult(fresh ? 'fresh' : 'failed'));
    }
    this.inFlight ??= this.fetchNow(remote).finally(() => {
      this.inFlight = undefined;
    });
    return this.inFlight;
  }

  private remoteResult(status: RemoteRefreshResult['status']): RemoteRefreshResult {
    return {
      status,
      url: this.opts.remote?.url,
      fetchedAt: this.remoteCopy?.fetchedAt.toISOString(),
      copyFrom: this.remoteCopy?.from,
      error: this.remoteProblem?.message,
    };
  }

  private async fetchNow(remote: RemoteQueueConfigOptions): Promise<RemoteRefreshResult> {
    const started = new Date();
    this.lastAttemptAt = started.getTime();
    let document: Record<string, unknown>;
    try {
      document = checkQueueConfigDocument(remote.url, await this.fetchRemote!(remote.url));
    } catch (err) {
      return this.fetchFailed(remote, (err as Error).message, started);
    }
    this.lastSuccessAt = started.getTime();
    this.remoteCopy = { document, fetchedAt: started, from: 'fetch' };
    this.remoteProblem = undefined;
    this.remoteVersion++;
    try {
      await this.cache!.save({ sourceUrl: remote.url, data: document, fetchedAt: started });
    } catch (err) {
      // The copy is in use anyway; only the fallback for a later restart is missing.
      this.setProblem(
        remote.url,
        `fetched, but the copy could not be kept in the harvester DB (a restart while PanDA is unreachable would not find it): ${(err as Error).message}`,
      );
    }
    return this.remoteResult('fetched');
  }

  private async fetchFailed(
    remote: RemoteQueueConfigOptions,
    reason: string,
    at: Date,
  ): Promise<RemoteRefreshResult> {
    let fallback = '';
    try {
      await this.cache!.recordError(reason, at);
      if (!this.remoteCopy) {
        const stored = await this.cache!.get();
        if (stored && stored.sourceUrl === remote.url) {
          this.remoteCopy = {
            document: checkQueueConfigDocument(`${remote.url} (copy in the harvester DB)`, stored.data),
            fetchedAt: stored.fetchedAt,
            from: 'db',
          };
        } else if (stored) {
          fallback = `; the copy in the harvester DB is of another URL (${stored.sourceUrl}), not used`;
        }
      }
    } catch (err) {
      fallback = `; the harvester DB copy could not be read: ${(err as Error).message}`;
    }
    const keeping = this.remoteCopy
      ? `keeping the last good copy, fetched at ${this.remoteCopy.fetchedAt.toISOString()}`
      : `no earlier copy, so only the local queue config is served${fallback}`;
    this.setProblem(remote.url, `${reason} (${keeping})`);
    return this.remoteResult('failed');
  }

  private setProblem(url: string, message: string): void {
    this.remoteProblem = {
      severity: 'error',
      file: url,
      queue: null,
      field: '',
      value: undefined,
      expected: 'a JSON object mapping queue names to queue entries',
      message: `remote queue config ${message}`,
    };
    this.remoteVersion++;
  }

  private options() {
    const registry = this.opts.registry;
    return {
      harvesterID: this.opts.harvesterID,
      isKnownPlugin: registry
        ? (kind: Parameters<PluginRegistry['has']>[0], module: string, name: string) =>
            registry.has(kind, module, name)
        : undefined,
    };
  }

  /**
   * The current load result: the local config merged with the remote copy in memory, filtered
   * by queueList; recomputed when the file's mtime or the remote copy changed.
   */
  load(): QueueConfigLoadResult {
    let mtimeMs = 0;
    if ('file' in this.source) {
      mtimeMs = -1;
      try {
        mtimeMs = statSync(this.source.file).mtimeMs;
      } catch {
        // The read below reports the unreadable file as an error naming it.
      }
    }
    const key = `${mtimeMs}:${this.remoteVersion}`;
    if (!this.loaded || this.loaded.key !== key) this.loaded = { result: this.compute(), key };
    return this.loaded.result;
  }

  private compute(): QueueConfigLoadResult {
    let result: QueueConfigLoadResult;
    if (!this.opts.remote) {
      result =
        'file' in this.source
          ? loadQueueConfigFile(this.source.file, this.options())
          : parseQueueConfig(this.source.inline, this.source.name, this.options());
    } else {
      let localDoc: Record<string, unknown> = {};
      let localErrors: ConfigError[] = [];
      if ('file' in this.source) {
        const read = readQueueConfigDocument(this.source.file);
        localDoc = read.document ?? {};
        localErrors = read.errors;
      } else {
        localDoc = this.source.inline;
      }
      result = parseLayeredQueueConfig(
        this.remoteCopy ? { name: this.opts.remote.url, document: this.remoteCopy.document } : undefined,
        { name: this.localName, document: localDoc },
        this.options(),
      );
      const remoteErrors = this.remoteProblem ? [this.remoteProblem] : [];
      result = { ...result, errors: [...remoteErrors, ...localErrors, ...result.errors] };
    }
    const queueList = this.opts.queueList ?? [];
    return queueListIsOpen(queueList) ? result : applyQueueList(result, queueList);
  }

  /** The queue's current config; throws naming the source and listing the errors if it is not there. */
  queue(queueName: string): QueueConfig {
    const result = this.load();
    const q = result.queues.find((x) => x.queueName === queueName);
    if (q) return q;
    const errors = result.errors
      .filter((e) => e.queue === queueName || e.queue === null)
      .map((e) => e.message);
    throw new QueueConfigError(
      `queue ${queueName} has no valid config in ${this.sourceNames}${errors.length ? `: ${errors.join('; ')}` : ''}`,
    );
  }

  /** Stores the config under its id (once per process). */
  async register(q: QueueConfig): Promise<void> {
    if (this.saved.has(q.configID)) return;
    await saveConfigDump(this.opts.db, q.configID, q.queueName, q as unknown as Record<string, unknown>);
    this.saved.add(q.configID);
  }

  /** The config a worker was created with: the current one if it still matches, else the stored dump. */
  async byConfigID(queueName: string, configID: string): Promise<QueueConfig> {
    const current = this.load().queues.find((x) => x.queueName === queueName);
    if (current?.configID === configID) return current;
    const dump = await getConfigDump(this.opts.db, configID);
    if (!dump)
      throw new QueueConfigError(`config ${configID} of queue ${queueName} is not in the harvester DB`);
    return dump.data as unknown as QueueConfig;
  }
}
