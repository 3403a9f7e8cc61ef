/**
 * HTCondor status tables, output parsers and the pure per-worker mapping (Harvester's
 * htcondor_monitor keeps the same split: module constants, one bulk query, _check_one_worker).
 */
import type { WorkSpec } from '../../core/specs';
import { isFinalWorkerStatus } from '../../core/workerStatus';
import type { CheckResult } from '../types';

export class CondorParseError extends Error {
  readonly type = 'CondorParseError';
  constructor(source: string, why: string, sample: string) {
    super(`cannot parse ${source} output (${why}): ${JSON.stringify(sample.slice(0, 300))}`);
    this.name = 'CondorParseError';
  }
}

/** JobStatus numbers (HTCondor manual, "JobStatus" job ClassAd attribute). */
export const CONDOR_JOB_STATUS_MAP: Readonly<Record<number, string>> = {
  1: 'idle',
  2: 'running',
  3: 'removed',
  4: 'completed',
  5: 'held',
  6: 'transferring_output',
  7: 'suspended',
};

/** Hold reasons after which the job will never run: remove it at once (Harvester's list). */
export const TO_KILL_HOLD_REASONS: readonly string[] = ['Job not found', 'Failed to start GAHP'];

/** Attributes the monitor asks for; nothing else is parsed. */
export const MONITOR_ATTRIBUTES = [
  'ClusterId',
  'ProcId',
  'JobStatus',
  'LastJobStatus',
  'EnteredCurrentStatus',
  'HoldReason',
  'HoldReasonCode',
  'RemoveReason',
  'ExitCode',
  'ExitBySignal',
  'ExitSignal',
  'RemoteHost',
  'LastRemoteHost',
  'JobStartDate',
  'CompletionDate',
  'harvesterWorkerID',
] as const;

export type ClassAdValue = string | number | boolean | null;
export type JobAd = Readonly<Record<string, ClassAdValue>> & { ClusterId: number; ProcId: number };

export function adBatchId(ad: JobAd): string {
  return `${ad.ClusterId}.${ad.ProcId}`;
}

/**
 * `condor_q -json` / `condor_history -json`: a JSON array of flat objects; nothing at all when no
 * job matched. Every object must carry integer ClusterId and ProcId.
 */
export function parseCondorJson(stdout: string, source: string): JobAd[] {
  if (stdout.trim() === '') return [];
  let data: unknown;
  try {
    data = JSON.parse(stdout);
  } catch (err) {
    throw new CondorParseError(source, `not JSON: ${(err as Error).message}`, stdout);
  }
  if (!Array.isArray(data)) throw new CondorParseError(source, 'expected a JSON array', stdout);
  return data.map((item: unknown) => {
    if (typeof item !== 'object' || item === null || Array.isArray(item)) {
      throw new CondorParseError(source, 'array element is not an object', JSON.stringify(item));
    }
    const ad = item as Record<string, unknown>;
    if (!Number.isInteger(ad.ClusterId) || !Number.isInteger(ad.ProcId)) {
      throw new CondorParseError(source, 'job ad without integer ClusterId/ProcId', JSON.stringify(item));
    }
    for (const [k, v] of Object.entries(ad)) {
      if (v !== null && typeof v === 'object')
        throw new CondorParseError(source, `attribute ${k} is not a scalar`, JSON.stringify(item));
    }
    return ad as JobAd;
  });
}

/** `condor_submit -terse` prints `first - last` job ids of the cluster, e.g. `4242.0 - 4242.49`. */
export function parseSubmitTerse(stdout: string): { clusterId: number; firstProc: number; lastProc: number } {
  const lines = stdout.split('\n').filter((l) => l.trim() !== '');
  const m = lines.length === 1 ? /^\s*(\d+)\.(\d+)\s+-\s+(\d+)\.(\d+)\s*$/.exec(lines[0]) : null;
  if (!m || m[1] !== m[3])
    throw new CondorParseError('condor_submit -terse', 'expected one "C.P - C.P" line', stdout);
  return { clusterId: Number(m[1]), firstProc: Number(m[2]), lastProc: Number(m[4]) };
}

export interface CondorMapOptions {
  /** Seconds a job may stay held before it is removed (Harvester heldTimeout, 3600). */
  heldTimeout: number;
  cancelUnknown: boolean;
  /** Unix seconds. */
  nowSeconds: number;
}

/** What the monitor must do besides reporting: remove held jobs that will never run. */
export interface CondorDecision {
  result: CheckResult;
  remove?: boolean;
}

