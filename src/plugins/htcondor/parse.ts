/**
 * HTCondor status tables, output parsers and the pure per-worker mapping (Harvester's
 * htcondor_monitor keeps the same split: module constants, one bulk query, _check_one_worker).
 */
import type { WorkSpec } from '../../core/specs';
import { isFinalWorkerStatus } from '../../core/workerStatus';
import type { CheckResult, PluginResult } from '../types';

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

/**
 * Attributes the monitor asks for, each with the JSON types HTCondor 9..25 print for it. The JSON
 * writer (src/classad/jsonSink.cpp, unchanged from V9_0_0 to 25.x) prints a literal as a JSON
 * number/string/boolean, UNDEFINED as null, and anything that is not a literal as the string
 * "\/Expr(<expression>)\/". None of these attributes is an expression in a job ad the schedd
 * keeps, so an expression (or any other type) here is refused rather than guessed at.
 */
const ATTRIBUTE_TYPES = {
  ClusterId: 'integer',
  ProcId: 'integer',
  JobStatus: 'integer',
  LastJobStatus: 'integer',
  EnteredCurrentStatus: 'integer',
  HoldReason: 'string',
  HoldReasonCode: 'integer',
  LastHoldReason: 'string',
  RemoveReason: 'string',
  ExitCode: 'integer',
  ExitBySignal: 'boolean',
  ExitSignal: 'integer',
  RemoteHost: 'string',
  LastRemoteHost: 'string',
  JobStartDate: 'integer',
  CompletionDate: 'integer',
  harvesterID: 'string',
  harvesterWorkerID: 'integer',
} as const;
type CheckedAttribute = keyof typeof ATTRIBUTE_TYPES;

/** Attributes the monitor asks for (harvesterID is only used by the submitter's lookup). */
export const MONITOR_ATTRIBUTES: readonly CheckedAttribute[] = [
  'ClusterId',
  'ProcId',
  'JobStatus',
  'LastJobStatus',
  'EnteredCurrentStatus',
  'HoldReason',
  'HoldReasonCode',
  'LastHoldReason',
  'RemoveReason',
  'ExitCode',
  'ExitBySignal',
  'ExitSignal',
  'RemoteHost',
  'LastRemoteHost',
  'JobStartDate',
  'CompletionDate',
  'harvesterWorkerID',
];

export type JobAd = Readonly<Record<string, unknown>> & { ClusterId: number; ProcId: number };

export function adBatchId(ad: JobAd): string {
  return `${ad.ClusterId}.${ad.ProcId}`;
}

/**
 * A worker's batchID as the `cluster.proc` the tools print. Harvester wrote a bare cluster id in
 * old releases and reads it as proc 0 (htcondor_utils.condor_job_id_from_workspec); so do we, so
 * condor_rm always gets a job id and answers one line per job, never a cluster summary.
 */
export function condorJobId(batchID: string): string {
  const m = /^\s*(\d+)(?:\.(\d+))?\s*$/.exec(batchID);
  if (!m || Number(m[1]) <= 0)
    throw new CondorParseError('batchID', 'expected "cluster.proc" or "cluster"', batchID);
  return `${Number(m[1])}.${Number(m[2] ?? 0)}`;
}

/**
 * Lines condor_q / condor_history print (on stderr, exit code 1) when the query did not happen.
 * A failed query must never read as "no jobs": even with exit code 0 and empty stdout (a wrapper
 * that swallows the exit code), these lines make the call fail.
 * Sources: src/condor_q.V6/queue.cpp show_schedd_queue and main; src/condor_tools/history.cpp
 * readHistoryRemote (same wording V9_0_0 .. 25.x). condor_q's main prints every fatal error as
 * `Error: ...`; captured from 23.9.6 (test/fixtures/htcondor/htcondor-23.9.6): `Error: Couldn't
 * contact the condor_collector on <pool>.` (pool unreachable), `Error: Can't find address for
 * schedd <name>` (local schedd stopped), `Error: unknown host <name>` (-name that does not
 * resolve), `Error: Collector has no record of schedd/submitter`, each with empty stdout.
 */
