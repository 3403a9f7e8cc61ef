/**
 * HTCondorMonitor: per schedd, ONE condor_q for all its workers' job ids and ONE condor_history
 * for the ids condor_q no longer shows; then the pure mapping of parse.ts per worker. Held jobs
 * that will never run are removed with one condor_rm per schedd.
 *
 * Unlike Harvester's, a failed condor_q is `{ok: false}` (Harvester turned it into "every worker
 * unknown", which looks like nothing happened).
 */
import { hostname } from 'node:os';
import type { WorkSpec } from '../../core/specs';
import { errorText } from '../common/files';
import { booleanParam, numberParam } from '../common/params';
import { type CommandRunner, runCommand } from '../exec';
import type {
  CheckResult,
  CheckWorkersReply,
  Monitor,
  PluginContext,
  PluginParams,
  PluginResult,
} from '../types';
import { adBatchId, condorJobId, type JobAd, keepFinal, MONITOR_ATTRIBUTES, mapCondorJob } from './parse';
import { condorQuery } from './query';
import { scheddArgs } from './schedd';
import type { CondorDeps } from './submitter';
import { condorRm } from './sweeper';

const PLUGIN = 'HTCondorMonitor';

export interface HTCondorMonitorOptions {
  heldTimeout: number;
  cancelUnknown: boolean;
  commandTimeoutMs: number;
}

export function htcondorMonitorOptions(params: PluginParams): HTCondorMonitorOptions {
  return {
    heldTimeout: numberParam(params, PLUGIN, 'heldTimeout', 3600),
    cancelUnknown: booleanParam(params, PLUGIN, 'cancelUnknown', false),
    commandTimeoutMs: numberParam(params, PLUGIN, 'commandTimeout', 120) * 1000,
  };
}

export class HTCondorMonitor implements Monitor {
  private readonly run: CommandRunner;
  private readonly localName: string;

  constructor(
    readonly options: HTCondorMonitorOptions,
    private readonly ctx: PluginContext,
    deps: CondorDeps = {},
  ) {
    this.run = deps.run ?? runCommand;
    this.localName = deps.localName ?? hostname();
  }

  private async query(
    tool: 'condor_q' | 'condor_history',
    host: string | undefined,
    ids: string[],
  ): Promise<Map<string, JobAd>> {
    const args = [
      ...scheddArgs(host, this.localName),
      '-json',
      '-attributes',
      MONITOR_ATTRIBUTES.join(','),
      ...ids,
    ];
    const out = new Map<string, JobAd>();
    for (const ad of await condorQuery(this.run, tool, args, this.options.commandTimeoutMs))
      out.set(adBatchId(ad), ad);
    return out;
  }

  async checkWorkers(workers: WorkSpec[]): Promise<CheckWorkersReply> {
    // The job id each worker's batchID stands for (a bare cluster id is proc 0, as in Harvester).
    const jobIds: Array<string | undefined> = [];
    const badIds = new Map<number, string>();
    for (const [i, w] of workers.entries()) {
      try {
        jobIds.push(w.batchID ? condorJobId(w.batchID) : undefined);
      } catch (err) {
        jobIds.push(undefined);
        badIds.set(i, errorText(err));
      }
    }
    const byHost = new Map<string, string[]>();
    for (const [i, w] of workers.entries()) {
      const id = jobIds[i];
      if (!id) continue;
      const key = w.submissionHost ?? '';
      byHost.set(key, [...(byHost.get(key) ?? []), id]);
    }
    const ads = new Map<string, JobAd>(); // key: submissionHost + job id
    const adKey = (host: string, id: string) => `${host}\u0000${id}`;
    for (const [host, list] of byHost) {
      const ids = [...new Set(list)];
      try {
        const live = await this.query('condor_q', host || undefined, ids);
        const gone = ids.filter((id) => !live.has(id));
        const past =
          gone.length > 0
            ? await this.query('condor_history', host || undefined, gone)
            : new Map<string, JobAd>();
        for (const [id, ad] of [...past, ...live]) ads.set(adKey(host, id), ad);
      } catch (err) {
        return {
          ok: false,
          diag: `${PLUGIN}: schedd ${host || this.localName}: ${errorText(err)}`,
          results: [],
        };
      }
    }

    const nowSeconds = Math.floor((this.ctx.now?.() ?? new Date()).getTime() / 1000);
    const toRemove = new Map<string, number[]>(); // host → indexes of workers whose job must go
    const results: CheckResult[] = workers.map((w, i) => {
      const id = jobIds[i];
      if (!w.batchID) return { status: null, diag: `${PLUGIN}: worker ${w.workerID} has no batchID` };
      if (!id) return { status: null, diag: `${PLUGIN}: worker ${w.workerID}: ${badIds.get(i)}` };
      const host = w.submissionHost ?? '';
      const decision = mapCondorJob(w, ads.get(adKey(host, id)), {
        heldTimeout: this.options.heldTimeout,
        cancelUnknown: this.options.cancelUnknown,
        nowSeconds,
      });
      if (decision.remove) toRemove.set(host, [...(toRemove.get(host) ?? []), i]);
      return keepFinal(w, decision.result);
    });

    for (const [host, indexes] of toRemove) {
      const ids = [...new Set(indexes.map((i) => jobIds[i] as string))];
      const removed = await condorRm(
        this.run,
        scheddArgs(host || undefined, this.localName),
        ids,
        this.options.commandTimeoutMs,
      );
      for (const i of indexes) {
        const r = removed.get(jobIds[i] as string) as PluginResult;
        if (r.outcome === 'success') continue;
        // Not removed: it stays held, reported as queued; the next cycle tries again.
        results[i] = {
          ...results[i],
          status: null,
          pilotClosed: undefined,
          diag: `${results[i].diag}; ${r.diag}`,
        };
      }
    }
    return { ok: true, diag: '', results };
  }
}

export function createHTCondorMonitor(
  params: PluginParams,
  ctx: PluginContext,
  deps?: CondorDeps,
): HTCondorMonitor {
  return new HTCondorMonitor(htcondorMonitorOptions(params), ctx, deps);
}
