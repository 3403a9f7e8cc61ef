/**
 * Parsers for what the Slurm client tools print, and the state table. Pure functions: the monitor
 * does the I/O, these say what it means. A line they do not understand is a SlurmParseError, never
 * a guess: a mis-read listing would report live pilots as gone (Harvester parsed sacct by column
 * position and broke when a site changed its format).
 */
import type { WorkerStatus } from '../../core/workerStatus';

export class SlurmParseError extends Error {
  readonly type = 'SlurmParseError';
  constructor(
    readonly source: string,
    readonly line: string,
    why: string,
  ) {
    super(`cannot parse ${source} output (${why}): ${JSON.stringify(line.slice(0, 300))}`);
    this.name = 'SlurmParseError';
  }
}

/** One job as the monitor needs it, whichever tool reported it. */
export interface SlurmJobRecord {
  jobId: string;
  name: string;
  state: string;
  reason?: string;
  nodeList?: string;
  /** ISO-8601, when Slurm knows it. */
  startTime?: string;
  endTime?: string;
  exitCode?: number;
  /** Signal that ended the batch script, if any. */
  exitSignal?: number;
  /** Cluster the record names (jobcomp's Cluster=), when it names one. */
  cluster?: string;
  /** Where the record came from, for diagnostics. */
  source: 'squeue' | 'jobcomp' | 'sacct';
}

/**
 * Job ids as the tools print them: `123`, array task `123_4`, pending array `123_[1-3]` (with an
 * optional `%throttle`), heterogeneous component `123+0`.
 */
const JOB_ID = /^\d+(?:_\d+|_\[[\d,\-%]+\]|\+\d+)?$/;
const STATE = /^[A-Z_]+$/;

/**
 * Slurm cluster names as sbatch prints them (`;CLUSTER`, `on cluster CLUSTER`). They become an
 * argument of `-M`: a leading `-` would be read as an option, so it is refused.
 */
const CLUSTER = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;

export function isSlurmClusterName(name: string): boolean {
  return CLUSTER.test(name);
}

/** What sbatch said it made: the job id and, on a multi-cluster site, the cluster. */
export interface SbatchAck {
  jobId: string;
  cluster?: string;
}

/**
 * sbatch's acknowledgement (src/sbatch/sbatch.c, the same in 20.11 … 25.11): `--parsable` prints
 * `N` or `N;CLUSTER`; without it `Submitted batch job N` or `Submitted batch job N on cluster
 * CLUSTER`. Site wrappers and old documentation print the `sbatch: ` prefixed form. Anything else
 * (several lines, a banner, no number) is refused: a guessed id would track somebody else's job.
 */
const SBATCH_ACK = [
  /^(?<id>\d+)(?:;(?<cluster>\S+))?$/,
  /^(?:sbatch: )?Submitted batch job (?<id>\d+)(?: on cluster (?<cluster>\S+))?$/,
];

export function parseSbatchOutput(stdout: string): SbatchAck {
  const lines = stdout
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '');
  if (lines.length !== 1) {
    throw new SlurmParseError(
      'sbatch',
      stdout,
      lines.length === 0
        ? 'no output: expected the job id'
        : `expected one line with the job id, got ${lines.length}`,
    );
  }
  const line = lines[0];
  for (const form of SBATCH_ACK) {
    const m = form.exec(line);
    if (!m?.groups) continue;
    const cluster = m.groups.cluster;
    if (cluster !== undefined && !isSlurmClusterName(cluster))
      throw new SlurmParseError('sbatch', line, `bad cluster name ${JSON.stringify(cluster)}`);
    return cluster === undefined ? { jobId: m.groups.id } : { jobId: m.groups.id, cluster };
  }
  throw new SlurmParseError(
    'sbatch',
    line,
    'expected "N", "N;CLUSTER", "Submitted batch job N" or "Submitted batch job N on cluster CLUSTER"',
  );
}

/**
 * The squeue --Format list the monitor asks for. Every field ends in `|`; Name is last so a `|`
 * inside a job name cannot shift the other columns.
 */
