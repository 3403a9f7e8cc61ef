/**
 * The sweeper's kill calls, as the batch system would see them: every `killWorkers` call of a
 * sweeper plugin built in this process is appended to a JSON-lines file (when it started, when it
 * ended, the queue and the worker ids), so a bench can count calls per KILL_WORKERS and time each
 * kill from its signal to the batch call that carried it. Installed on PluginRegistry.prototype,
 * which every registry of the process shares; bench/support/scaleProcess.ts installs it in the
 * harvester processes it starts.
 */
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { PluginRegistry } from '../../src/plugins/registry';
import type { PluginContext, PluginKind, PluginKinds, PluginParams, Sweeper } from '../../src/plugins/types';

export interface KillCall {
  startMs: number;
  endMs: number;
  queueName: string;
  workerIDs: number[];
  pid: number;
}

export function recordKillCalls(file: string): void {
  const proto = PluginRegistry.prototype;
  const original = proto.create;
  function create<K extends PluginKind>(
    this: PluginRegistry,
    kind: K,
    params: PluginParams,
    ctx: PluginContext,
  ): PluginKinds[K] {
    const plugin = original.call(this, kind, params, ctx) as PluginKinds[K];
    if (kind !== 'sweeper') return plugin;
    // Wrapped in place: whatever else the sweeper offers stays as it is.
    const sweeper = plugin as Sweeper;
    const kill = sweeper.killWorkers.bind(sweeper);
    sweeper.killWorkers = async (workers) => {
      const startMs = Date.now();
      try {
        return await kill(workers);
      } finally {
        const call: KillCall = {
          startMs,
          endMs: Date.now(),
          queueName: ctx.queueName,
          workerIDs: workers.map((w) => w.workerID),
          pid: process.pid,
        };
        appendFileSync(file, `${JSON.stringify(call)}\n`);
      }
    };
    return plugin;
  }
  proto.create = create;
}

/** The calls recorded so far (a line being written is left for the next read). */
export function readKillCalls(files: readonly string[]): KillCall[] {
  const calls: KillCall[] = [];
  for (const file of files) {
    if (!existsSync(file)) continue;
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      if (!line.trim()) continue;
      try {
        calls.push(JSON.parse(line) as KillCall);
      } catch {
        // A line cut by a concurrent append: complete on the next read.
      }
    }
  }
  return calls.sort((a, b) => a.startMs - b.startMs);
}
