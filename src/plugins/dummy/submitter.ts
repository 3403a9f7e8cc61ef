/**
 * Harvester's DummySubmitter: "submits" a worker by creating its access point, writing `submitted` into
 * status.txt and handing out a batch id. Params make outcomes controllable for tests and demos:
 *   failSubmitWorkerIDs  — these workers fail permanently (they become `missed`);
 *   submitOutcome        — outcome for every other worker (default success);
 *   runAfterSeconds, finishAfterSeconds, finalStatus, failRunWorkerIDs — automatic progression recorded
 *                          with the job, so a demo's workers run and finish by themselves (see job.ts);
 *   runAfterSecondsMax, finishAfterSecondsMax — spread: each worker's time is drawn between the
 *                          value and its Max from the worker id (the same on a resubmit), so a big
 *                          queue's jobs start and end over a span instead of all at once;
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

/** `<key>Max`, checked against `<key>`: a spread needs its lower end, and ends at or above it. */
function spreadMax(params: PluginParams, key: string, min: number | undefined): number | undefined {
  const maxKey = `${key}Max`;
  const max = optionalNumber(params, PLUGIN, maxKey);
  if (max === undefined) return undefined;
  if (min === undefined) throw new PluginParamError(PLUGIN, maxKey, `set together with ${key}`, max);
  if (max < min) throw new PluginParamError(PLUGIN, maxKey, `a number >= ${key} (${min})`, max);
  return max;
}

/**
 * A point in [min, max] chosen by the worker id (an integer hash, so neighbouring ids land far
 * apart); `salt` keeps the start and end draws independent. min alone (no spread) is min.
 */
export function spreadSeconds(
  min: number | undefined,
  max: number | undefined,
  workerID: number,
  salt: number,
): number | undefined {
  if (min === undefined || max === undefined || max === min) return min;
  let h = (Math.imul(workerID, 0x9e3779b1) ^ Math.imul(salt, 0x85ebca6b)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d) >>> 0;
  h = Math.imul(h ^ (h >>> 15), 0x846ca68b) >>> 0;
  h = (h ^ (h >>> 16)) >>> 0;
  return Math.round(min + (max - min) * (h / 2 ** 32));
}

export class DummySubmitter implements Submitter {
  private readonly failSubmitWorkerIDs: ReadonlySet<number>;
  private readonly submitOutcome: PluginOutcome;
  private readonly runAfterSeconds?: number;
  private readonly finishAfterSeconds?: number;
  private readonly runAfterSecondsMax?: number;
  private readonly finishAfterSecondsMax?: number;
  private readonly finalStatus?: DummyFinalStatus;
  private readonly failRunWorkerIDs: ReadonlySet<number>;
  private readonly accessPoint?: string;
  private readonly now: () => Date;

  constructor(params: PluginParams, ctx: PluginContext) {
    this.failSubmitWorkerIDs = new Set(numberListParam(params, PLUGIN, 'failSubmitWorkerIDs'));
    this.submitOutcome = outcomeParam(params, PLUGIN, 'submitOutcome', 'success');
    this.runAfterSeconds = optionalNumber(params, PLUGIN, 'runAfterSeconds');
    this.finishAfterSeconds = optionalNumber(params, PLUGIN, 'finishAfterSeconds');
    this.runAfterSecondsMax = spreadMax(params, 'runAfterSeconds', this.runAfterSeconds);
    this.finishAfterSecondsMax = spreadMax(params, 'finishAfterSeconds', this.finishAfterSeconds);
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
        runAfterSeconds: spreadSeconds(this.runAfterSeconds, this.runAfterSecondsMax, worker.workerID, 1),
        finishAfterSeconds: spreadSeconds(
          this.finishAfterSeconds,
          this.finishAfterSecondsMax,
          worker.workerID,
          2,
        ),
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