export const SQUEUE_FIELDS = [
  'JobID',
  'State',
  'Reason',
  'NodeList',
  'StartTime',
  'EndTime',
  'exit_code',
] as const;
export const SQUEUE_FORMAT = [...SQUEUE_FIELDS, 'Name'].map((f) => `${f}:|`).join(',');

/**
 * Environment for squeue/sacct: SLURM_TIME_FORMAT (a site may set `relative` or a strftime format
 * in the login profile) pinned to the ISO form the parsers read.
 */
export function slurmQueryEnv(base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  return { ...base, SLURM_TIME_FORMAT: 'standard' };
}

const ISO_LOCAL = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$/;
/**
 * What the tools print for "no time" (src/common/parse_time.c: `Unknown` for 0/INFINITE, `None`
 * for NO_VAL; squeue prints `N/A` and, for an end with no time limit, `NONE`).
 */
const NO_TIME = new Set(['', 'N/A', 'NONE', 'None', 'Unknown']);

/** Slurm prints local time without a zone, or one of the NO_TIME words when there is none. */
export function slurmTimeToIso(value: string | undefined): string | undefined {
  if (!value || !ISO_LOCAL.test(value)) return undefined;
  const d = new Date(value); // no zone suffix: parsed as local time, which is what Slurm printed
  return Number.isNaN(d.getTime()) ? undefined : d.toISOString();
}

function isSlurmTime(value: string): boolean {
  return NO_TIME.has(value) || ISO_LOCAL.test(value);
}

/** squeue's exit_code is the raw wait status: exit code in the high byte, signal in the low 7 bits. */
export function decodeWaitStatus(raw: number): { exitCode: number; signal?: number } {
  const signal = raw & 0x7f;
  return signal !== 0 ? { exitCode: 128 + signal, signal } : { exitCode: (raw >> 8) & 0xff };
}

/** Exit code and signal as the worker reports them: a signal N reads as exit code 128+N. */
function exitFromPair(code: number, signal: number): Pick<SlurmJobRecord, 'exitCode' | 'exitSignal'> {
  return signal !== 0 ? { exitCode: 128 + signal, exitSignal: signal } : { exitCode: code };
}

/**
 * squeue's exit_code column (`-O exit_code`). Up to 22.05 it is the raw wait status printed with
 * `%d` (`768` = exit 3, `15` = SIGTERM; an unset status, NO_VAL, prints as `-2`). From 23.02
 * (SchedMD commit 93928b0743) it is `exit:signal` (`3:0`, `0:15`; 24.11.5 prints `0:0` for a
 * pending job) and nothing when unset.
 */
export function parseSqueueExitCode(
  value: string,
): Pick<SlurmJobRecord, 'exitCode' | 'exitSignal'> | undefined {
  if (value === '' || value === 'N/A' || value === '-2') return undefined;
  if (/^\d+$/.test(value)) {
    const decoded = decodeWaitStatus(Number(value));
    return decoded.signal !== undefined
      ? { exitCode: decoded.exitCode, exitSignal: decoded.signal }
      : { exitCode: decoded.exitCode };
  }
  const m = /^(\d+):(\d+)$/.exec(value);
  if (m) return exitFromPair(Number(m[1]), Number(m[2]));
  throw new Error(
    `exit_code ${JSON.stringify(value)} is neither a wait status (<=22.05) nor exit:signal (>=23.02)`,
  );
}

const SQUEUE_COLUMNS = SQUEUE_FIELDS.length + 1;