const num = (v: ClassAdValue | undefined): number | undefined => (typeof v === 'number' ? v : undefined);
const str = (v: ClassAdValue | undefined): string | undefined =>
  typeof v === 'string' && v !== '' ? v : undefined;
const epochToIso = (v: ClassAdValue | undefined): string | undefined => {
  const n = num(v);
  return n && n > 0 ? new Date(n * 1000).toISOString() : undefined;
};
/** RemoteHost is `slot1@node.example.org`; the node is what PanDA shows. */
const nodeOf = (ad: JobAd): string | undefined => {
  const host = str(ad.RemoteHost) ?? str(ad.LastRemoteHost);
  return host?.includes('@') ? host.slice(host.indexOf('@') + 1) : host;
};

/** Maps one job ad (or its absence) to the worker's status; pure, unit-tested on fixtures. */
export function mapCondorJob(
  worker: WorkSpec,
  ad: JobAd | undefined,
  opts: CondorMapOptions,
): CondorDecision {
  if (ad === undefined) {
    if (opts.cancelUnknown) {
      return {
        result: {
          status: 'cancelled',
          diag: `condor job ${worker.batchID} not found in queue or history`,
          pilotClosed: true,
        },
      };
    }
    return {
      result: { status: null, diag: `condor job ${worker.batchID} not found in queue or history; skipped` },
    };
  }
  let jobStatus = num(ad.JobStatus);
  const last = num(ad.LastJobStatus);
  // Never let a terminal state turn back into a live one (ads can lag behind), nor completed into removed.
  if (last !== undefined && jobStatus !== undefined) {
    if (((last === 3 || last === 4) && jobStatus !== 3 && jobStatus !== 4) || (last === 4 && jobStatus === 3))
      jobStatus = last;
  }
  const base: CheckResult = {
    status: null,
    diag: '',
    nativeStatus: jobStatus !== undefined ? (CONDOR_JOB_STATUS_MAP[jobStatus] ?? 'unexpected') : 'unexpected',
    nodeID: nodeOf(ad),
    startTime: epochToIso(ad.JobStartDate),
    endTime: epochToIso(ad.CompletionDate),
  };
  const queuedStatus = worker.status === 'running' || worker.status === 'idle' ? 'idle' : 'submitted';
  switch (jobStatus) {
    case 2:
    case 6:
      return { result: { ...base, status: 'running' } };
    case 1:
    case 7:
      return { result: { ...base, status: queuedStatus } };
    case 3:
      return {
        result: {
          ...base,
          status: 'cancelled',
          diag: `condor job removed: ${str(ad.RemoveReason) ?? 'no RemoveReason'}`,
        },
      };
    case 4: {
      if (ad.ExitBySignal === true) {
        const sig = num(ad.ExitSignal);
        return {
          result: {
            ...base,
            status: 'failed',
            diag: `pilot killed by signal ${sig ?? '?'}`,
            nativeExitCode: sig !== undefined ? 128 + sig : undefined,
          },
        };
      }
      const code = num(ad.ExitCode);
      if (code === 0) return { result: { ...base, status: 'finished', nativeExitCode: 0 } };
      return {
        result: {
          ...base,
          status: 'failed',
          diag: `pilot exited with code ${code ?? 'unknown'}`,
          nativeExitCode: code,
        },
      };
    }
    case 5: {
      const reason = str(ad.HoldReason) ?? 'no HoldReason';
      const heldFor = opts.nowSeconds - (num(ad.EnteredCurrentStatus) ?? opts.nowSeconds);
      const fatal = TO_KILL_HOLD_REASONS.includes(reason);
      if (fatal || heldFor > opts.heldTimeout) {
        const why = fatal
          ? 'hold reason is fatal'
          : `held for ${heldFor} s > heldTimeout ${opts.heldTimeout} s`;
        return {
          result: {
            ...base,
            status: 'cancelled',
            diag: `condor HoldReason: ${reason}; removed: ${why}`,
            pilotClosed: true,
          },
          remove: true,
        };
      }
      return { result: { ...base, status: queuedStatus, diag: `condor HoldReason: ${reason}` } };
    }
    default:
      return {
        result: {
          ...base,
          diag: `condor job ${adBatchId(ad)} has unexpected JobStatus ${String(ad.JobStatus)}`,
        },
      };
  }
}

/** A worker already final stays final whatever a lagging ad says. */
export function keepFinal(worker: WorkSpec, result: CheckResult): CheckResult {
  return isFinalWorkerStatus(worker.status) && result.status !== worker.status
    ? { ...result, status: worker.status }
    : result;
}
