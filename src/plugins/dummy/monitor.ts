/**
 * Harvester's DummyMonitor: the status of each worker is what its status.txt says (missing file =
 * still `submitted`), moved forward by the automatic progression recorded at submission. Params:
 *   failCheck        — the whole bulk query fails (to exercise "unknown, never zero");
 *   failCheckFile    — the bulk query fails while this file exists: a switch at run time, since the
 *                      params travel with the worker's configID and cannot be changed for live workers
 *                      (tests and demos show an outage and the recovery after it);
 *   unknownWorkerIDs — the status of these workers cannot be told (null, as Harvester's None);
 *   accessPoint      — template used when a worker carries none.
 */
import type { WorkSpec } from '../../core/specs';
import { workerAccessPoint } from '../common/accessPoint';
import { errorText, exists } from '../common/files';
import { booleanParam, numberListParam, optionalString } from '../common/params';
import type { CheckResult, CheckWorkersReply, Monitor, PluginContext, PluginParams } from '../types';
import { readDummyState } from './job';

const PLUGIN = 'DummyMonitor';

export class DummyMonitor implements Monitor {
  private readonly failCheck: boolean;
  private readonly failCheckFile?: string;
  private readonly unknownWorkerIDs: ReadonlySet<number>;
  private readonly accessPoint?: string;
  private readonly now: () => Date;

  constructor(params: PluginParams, ctx: PluginContext) {
    this.failCheck = booleanParam(params, PLUGIN, 'failCheck', false);
    this.failCheckFile = optionalString(params, PLUGIN, 'failCheckFile');
    this.unknownWorkerIDs = new Set(numberListParam(params, PLUGIN, 'unknownWorkerIDs'));
    this.accessPoint = optionalString(params, PLUGIN, 'accessPoint');
    this.now = ctx.now ?? (() => new Date());
  }

  async checkWorkers(workers: WorkSpec[]): Promise<CheckWorkersReply> {
    if (this.failCheck) return { ok: false, diag: `${PLUGIN}: failCheck is set`, results: [] };
    if (this.failCheckFile !== undefined && (await exists(this.failCheckFile))) {
      return { ok: false, diag: `${PLUGIN}: failCheckFile ${this.failCheckFile} exists`, results: [] };
    }
    const now = this.now();
    const results: CheckResult[] = [];
    for (const worker of workers) results.push(await this.checkOne(worker, now));
    return { ok: true, diag: '', results };
  }

  private async checkOne(worker: WorkSpec, now: Date): Promise<CheckResult> {
    if (this.unknownWorkerIDs.has(worker.workerID)) {
      return { status: null, diag: `${PLUGIN}: worker ${worker.workerID} is listed in unknownWorkerIDs` };
    }
    try {
      const accessPoint = workerAccessPoint(worker, this.accessPoint, PLUGIN);
      const state = await readDummyState(accessPoint, now);
      const result: CheckResult = { status: state.status, diag: state.diag, nativeStatus: state.fileStatus };
      if (state.startTime !== undefined) result.startTime = state.startTime;
      if (state.endTime !== undefined) result.endTime = state.endTime;
      // An exit code only once the job ended on its own: 0 for finished, 1 for failed.
      if (state.status === 'finished') result.nativeExitCode = 0;
      if (state.status === 'failed') result.nativeExitCode = 1;
      return result;
    } catch (err) {
      return { status: null, diag: `${PLUGIN}: cannot read worker ${worker.workerID}: ${errorText(err)}` };
    }
  }
}