export function parseSqueue(stdout: string): SlurmJobRecord[] {
  const out: SlurmJobRecord[] = [];
  for (const line of stdout.split('\n')) {
    if (line.trim() === '') continue;
    if (line.startsWith('CLUSTER: '))
      throw new SlurmParseError(
        'squeue',
        line,
        'a multi-cluster header: squeue must run with -h and one cluster',
      );
    if (!line.endsWith('|'))
      throw new SlurmParseError('squeue', line, 'line does not end with the field separator');
    const parts = line.slice(0, -1).split('|');
    if (parts.length < SQUEUE_COLUMNS) {
      throw new SlurmParseError('squeue', line, `expected ${SQUEUE_COLUMNS} fields, got ${parts.length}`);
    }
    const [jobId, state, reason, nodeList, start, end, exit] = parts.map((p) => p.trim());
    // Name is last and may hold `|`. A `|` in Reason or NodeList would shift every later column:
    // the time and exit_code checks below catch that instead of reading a reason as a time.
    const name = parts.slice(SQUEUE_FIELDS.length).join('|');
    if (!JOB_ID.test(jobId)) throw new SlurmParseError('squeue', line, 'bad job id');
    if (!STATE.test(state)) throw new SlurmParseError('squeue', line, 'bad state');
    if (!isSlurmTime(start) || !isSlurmTime(end)) {
      throw new SlurmParseError(
        'squeue',
        line,
        `StartTime/EndTime ${JSON.stringify(start)}/${JSON.stringify(end)} are not times: a "|" inside Reason or NodeList shifted the columns, or SLURM_TIME_FORMAT is not "standard"`,
      );
    }
    let exitFields: Pick<SlurmJobRecord, 'exitCode' | 'exitSignal'> | undefined;
    try {
      exitFields = parseSqueueExitCode(exit);
    } catch (err) {
      throw new SlurmParseError('squeue', line, (err as Error).message);
    }
    out.push({
      jobId,
      name,
      state,
      reason: reason && reason !== 'None' ? reason : undefined,
      nodeList: nodeList || undefined,
      startTime: slurmTimeToIso(start),
      endTime: slurmTimeToIso(end),
      ...exitFields,
      source: 'squeue',
    });
  }
  return out;
}

/**
 * `ExitCode=3:0` (exit code : signal) as jobcomp and sacct print it (`%d:%d`; an unset exit code,
 * NO_VAL, prints as `-2`).
 */
export function parseColonExit(
  value: string | undefined,
  source: string,
  line: string,
): Pick<SlurmJobRecord, 'exitCode' | 'exitSignal'> {
  if (value === undefined || value === '') return {};
  const m = /^(-2|\d+):(\d+)$/.exec(value);
  if (!m) throw new SlurmParseError(source, line, `bad ExitCode ${value}`);
  if (m[1] === '-2')
    return Number(m[2]) !== 0 ? { exitCode: 128 + Number(m[2]), exitSignal: Number(m[2]) } : {};
  return exitFromPair(Number(m[1]), Number(m[2]));
}

/**
 * jobcomp/filetxt: one line per finished job, `Key=Value` pairs separated by single spaces (values
 * are not quoted; a value may itself contain spaces, e.g. WorkDir, so a token belongs to the
 * previous key unless it starts with `Key=`). The last line for a job id wins (a requeued job ends
 * more than once). Format: src/plugins/jobcomp/filetxt/jobcomp_filetxt.c JOB_FORMAT, the same
 * keys 20.11 … 25.11 (23.02 and later end each line with a space).
 */
export function parseJobComp(text: string): Map<string, SlurmJobRecord> {
  const out = new Map<string, SlurmJobRecord>();
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    const fields = new Map<string, string>();
    let lastKey: string | undefined;
    for (const token of line.trim().split(' ')) {
      const m = /^([A-Za-z]+)=(.*)$/.exec(token);
      if (m) {
        lastKey = m[1];
        fields.set(lastKey, m[2]);
      } else if (lastKey !== undefined) {
        fields.set(lastKey, `${fields.get(lastKey)} ${token}`);
      } else {
        throw new SlurmParseError('jobcomp', line, 'line does not start with Key=Value');
      }
    }
    const jobId = fields.get('JobId');
    const state = fields.get('JobState');
    if (jobId === undefined || !JOB_ID.test(jobId)) throw new SlurmParseError('jobcomp', line, 'no JobId');
    if (state === undefined || !STATE.test(state)) throw new SlurmParseError('jobcomp', line, 'no JobState');
    const cluster = fields.get('Cluster');
    out.set(jobId, {
      jobId,
      name: fields.get('Name') ?? '',
      state,
      nodeList: fields.get('NodeList') || undefined,
      startTime: slurmTimeToIso(fields.get('StartTime')),
      endTime: slurmTimeToIso(fields.get('EndTime')),
      ...parseColonExit(fields.get('ExitCode'), 'jobcomp', line),
      // slurmctld writes `unknown` when it has no ClusterName from accounting.
      cluster: cluster && cluster !== 'unknown' ? cluster : undefined,
      source: 'jobcomp',
    });
  }
  return out;
}

