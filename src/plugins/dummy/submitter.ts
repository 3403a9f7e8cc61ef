/**
 * Harvester's DummySubmitter: "submits" a worker by creating its access point, writing `submitted` into
 * status.txt and handing out a batch id. Params make outcomes controllable for tests and demos:
 *   failSubmitWorkerIDs  — these workers fail permanently (they become `missed`);
 *   submitOutcome        — outcome for every other worker (default success);
 *   runAfterSeconds, finishAfterSeconds, finalStatus, failRunWorkerIDs — automatic progression recorded
 *                          with the job, so a demo's workers run and finish by themselves (see job.ts);
 *   accessPoint          — template used when a worker carries none.
 */
import { randomUUID } from 'node:crypto';
import * as os from 'node:os';
import type { WorkSpec } from '../../core/specs';
import { AccessPointError, workerAccessPoint } from '../common/accessPoint';
import { errorText } from '../common/files';
import {
  numberListParam,
  optionalNumber,
  optionalString,
  outcomeParam,
  PluginParamError,
} from '../common/params';
import type { PluginContext, PluginOutcome, PluginParams, SubmitResult, Submitter } from '../types';
import {
  type DummyFinalStatus,
  type DummyJobRecord,
  ensureDirectory,
  readDummyJob,
  writeDummyJob,
  writeStatusFile,
} from './job';

const PLUGIN = 'DummySubmitter';
const FINAL_STATUSES: readonly DummyFinalStatus[] = ['finished', 'failed', 'cancelled'];

export class DummySubmitter implements Submitter {
  private readonly failSubmitWorkerIDs: ReadonlySet<number>;
  private readonly submitOutcome: PluginOutcome;
  private readonly runAfterSeconds?: number;
  private readonly finishAfterSeconds?: number;
  private readonly finalStatus?: DummyFinalStatus;
  private readonly failRunWorkerIDs: ReadonlySet<number>;
  private readonly accessPoint?: string;
  private readonly now: () => Date;

  constructor(params: PluginParams, ctx: PluginContext) {
    this.failSubmitWorkerIDs = new Set(numberListParam(params, PLUGIN, 'failSubmitWorkerIDs'));
    this.submitOutcome = outcomeParam(params, PLUGIN, 'submitOutcome', 'success');
    this.runAfterSeconds = optionalNumber(params, PLUGIN, 'runAfterSeconds');
    this.finishAfterSeconds = optionalNumber(params, PLUGIN, 'finishAfterSeconds');
    const finalStatus = optionalString(params, PLUGIN, 'finalStatus');
    if (finalStatus !== undefined && !(FINAL_STATUSES as readonly string[]).includes(finalStatus)) {
      throw new PluginParamError(PLUGIN, 'finalStatus', `one of ${FINAL_STATUSES.join(', ')}`, finalStatus);
    }
    this.finalStatus = finalStatus as DummyFinalStatus | undefined;
    this.failRunWorkerIDs = new Set(numberListParam(params, PLUGIN, 'failRunWorkerIDs'));
    this.accessPoint = optionalString(params, PLUGIN, 'accessPoint');
    this.now = ctx.now ?? (() => new Date());
  }

  async submitWorkers(workers: WorkSpec[]): Promise<SubmitResult[]> {
    const results: SubmitResult[] = [];
    for (const worker of workers) results.push(await this.submitOne(worker));
    return results;
  }

  /** Finds workers whose job already exists, so a submit retried after a crash does not make a second one. */
  async findSubmittedWorkers(workers: WorkSpec[]): Promise<Map<number, SubmitResult>> {
    const found = new Map<number, SubmitResult>();
    for (const worker of workers) {
      let accessPoint: string;
      try {
        accessPoint = workerAccessPoint(worker, this.accessPoint, PLUGIN);
      } catch (err) {
        if (err instanceof AccessPointError) continue;
        throw err;
      }
      const record = await readDummyJob(accessPoint);
      if (record !== undefined && record.workerID === worker.workerID) {
        found.set(worker.workerID, this.success(record.batchID, 'found the job made by an earlier submit'));
      }
    }
    return found;
  }

  private success(batchID: string, diag = ''): SubmitResult {
    return { outcome: 'success', diag, batchID, submissionHost: os.hostname() };
  }

  private async submitOne(worker: WorkSpec): Promise<SubmitResult> {
    if (this.failSubmitWorkerIDs.has(worker.workerID)) {
      return {
        outcome: 'permanentFailure',
        diag: `${PLUGIN}: worker ${worker.workerID} is listed in failSubmitWorkerIDs`,
      };
    }
    if (this.submitOutcome !== 'success') {
      return { outcome: this.submitOutcome, diag: `${PLUGIN}: submitOutcome is ${this.submitOutcome}` };
    }
    let accessPoint: string;
    try {
      accessPoint = workerAccessPoint(worker, this.accessPoint, PLUGIN);
    } catch (err) {
      if (err instanceof AccessPointError) return { outcome: 'permanentFailure', diag: err.message };
      throw err;
    }
    try {
      await ensureDirectory(accessPoint);
      const existing = await readDummyJob(accessPoint);
      if (existing !== undefined && existing.workerID === worker.workerID) {
        // Idempotent: the job exists already; keep its status and schedule.
        return this.success(existing.batchID, 'found the job made by an earlier submit');
      }
      const record: DummyJobRecord = {
        batchID: randomUUID().replace(/-/g, ''),
        workerID: worker.workerID,
        submittedAt: this.now().toISOString(),
        runAfterSeconds: this.runAfterSeconds,
        finishAfterSeconds: this.finishAfterSeconds,
        finalStatus: this.failRunWorkerIDs.has(worker.workerID) ? 'failed' : this.finalStatus,
      };
      await writeStatusFile(accessPoint, 'submitted');
      // Written last: its presence marks a complete submission for findSubmittedWorkers.
      await writeDummyJob(accessPoint, record);
      return this.success(record.batchID);
    } catch (err) {
      // A file system error here (full disk, permissions) may pass; let the caller retry later.
      return {
        outcome: 'temporaryFailure',
        diag: `${PLUGIN}: cannot write job in ${accessPoint}: ${errorText(err)}`,
      };
    }
  }
}
