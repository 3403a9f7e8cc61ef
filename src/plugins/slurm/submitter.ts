/**
 * SlurmSubmitter (Harvester: slurm_submitter.SlurmSubmitter): one sbatch per worker, from a
 * template filled with Harvester's placeholders, the worker id in the job name.
 *
 * Idempotency: before submitting, one squeue call looks up all the job names of the batch (and,
 * when configured, the jobcomp file for jobs that already ended and left squeue); a worker whose
 * job exists gets that job back instead of a second one. That makes a submit retried after a crash
 * between sbatch and the DB write safe.
 */
import { promises as fs } from 'node:fs';
import { hostname } from 'node:os';
import * as path from 'node:path';
import type { WorkSpec } from '../../core/specs';
import { mapWithConcurrency } from '../../util/concurrency';
import { workerAccessPoint } from '../common/accessPoint';
import { batchJobName, chunkByLength } from '../common/batchName';
import { errorText, writeFileAtomic } from '../common/files';
import { numberParam, optionalNumber, optionalString, stringListParam } from '../common/params';
import { expandPlaceholders, workerPlaceholders } from '../common/template';
import { CommandError, type CommandRunner, runCommand } from '../exec';
import type { PluginContext, PluginParams, SubmitResult, Submitter } from '../types';
import {
  isSlurmClusterName,
  parseJobComp,
  parseSbatchOutput,
  parseSqueue,
  type SlurmJobRecord,
  SQUEUE_FORMAT,
  slurmClusterArgs,
  slurmQueryEnv,
  slurmSubmissionHost,
} from './parse';

const PLUGIN = 'SlurmSubmitter';

export interface SlurmDeps {
  /** Command runner; tests pass a counting one. */
  run?: CommandRunner;
}

export interface SlurmSubmitterOptions {
  /** Template file for the batch script (Harvester: templateFile). */
  templateFile?: string;
  /** Inline template, used when no templateFile is given. */
  template?: string;
  /** Access-point template when the worker carries none (normally set from the messenger section). */
  accessPoint?: string;
  /** Slurm partition (Harvester: localQueueName). */
  partition?: string;
  nCorePerNode?: number;
  /**
   * Slurm cluster to submit to on a multi-cluster site (sbatch/squeue `-M`). The monitor and
   * sweeper take it from each worker's record, so workers submitted before a change keep theirs.
   */
  cluster?: string;
  /** Extra sbatch arguments, one array element per argument. */
  sbatchArgs: string[];
  /** jobcomp/filetxt file, to find jobs of a retried submit that have already left squeue. */
  jobCompLoc?: string;
  /** Parallel sbatch calls (Harvester's nProcesses). */
  nProcesses: number;
  commandTimeoutMs: number;
}

export function slurmSubmitterOptions(params: PluginParams): SlurmSubmitterOptions {
  const templateFile = optionalString(params, PLUGIN, 'templateFile');
  const template = optionalString(params, PLUGIN, 'template');
  if (templateFile === undefined && template === undefined) {
    throw new Error(
      `${PLUGIN}: set "templateFile" (path of the batch script template) in the submitter section`,
    );
  }
  const cluster = optionalString(params, PLUGIN, 'cluster');
  if (cluster !== undefined && !isSlurmClusterName(cluster))
    throw new Error(`${PLUGIN}: "cluster" ${JSON.stringify(cluster)} is not a Slurm cluster name`);
  const sbatchArgs = stringListParam(params, PLUGIN, 'sbatchArgs');
  const clusterArg = sbatchArgs.find((a) => a === '-M' || /^(-M.|--clusters?(=|$))/.test(a));
  if (clusterArg !== undefined) {
    // The cluster must also reach squeue, sacct and scancel: it is a parameter of its own.
    throw new Error(
      `${PLUGIN}: "sbatchArgs" contains ${JSON.stringify(clusterArg)}; set "cluster" instead so the monitor and sweeper use the same cluster`,
    );
  }
  return {
    templateFile,
    template,
    cluster,
    accessPoint: optionalString(params, PLUGIN, 'accessPoint'),
    partition:
      optionalString(params, PLUGIN, 'partition') ?? optionalString(params, PLUGIN, 'localQueueName'),
    nCorePerNode: optionalNumber(params, PLUGIN, 'nCorePerNode'),
    sbatchArgs,
    jobCompLoc: optionalString(params, PLUGIN, 'jobCompLoc'),
    nProcesses: numberParam(params, PLUGIN, 'nProcesses', 8),
    commandTimeoutMs: numberParam(params, PLUGIN, 'commandTimeout', 60) * 1000,
  };
}