/** Fields the monitor asks sacct for (`sacct -n -P -X --format=...`); JobName last, as for squeue. */
export const SACCT_FORMAT = 'JobID,State,ExitCode,NodeList,Start,End,JobName';
const SACCT_COLUMNS = SACCT_FORMAT.split(',').length;

/** sacct's State column: `CANCELLED by 1000` (src/sacct/print.c) is CANCELLED. */
export function sacctStateWord(raw: string): string {
  const m = /^([A-Z_]+)(?: by \d+)?$/.exec(raw);
  if (!m) throw new Error(`state ${JSON.stringify(raw)} is not a Slurm job state`);
  return m[1];
}

export function parseSacct(stdout: string): Map<string, SlurmJobRecord> {
  const out = new Map<string, SlurmJobRecord>();
  for (const line of stdout.split('\n')) {
    if (line.trim() === '') continue;
    const parts = line.split('|');
    if (parts.length < SACCT_COLUMNS)
      throw new SlurmParseError('sacct', line, `expected ${SACCT_COLUMNS} fields, got ${parts.length}`);
    const [jobId, rawState, exit, nodeList, start, end] = parts;
    if (!JOB_ID.test(jobId)) throw new SlurmParseError('sacct', line, 'bad job id');
    let state: string;
    try {
      state = sacctStateWord(rawState);
    } catch (err) {
      throw new SlurmParseError('sacct', line, (err as Error).message);
    }
    if (!isSlurmTime(start) || !isSlurmTime(end))
      throw new SlurmParseError('sacct', line, 'Start/End are not times (a "|" inside NodeList?)');
    out.set(jobId, {
      jobId,
      name: parts.slice(SACCT_COLUMNS - 1).join('|'),
      state,
      nodeList: nodeList && nodeList !== 'None assigned' ? nodeList : undefined,
      startTime: slurmTimeToIso(start),
      endTime: slurmTimeToIso(end),
      ...parseColonExit(exit, 'sacct', line),
      source: 'sacct',
    });
  }
  return out;
}

/**
 * Slurm job state → worker status. States not listed here map to null (cannot tell): a new
 * Slurm release may add states and the monitor must not invent an answer for them.
 */
export const SLURM_STATE_MAP: Readonly<Record<string, WorkerStatus>> = {
  PENDING: 'submitted',
  CONFIGURING: 'submitted',
  REQUEUED: 'submitted',
  REQUEUE_HOLD: 'submitted',
  REQUEUE_FED: 'submitted',
  RESV_DEL_HOLD: 'submitted',
  SPECIAL_EXIT: 'submitted',
  RUNNING: 'running',
  COMPLETING: 'running',
  STAGE_OUT: 'running',
  SIGNALING: 'running',
  RESIZING: 'running',
  SUSPENDED: 'running',
  STOPPED: 'running',
  COMPLETED: 'finished',
  FAILED: 'failed',
  NODE_FAIL: 'failed',
  OUT_OF_MEMORY: 'failed',
  BOOT_FAIL: 'failed',
  DEADLINE: 'failed',
  PREEMPTED: 'failed',
  TIMEOUT: 'failed',
  CANCELLED: 'cancelled',
  REVOKED: 'cancelled',
};

/** Why a final state is what it is, in words an operator reads in PanDA's monitoring. */
export function slurmStateDiag(record: SlurmJobRecord): string {
  const exit =
    record.exitSignal !== undefined
      ? ` (signal ${record.exitSignal})`
      : record.exitCode !== undefined && record.exitCode !== 0
        ? ` (exit code ${record.exitCode})`
        : '';
  switch (record.state) {
    case 'TIMEOUT':
      return `Slurm job ${record.jobId} reached its time limit${exit}`;
    case 'OUT_OF_MEMORY':
      return `Slurm job ${record.jobId} ran out of memory${exit}`;
    case 'NODE_FAIL':
      return `Slurm job ${record.jobId} failed: node failure on ${record.nodeList ?? 'unknown node'}`;
    case 'BOOT_FAIL':
      return `Slurm job ${record.jobId} failed: node boot failure`;
    case 'PREEMPTED':
      return `Slurm job ${record.jobId} was preempted`;
    case 'DEADLINE':
      return `Slurm job ${record.jobId} missed its deadline`;
    case 'FAILED':
      return `Slurm job ${record.jobId} failed${exit}`;
    case 'CANCELLED':
      return `Slurm job ${record.jobId} was cancelled${exit}`;
    default:
      return '';
  }
}

