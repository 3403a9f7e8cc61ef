/**
 * The queue configs of this instance, from a panda_queueconfig.json file (reloaded when the file
 * changes, like Harvester's QueueConfigMapper) or from an object given in code (the demo).
 * Every resolved config is stored in the DB under its configID, so workers created with an older
 * config keep monitoring and sweeping with the plugin parameters they were made with.
 */
import { statSync } from 'node:fs';
import { loadQueueConfigFile, parseQueueConfig } from '../core/queueConfig';
import type { QueueConfig, QueueConfigLoadResult } from '../core/queueConfig/types';
import { getConfigDump, saveConfigDump } from '../db/configDumps';
import type { Db } from '../db/pool';
import type { PluginRegistry } from '../plugins/registry';

export class QueueConfigError extends Error {
  override name = 'QueueConfigError';
}

export type QueueConfigSource = { file: string } | { inline: Record<string, unknown>; name: string };

export class QueueConfigStore {
  private loaded?: { result: QueueConfigLoadResult; mtimeMs: number };
  private readonly saved = new Set<string>();

  constructor(
    private readonly source: QueueConfigSource,
    private readonly opts: { db: Db; harvesterID: string; registry?: PluginRegistry },
  ) {}

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

  /** The current load result; re-read when the file's mtime changed. */
  load(): QueueConfigLoadResult {
    if ('inline' in this.source) {
      this.loaded ??= {
        result: parseQueueConfig(this.source.inline, this.source.name, this.options()),
        mtimeMs: 0,
      };
      return this.loaded.result;
    }
    let mtimeMs = -1;
    try {
      mtimeMs = statSync(this.source.file).mtimeMs;
    } catch {
      // loadQueueConfigFile reports the unreadable file as an error naming it.
    }
    if (!this.loaded || this.loaded.mtimeMs !== mtimeMs) {
      this.loaded = { result: loadQueueConfigFile(this.source.file, this.options()), mtimeMs };
    }
    return this.loaded.result;
  }

  /** The queue's current config; throws naming the source and listing the errors if it is not there. */
  queue(queueName: string): QueueConfig {
    const result = this.load();
    const q = result.queues.find((x) => x.queueName === queueName);
    if (q) return q;
    const errors = result.errors
      .filter((e) => e.queue === queueName || e.queue === null)
      .map((e) => e.message);
    const where = 'file' in this.source ? this.source.file : this.source.name;
    throw new QueueConfigError(
      `queue ${queueName} has no valid config in ${where}${errors.length ? `: ${errors.join('; ')}` : ''}`,
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