/** Reads the jobcomp file's last `maxBytes` (it only grows; recent jobs are at the end). */
export async function readJobComp(
  file: string,
  maxBytes = 32 * 1024 * 1024,
): Promise<Map<string, SlurmJobRecord>> {
  const handle = await fs.open(file, 'r');
  try {
    const { size } = await handle.stat();
    const start = Math.max(0, size - maxBytes);
    const buf = Buffer.alloc(size - start);
    await handle.read(buf, 0, buf.length, start);
    let text = buf.toString('utf8');
    // Started mid-file: drop the partial first line. A last line without its newline may still be
    // being written by slurmctld: leave it for the next read.
    if (start > 0) text = text.slice(text.indexOf('\n') + 1);
    if (!text.endsWith('\n')) text = text.slice(0, text.lastIndexOf('\n') + 1);
    return parseJobComp(text);
  } finally {
    await handle.close();
  }
}

export class SlurmSubmitter implements Submitter {
  private readonly run: CommandRunner;
  private templateText: string | undefined;

  constructor(
    readonly options: SlurmSubmitterOptions,
    private readonly ctx: PluginContext,
    deps: SlurmDeps = {},
  ) {
    this.run = deps.run ?? runCommand;
    this.templateText = options.template;
  }

  private async template(): Promise<string> {
    if (this.templateText === undefined) {
      const file = this.options.templateFile as string;
      try {
        this.templateText = await fs.readFile(file, 'utf8');
      } catch (err) {
        throw new Error(`${PLUGIN}: cannot read templateFile ${file}: ${errorText(err)}`);
      }
    }
    return this.templateText;
  }

