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
  /** Where the record came from, for diagnostics. */
  source: 'squeue' | 'jobcomp' | 'sacct';
}

const JOB_ID = /^\d+(_\d+)?$/;
const STATE = /^[A-Z_]+$/;

/** `sbatch --parsable` prints `jobid` or `jobid;cluster`. */
export function parseSbatchParsable(stdout: string): string {
  const line = stdout.trim();
  const id = line.split(';')[0];
  if (line.includes('\n') || !/^\d+$/.test(id))
    throw new SlurmParseError('sbatch --parsable', line, 'expected a job id');
  return id;
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

/** Slurm prints local time without a zone, or N/A / Unknown / None when there is none. */
export function slurmTimeToIso(value: string | undefined): string | undefined {
  if (!value || !/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$/.test(value)) return undefined;
  const d = new Date(value); // no zone suffix: parsed as local time, which is what Slurm printed
  return Number.isNaN(d.getTime()) ? undefined : d.toISOString();
}

/** squeue's exit_code is the raw wait status: exit code in the high byte, signal in the low 7 bits. */
export function decodeWaitStatus(raw: number): { exitCode: number; signal?: number } {
  const signal = raw & 0x7f;
  return signal !== 0 ? { exitCode: 128 + signal, signal } : { exitCode: (raw >> 8) & 0xff };
}

export function parseSqueue(stdout: string): SlurmJobRecord[] {
  const out: SlurmJobRecord[] = [];
  for (const line of stdout.split('\n')) {
    if (line.trim() === '') continue;
    if (!line.endsWith('|'))
      throw new SlurmParseError('squeue', line, 'line does not end with the field separator');
    const parts = line.slice(0, -1).split('|');
    if (parts.length < SQUEUE_FIELDS.length + 1) {
      throw new SlurmParseError('squeue', line, `expected ${SQUEUE_FIELDS.length + 1} fields`);
    }
    const [jobId, state, reason, nodeList, start, end, exit] = parts.map((p) => p.trim());
    const name = parts.slice(SQUEUE_FIELDS.length).join('|');
    if (!JOB_ID.test(jobId)) throw new SlurmParseError('squeue', line, 'bad job id');
    if (!STATE.test(state)) throw new SlurmParseError('squeue', line, 'bad state');
    const record: SlurmJobRecord = {
      jobId,
      name,
      state,
      reason: reason && reason !== 'None' ? reason : undefined,
      nodeList: nodeList || undefined,
      startTime: slurmTimeToIso(start),
      endTime: slurmTimeToIso(end),
      source: 'squeue',
    };
    if (/^\d+$/.test(exit)) {
      const decoded = decodeWaitStatus(Number(exit));
      record.exitCode = decoded.exitCode;
      record.exitSignal = decoded.signal;
    } else if (exit !== '' && exit !== 'N/A') {
      throw new SlurmParseError('squeue', line, 'bad exit_code');
    }
    out.push(record);
  }
  return out;
}

/** `ExitCode=3:0` (exit code : signal), as jobcomp and sacct print it. */
function parseColonExit(
  value: string | undefined,
  source: string,
  line: string,
): Pick<SlurmJobRecord, 'exitCode' | 'exitSignal'> {
  if (value === undefined || value === '') return {};
  const m = /^(\d+):(\d+)$/.exec(value);
  if (!m) throw new SlurmParseError(source, line, `bad ExitCode ${value}`);
  const code = Number(m[1]);
  const signal = Number(m[2]);
  return signal !== 0 ? { exitCode: 128 + signal, exitSignal: signal } : { exitCode: code };
}

/**
 * jobcomp/filetxt: one line per finished job, `Key=Value` pairs separated by single spaces (values
 * are not quoted; a value may itself contain spaces, e.g. WorkDir, so a token belongs to the
 * previous key unless it starts with `Key=`). The last line for a job id wins (a requeued job ends
 * more than once).
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
    out.set(jobId, {
      jobId,
      name: fields.get('Name') ?? '',
      state,
      nodeList: fields.get('NodeList') || undefined,
      startTime: slurmTimeToIso(fields.get('StartTime')),
      endTime: slurmTimeToIso(fields.get('EndTime')),
      ...parseColonExit(fields.get('ExitCode'), 'jobcomp', line),
      source: 'jobcomp',
    });
  }
  return out;
}

/** Fields the monitor asks sacct for (`sacct -n -P -X --format=...`); JobName last, as for squeue. */
export const SACCT_FORMAT = 'JobID,State,ExitCode,NodeList,Start,End,JobName';

export function parseSacct(stdout: string): Map<string, SlurmJobRecord> {
  const out = new Map<string, SlurmJobRecord>();
  for (const line of stdout.split('\n')) {
    if (line.trim() === '') continue;
    const parts = line.split('|');
    if (parts.length < 7) throw new SlurmParseError('sacct', line, 'expected 7 fields');
    const [jobId, rawState, exit, nodeList, start, end] = parts;
    // "CANCELLED by 0": the state is the first word.
    const state = rawState.split(' ')[0];
    if (!JOB_ID.test(jobId)) throw new SlurmParseError('sacct', line, 'bad job id');
    if (!STATE.test(state)) throw new SlurmParseError('sacct', line, 'bad state');
    out.set(jobId, {
      jobId,
      name: parts.slice(6).join('|'),
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