const FAILED_QUERY_LINES: readonly RegExp[] = [
  // With the error stack line after it (`CEDAR:6001:Failed to connect to <...>`), the reason.
  /^-- Failed to fetch ads from: .*(?:\n[^\n]*\S[^\n]*)?/m,
  /^-- Unsupported query option at: .*/m,
  /^-- Parse error in constraint expression .*/m,
  // With its continuation lines up to a blank line or condor_q's "Extra Info:" paragraph.
  /^Error: .*(?:\n(?!Extra Info:)[^\n]*\S[^\n]*)*/m,
  /^Unable to locate remote schedd .*/m,
  /^Unable to send (history command|request) to remote schedd.*/m,
  /^Failed to receive remote ad\..*/m,
  /^Client and server do not agree on number of ads sent.*/m,
  /^Error \d+: .*/m,
];

export class CondorQueryError extends Error {
  readonly type = 'CondorQueryError';
  constructor(source: string, line: string) {
    super(`${source} query failed: ${line.replace(/\s+/g, ' ').trim()}`);
    this.name = 'CondorQueryError';
  }
}

/** Throws if the tool's own text says the query failed (see FAILED_QUERY_LINES). */
export function refuseFailedQuery(source: string, stdout: string, stderr: string): void {
  for (const re of FAILED_QUERY_LINES) {
    const m = re.exec(stderr) ?? re.exec(stdout);
    if (m) throw new CondorQueryError(source, m[0]);
  }
}

function checkAttribute(source: string, ad: Record<string, unknown>, name: CheckedAttribute): void {
  const v = ad[name];
  if (v === undefined || v === null) return; // absent or UNDEFINED
  const want = ATTRIBUTE_TYPES[name];
  const ok = want === 'integer' ? Number.isInteger(v) : typeof v === want;
  if (!ok) {
    const id = `${String(ad.ClusterId)}.${String(ad.ProcId)}`;
    const what = typeof v === 'string' && v.startsWith('/Expr(') ? 'an unevaluated expression' : typeof v;
    throw new CondorParseError(source, `job ${id}: ${name} is ${what}, expected ${want}`, JSON.stringify(v));
  }
}

/**
 * `condor_q -json` / `condor_history -json`: a JSON array of ads, `[\n{...}\n,\n{...}\n]\n`.
 * With no job matched, condor_q prints nothing at all and condor_history prints `[\n]\n` (its
 * header and footer; src/condor_tools/history.cpp printHeader/printFooter); both mean zero jobs.
 * Every ad must carry integer ClusterId and ProcId, and the attributes we read must have their
 * type (ATTRIBUTE_TYPES); other attributes may be anything JSON holds.
 */
export function parseCondorJson(stdout: string, source: string, stderr = ''): JobAd[] {
  refuseFailedQuery(source, stdout, stderr);
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
    for (const name of Object.keys(ATTRIBUTE_TYPES) as CheckedAttribute[]) checkAttribute(source, ad, name);
    return ad as JobAd;
  });
}

/**
 * `condor_submit -terse` prints `first - last` job ids of each cluster, e.g. `4242.0 - 4242.49`
 * (src/condor_submit.V6/submit.cpp, `"%d.%d - %d.%d\n"`, the same in V9_0_0 .. 25.x). Anything
 * else, such as the chatty form "1 job(s) submitted to cluster 6.", is refused.
 */
export function parseSubmitTerse(stdout: string): { clusterId: number; firstProc: number; lastProc: number } {
  const lines = stdout.split('\n').filter((l) => l.trim() !== '');
  const m = lines.length === 1 ? /^\s*(\d+)\.(\d+)\s+-\s+(\d+)\.(\d+)\s*$/.exec(lines[0]) : null;
  if (!m || m[1] !== m[3])
    throw new CondorParseError('condor_submit -terse', 'expected one "C.P - C.P" line', stdout);
  return { clusterId: Number(m[1]), firstProc: Number(m[2]), lastProc: Number(m[4]) };
}

/**
 * What condor_rm said about one job. condor_rm with job ids prints one line per id, built by
 * JobActionResults::getResultString (src/condor_daemon_client/dc_schedd.cpp): success lines on
 * stdout, the others on stderr. The wordings are the same in every release from V9_0_0 to 25.x
 * (checked at tags V9_0_0, V9_12_0, V10_0_0, V10_9_0, v23.0.0, v24.0.1, v25.0.1, v25.13.2) and are
 * captured from 23.9.6. Its exit code says little: 23.9.6 exits 0 when at least one job was
 * removed, even if other ids of the same call were not found or denied, and 1 when none was.
 * So every job's own line decides its outcome.
 */