  /**
   * One squeue call for all names (chunked only past ~100 KB of names); then the jobcomp file for
   * names squeue no longer shows. Several jobs with one name (a duplicate made before this check
   * existed) resolve to the lowest job id, so the answer is stable across calls.
   */
  async findSubmittedWorkers(workers: WorkSpec[]): Promise<Map<number, SubmitResult>> {
    const byName = new Map<string, WorkSpec>();
    for (const w of workers) byName.set(batchJobName(this.ctx.harvesterID, w.workerID), w);
    const found = new Map<string, SlurmJobRecord>();
    const keep = (r: SlurmJobRecord) => {
      const prev = found.get(r.name);
      if (byName.has(r.name) && (prev === undefined || Number(r.jobId) < Number(prev.jobId)))
        found.set(r.name, r);
    };
    for (const names of chunkByLength([...byName.keys()])) {
      const res = await this.run(
        'squeue',
        [
          ...slurmClusterArgs(this.options.cluster),
          '-h',
          '-t',
          'all',
          `--name=${names.join(',')}`,
          '-O',
          SQUEUE_FORMAT,
        ],
        { timeoutMs: this.options.commandTimeoutMs, env: slurmQueryEnv() },
      );
      for (const r of parseSqueue(res.stdout)) keep(r);
    }
    if (this.options.jobCompLoc && found.size < byName.size) {
      try {
        for (const r of (await readJobComp(this.options.jobCompLoc)).values())
          if (this.options.cluster === undefined || r.cluster === this.options.cluster) keep(r);
      } catch (err) {
        // No file yet = no job has ended yet; anything else must not be mistaken for "not submitted".
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
    }
    const out = new Map<number, SubmitResult>();
    for (const [name, record] of found) {
      const w = byName.get(name) as WorkSpec;
      out.set(
        w.workerID,
        this.successResult(
          w,
          { jobId: record.jobId, cluster: this.options.cluster },
          `found existing Slurm job ${record.jobId} (${record.state})`,
        ),
      );
    }
    return out;
  }

  async submitWorkers(workers: WorkSpec[]): Promise<SubmitResult[]> {
    if (workers.length === 0) return [];
    let existing = new Map<number, SubmitResult>();
    try {
      // One squeue per submit would halve the submit rate; only a retry can find a job it made.
      if ((this.ctx.submitAttempt ?? 2) > 1) existing = await this.findSubmittedWorkers(workers);
    } catch (err) {
      // Without the lookup a retry could make a second job: report a temporary failure instead.
      const diag = `${PLUGIN}: cannot check for existing jobs before submitting: ${errorText(err)}`;
      return workers.map(() => ({ outcome: 'temporaryFailure', diag }));
    }
    let template: string;
    try {
      template = await this.template();
    } catch (err) {
      return workers.map(() => ({ outcome: 'permanentFailure', diag: errorText(err) }));
    }
    return mapWithConcurrency(workers, this.options.nProcesses, (w) =>
      existing.has(w.workerID)
        ? Promise.resolve(existing.get(w.workerID) as SubmitResult)
        : this.submitOne(w, template),
    );
  }

  private logFiles(accessPoint: string, workerID: number): { stdout: string; stderr: string } {
    return {
      stdout: path.join(accessPoint, `slurm-${workerID}.out`),
      stderr: path.join(accessPoint, `slurm-${workerID}.err`),
    };
  }

  private successResult(w: WorkSpec, job: { jobId: string; cluster?: string }, diag = ''): SubmitResult {
    let logFiles: SubmitResult['logFiles'];
    try {
      const ap = workerAccessPoint(w, this.options.accessPoint, PLUGIN);
      logFiles = { ...this.logFiles(ap, w.workerID), jdl: path.join(ap, `slurm-${w.workerID}.sh`) };
    } catch {
      logFiles = undefined;
    }
    return {
      outcome: 'success',
      diag,
      // batchID is the Slurm job id alone (PanDA's batchID); the cluster travels in submissionHost.
      batchID: job.jobId,
      submissionHost: slurmSubmissionHost(hostname(), job.cluster),
      queueName: this.options.partition,
      logFiles,
    };
  }

  private async submitOne(w: WorkSpec, template: string): Promise<SubmitResult> {
    let accessPoint: string;
    let script: string;
    try {
      accessPoint = workerAccessPoint(w, this.options.accessPoint, PLUGIN);
      await fs.mkdir(accessPoint, { recursive: true });
      script = path.join(accessPoint, `slurm-${w.workerID}.sh`);
      const values = workerPlaceholders(w, {
        harvesterID: this.ctx.harvesterID,
        accessPoint,
        nCorePerNode: this.options.nCorePerNode,
        localQueueName: this.options.partition,
      });
      await writeFileAtomic(script, expandPlaceholders(template, values));
      await fs.chmod(script, 0o755);
    } catch (err) {
      // A bad access point or template is a config problem: retrying the same worker will not help.
      return { outcome: 'permanentFailure', diag: `${PLUGIN}: worker ${w.workerID}: ${errorText(err)}` };
    }
    const logs = this.logFiles(accessPoint, w.workerID);
    const args = [
      '--parsable',
      `--job-name=${batchJobName(this.ctx.harvesterID, w.workerID)}`,
      `--chdir=${accessPoint}`,
      `--output=${logs.stdout}`,
      `--error=${logs.stderr}`,
    ];
    if (this.options.partition) args.push(`--partition=${this.options.partition}`);
    if (this.options.cluster) args.push(`--clusters=${this.options.cluster}`);
    args.push(...this.options.sbatchArgs, script);
    let stdout: string;
    try {
      stdout = (await this.run('sbatch', args, { timeoutMs: this.options.commandTimeoutMs })).stdout;
    } catch (err) {
      // sbatch saying no (bad option, partition, limits) is temporary for Harvester too: the worker
      // goes to `missed` and the next cycle makes a new one; a timeout may even have submitted it,
      // which the name lookup on retry resolves.
      const diag = err instanceof CommandError ? err.message : errorText(err);
      return { outcome: 'temporaryFailure', diag: `${PLUGIN}: worker ${w.workerID}: ${diag}` };
    }
    let ack: ReturnType<typeof parseSbatchOutput>;
    try {
      ack = parseSbatchOutput(stdout);
    } catch (err) {
      // sbatch exited 0 but said something we cannot read: a job may exist. Temporary, so the
      // retry's name lookup finds it rather than a second job being made blind.
      return { outcome: 'temporaryFailure', diag: `${PLUGIN}: worker ${w.workerID}: ${errorText(err)}` };
    }
    return this.successResult(w, { jobId: ack.jobId, cluster: ack.cluster ?? this.options.cluster });
  }
}

export function createSlurmSubmitter(
  params: PluginParams,
  ctx: PluginContext,
  deps?: SlurmDeps,
): SlurmSubmitter {
  return new SlurmSubmitter(slurmSubmitterOptions(params), ctx, deps);
}