/**
 * Where a worker's Slurm cluster is kept (docs/decisions.md, "Slurm clusters"): batchID stays the
 * numeric Slurm job id (what PanDA and the UI show), and the cluster, when sbatch named one, rides
 * in submissionHost as `<host>,<cluster>`, the way HTCondor workers carry `<schedd>,<pool>`.
 */
export function slurmSubmissionHost(host: string, cluster: string | undefined): string {
  return cluster === undefined ? host : `${host},${cluster}`;
}

/** The cluster of a worker (undefined = the local cluster: no `-M`). Refuses a malformed name. */
export function slurmClusterOf(submissionHost: string | undefined): string | undefined {
  if (!submissionHost) return undefined;
  const comma = submissionHost.indexOf(',');
  if (comma < 0) return undefined;
  const cluster = submissionHost.slice(comma + 1);
  if (!isSlurmClusterName(cluster))
    throw new Error(
      `submissionHost ${JSON.stringify(submissionHost)}: ${JSON.stringify(cluster)} is not a Slurm cluster name`,
    );
  return cluster;
}

/** `-M CLUSTER` for squeue, sacct and scancel, only when a cluster is known. */
export function slurmClusterArgs(cluster: string | undefined): string[] {
  return cluster === undefined ? [] : ['-M', cluster];
}

/** Groups items by their cluster ('' = local), keeping the input order within a group. */
export function groupByCluster<T>(
  items: readonly T[],
  clusterOf: (item: T) => string | undefined,
): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const item of items) {
    const key = clusterOf(item) ?? '';
    const list = out.get(key);
    if (list) list.push(item);
    else out.set(key, [item]);
  }
  return out;
}

/** One per-job line of scancel's stderr (src/scancel/scancel.c, 20.11 … 25.11). */
const SCANCEL_JOB_ERROR = /^scancel: error: Kill job error on job id (\S+): (.*)$/;
/**
 * Job gone or ended: the goal of the kill holds. slurm_strerror(ESLURM_INVALID_JOB_ID) and
 * (ESLURM_ALREADY_DONE) from src/common/slurm_errno.c; scancel itself hides these unless -v.
 */
const SCANCEL_GONE = /^(Invalid job id specified|Job\/step already completing or completed)$/;

/** What scancel said about each job id: undefined = nothing (killed), else the reason it was not. */
export interface ScancelReport {
  /** Per-job failures (access denied, …); jobs merely gone are not listed. */
  failed: Map<string, string>;
  /** Error lines that name no job (e.g. "Unable to contact slurm controller"): the whole call is in doubt. */
  general: string[];
}

/**
 * scancel reports per-job errors on stderr. Plain `scancel ID…` exits non-zero when a job is refused
 * (210 = ESLURM_ACCESS_DENIED & 0xff, captured on 22.05.8 and 24.11.5); from 24.05 the controller
 * path taken with -M, --ctld or SCANCEL_CTLD (src/scancel/scancel.c _ctld_signal_jobs returns
 * SLURM_SUCCESS) exits 0 with the same per-job lines. So stderr is read whatever the exit code.
 */
export function parseScancelStderr(stderr: string): ScancelReport {
  const failed = new Map<string, string>();
  const general: string[] = [];
  for (const raw of stderr.split('\n')) {
    const line = raw.trim();
    if (line === '') continue;
    const m = SCANCEL_JOB_ERROR.exec(line);
    if (m) {
      if (!SCANCEL_GONE.test(m[2].trim())) failed.set(m[1], m[2].trim());
    } else if (/error/i.test(line)) {
      general.push(line);
    }
  }
  return { failed, general };
}
