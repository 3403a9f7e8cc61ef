/**
 * Harvester's DummySweeper, made to leave a trace: killWorkers writes `cancelled` into status.txt (unless
 * the job already ended, as a real batch system would ignore the kill), sweepWorker removes the access
 * point. Both are idempotent. Params: failKillWorkerIDs (kill fails temporarily, so the caller retries),
 * accessPoint (template used when a worker carries none).
 */
import { promises as fs } from 'node:fs';
import type { WorkSpec } from '../../core/specs';
import { isFinalWorkerStatus } from '../../core/workerStatus';
import { AccessPointError, workerAccessPoint } from '../common/accessPoint';
import { errorText, exists } from '../common/files';
import { numberListParam, optionalString } from '../common/params';
import type { PluginContext, PluginParams, PluginResult, Sweeper } from '../types';
import { readDummyState, writeStatusFile } from './job';

const PLUGIN = 'DummySweeper';

export class DummySweeper implements Sweeper {
  private readonly failKillWorkerIDs: ReadonlySet<number>;
  private readonly accessPoint?: string;
  private readonly now: () => Date;

  constructor(params: PluginParams, ctx: PluginContext) {
    this.failKillWorkerIDs = new Set(numberListParam(params, PLUGIN, 'failKillWorkerIDs'));
    this.accessPoint = optionalString(params, PLUGIN, 'accessPoint');
    this.now = ctx.now ?? (() => new Date());
  }

  async killWorkers(workers: WorkSpec[]): Promise<PluginResult[]> {
    const results: PluginResult[] = [];
    for (const worker of workers) results.push(await this.killOne(worker));
    return results;
  }

  private async killOne(worker: WorkSpec): Promise<PluginResult> {
    if (this.failKillWorkerIDs.has(worker.workerID)) {
      return {
        outcome: 'temporaryFailure',
        diag: `${PLUGIN}: worker ${worker.workerID} is listed in failKillWorkerIDs`,
      };
    }
    try {
      const accessPoint = workerAccessPoint(worker, this.accessPoint, PLUGIN);
      if (!(await exists(accessPoint))) {
        return { outcome: 'success', diag: `nothing to kill: ${accessPoint} does not exist` };
      }
      const state = await readDummyState(accessPoint, this.now());
      if (state.status !== null && isFinalWorkerStatus(state.status)) {
        return { outcome: 'success', diag: `job already ${state.status}` };
      }
      await writeStatusFile(accessPoint, 'cancelled');
      return { outcome: 'success', diag: '' };
    } catch (err) {
      if (err instanceof AccessPointError) return { outcome: 'permanentFailure', diag: err.message };
      return {
        outcome: 'temporaryFailure',
        diag: `${PLUGIN}: cannot kill worker ${worker.workerID}: ${errorText(err)}`,
      };
    }
  }

  async sweepWorker(worker: WorkSpec): Promise<PluginResult> {
    try {
      const accessPoint = workerAccessPoint(worker, this.accessPoint, PLUGIN);
      await fs.rm(accessPoint, { recursive: true, force: true });
      return { outcome: 'success', diag: '' };
    } catch (err) {
      if (err instanceof AccessPointError) return { outcome: 'permanentFailure', diag: err.message };
      return {
        outcome: 'temporaryFailure',
        diag: `${PLUGIN}: cannot remove files of worker ${worker.workerID}: ${errorText(err)}`,
      };
    }
  }
}