export type CondorRmResult =
  /** "Job C.P marked for removal" */
  | 'removed'
  /** "Job C.P already marked for removal": the schedd has it as REMOVED already. */
  | 'alreadyRemoved'
  /** "Job C.P not found": not in the queue (finished, or removed and gone). */
  | 'notFound'
  /** "Permission denied to remove job C.P": retrying as the same user cannot help. */
  | 'permissionDenied'
  /** "No result found for job C.P" / "Invalid result for job C.P": the schedd gave no verdict. */
  | 'noResult';

const RM_LINES: ReadonlyArray<[RegExp, CondorRmResult]> = [
  [/^Job (\d+\.\d+) marked for removal$/, 'removed'],
  [/^Job (\d+\.\d+) already marked for removal$/, 'alreadyRemoved'],
  [/^Job (\d+\.\d+) not found$/, 'notFound'],
  [/^Permission denied to remove job (\d+\.\d+)$/, 'permissionDenied'],
  [/^No result found for job (\d+\.\d+)$/, 'noResult'],
  [/^Invalid result for job (\d+\.\d+)$/, 'noResult'],
];

/** Per-job lines of condor_rm's stdout and stderr; other lines (connection errors) are not job results. */
export function parseCondorRm(output: string): Map<string, CondorRmResult> {
  const out = new Map<string, CondorRmResult>();
  for (const raw of output.split('\n')) {
    const line = raw.trim();
    for (const [re, result] of RM_LINES) {
      const m = re.exec(line);
      if (m) {
        out.set(m[1], result);
        break;
      }
    }
  }
  return out;
}

/**
 * What a kill of one job came to. Removed, already removed and not found all leave the job out of
 * the way, which is what a kill wants; permission denied will not change by retrying; anything
 * else (no line for the job: the schedd was not reached, or gave no verdict) is temporary.
 * `failure` is the call's own error text (exit code and stderr) when it had one.
 */
export function condorRmOutcome(
  id: string,
  result: CondorRmResult | undefined,
  failure: string | undefined,
): PluginResult {
  switch (result) {
    case 'removed':
      return { outcome: 'success', diag: '' };
    case 'alreadyRemoved':
      return { outcome: 'success', diag: `condor job ${id} was already marked for removal` };
    case 'notFound':
      return { outcome: 'success', diag: `condor job ${id} already gone (not in the queue)` };
    case 'permissionDenied':
      return { outcome: 'permanentFailure', diag: `condor_rm: permission denied to remove job ${id}` };
    case 'noResult':
      return { outcome: 'temporaryFailure', diag: `condor_rm: the schedd gave no result for job ${id}` };
    default:
      return {
        outcome: 'temporaryFailure',
        diag: `condor_rm printed no result for job ${id}${failure ? `: ${failure}` : ''}`,
      };
  }
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

const num = (v: unknown): number | undefined => (typeof v === 'number' ? v : undefined);
const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
const epochToIso = (v: unknown): string | undefined => {
  const n = num(v);
  return n && n > 0 ? new Date(n * 1000).toISOString() : undefined;
};
/**
 * RemoteHost is the slot name: `slot1_6@crane` (slot@machine), or on a glidein
 * `glidein_11052_156649344@CRUSH-OSG-C7-10-5-219-52` and `slot1_6@glidein_99879_43933758@notch009...`
 * (slot@startd-name@machine, captured in JeffersonLab/clas12-utilities). The machine, after the
 * last `@`, is what PanDA shows.
 */
const nodeOf = (ad: JobAd): string | undefined => {
  const host = str(ad.RemoteHost) ?? str(ad.LastRemoteHost);
  return host?.includes('@') ? host.slice(host.lastIndexOf('@') + 1) : host;
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
          diag: `condor job removed: ${str(ad.RemoveReason) ?? 'no RemoveReason'}${
            str(ad.LastHoldReason) ? `; last held: ${str(ad.LastHoldReason)}` : ''
          }`,
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
