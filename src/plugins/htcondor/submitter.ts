/**
 * HTCondorSubmitter: many workers in ONE condor_submit, as one cluster.
 *
 * The .sdf template is filled with Harvester's placeholders. A placeholder whose value is the same
 * for every worker of the call is written in directly; one that differs per worker (workerID,
 * accessPoint, nCore, ...) becomes a submit macro `$(hw_<key>)` whose values come from a
 * `queue hw_a,hw_b from ( ... )` table, one row per worker, so proc N of the cluster is worker N.
 * Each job carries `+harvesterID` and `+harvesterWorkerID` so a retried submit can find it.
 */
import { promises as fs } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import * as path from 'node:path';
import type { WorkSpec } from '../../core/specs';
import { workerAccessPoint } from '../common/accessPoint';
import { errorText, writeFileAtomic } from '../common/files';
import { numberParam, optionalNumber, optionalString } from '../common/params';
import {
  expandPlaceholders,
  lookupPlaceholder,
  placeholdersIn,
  workerPlaceholders,
} from '../common/template';
import { type CommandRunner, runCommand } from '../exec';
import type { PluginContext, PluginParams, SubmitResult, Submitter } from '../types';
import { adBatchId, parseSubmitTerse } from './parse';
import { condorQuery } from './query';
import { classAdString, type ScheddRef, scheddArgs, scheddFromParams, submissionHostOf } from './schedd';

const PLUGIN = 'HTCondorSubmitter';

export interface CondorDeps {
  run?: CommandRunner;
  /** The local schedd's name (default: this host's name). */
  localName?: string;
}

export interface HTCondorSubmitterOptions extends ScheddRef {
  templateFile?: string;
  template?: string;
  accessPoint?: string;
  /** Where submit description files are written (kept as the workers' `jdl` log). */
  submitDir: string;
  nCorePerNode?: number;
  commandTimeoutMs: number;
}

export function htcondorSubmitterOptions(params: PluginParams): HTCondorSubmitterOptions {
  const templateFile = optionalString(params, PLUGIN, 'templateFile');
  const template = optionalString(params, PLUGIN, 'template');
  if (templateFile === undefined && template === undefined) {
    throw new Error(`${PLUGIN}: set "templateFile" (path of the .sdf template) in the submitter section`);
  }
  return {
    ...scheddFromParams(params, PLUGIN),
    templateFile,
    template,
    accessPoint: optionalString(params, PLUGIN, 'accessPoint'),
    submitDir: optionalString(params, PLUGIN, 'submitDir') ?? path.join(tmpdir(), 'harvester-condor-submit'),
    nCorePerNode: optionalNumber(params, PLUGIN, 'nCorePerNode'),
    commandTimeoutMs: numberParam(params, PLUGIN, 'commandTimeout', 120) * 1000,
  };
}

/** A value in a `queue ... from` row cannot hold separators or quotes: the table has no escaping. */
const ROW_VALUE = /^[^\s,"'()]+$/;
const QUEUE_LINE = /^\s*queue\b/im;

/** `_workerID_3.2` → `hw__workerID_3_2`: macro names are letters, digits and underscores. */
export function macroName(key: string): string {
  return `hw_${key.replace(/[^A-Za-z0-9_]/g, '_')}`;
}

interface Prepared {
  worker: WorkSpec;
  index: number;
  values: Record<string, string | number | undefined>;
}

/**
 * Builds the submit description for a batch: the template with per-worker placeholders turned into
 * macros, the harvester attributes, and the queue-from table. Pure, so tests check it directly.
 */
export function buildSubmitDescription(template: string, harvesterID: string, rows: Prepared[]): string {
  const used = placeholdersIn(template).filter((k) =>
    rows.every((r) => lookupPlaceholder(k, r.values) !== undefined),
  );
  const perWorker = new Set(
    used.filter((k) => new Set(rows.map((r) => lookupPlaceholder(k, r.values))).size > 1 || k === 'workerID'),
  );
  perWorker.add('workerID');
  const columns = [...perWorker];
  const common = rows[0].values;
  const body = expandPlaceholders(template, common, (key, value) =>
    perWorker.has(key) ? `$(${macroName(key)})` : value,
  );
  const table = rows.map((r) => columns.map((k) => lookupPlaceholder(k, r.values) as string).join(','));
  return [
    body.trimEnd(),
    '',
    `+harvesterID = ${classAdString(harvesterID)}`,
    `+harvesterWorkerID = $(${macroName('workerID')})`,
    `queue ${columns.map(macroName).join(',')} from (`,
    ...table.map((row) => `  ${row}`),
    ')',
    '',
  ].join('\n');
}

export class HTCondorSubmitter implements Submitter {
  private readonly run: CommandRunner;
  private readonly localName: string;
  private templateText: string | undefined;

  constructor(
    readonly options: HTCondorSubmitterOptions,
    private readonly ctx: PluginContext,
    deps: CondorDeps = {},
  ) {
    this.run = deps.run ?? runCommand;
    this.localName = deps.localName ?? hostname();
    this.templateText = options.template;
  }

  private get submissionHost(): string {
    return submissionHostOf(this.options, this.localName);
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
    if (QUEUE_LINE.test(this.templateText)) {
      throw new Error(
        `${PLUGIN}: the template must not contain a queue statement; the submitter adds one for the whole batch`,
      );
    }
    return this.templateText;
  }

  /** One condor_q and one condor_history, constrained to this harvester's attribute and the worker ids. */
  async findSubmittedWorkers(workers: WorkSpec[]): Promise<Map<number, SubmitResult>> {
    const out = new Map<number, SubmitResult>();
    if (workers.length === 0) return out;
    const wanted = new Set(workers.map((w) => w.workerID));
    const constraint = `harvesterID == ${classAdString(this.ctx.harvesterID)} && member(harvesterWorkerID, {${[...wanted].join(',')}})`;
    const args = [
      ...scheddArgs(this.submissionHost, this.localName),
      '-json',
      '-attributes',
      'ClusterId,ProcId,JobStatus,harvesterWorkerID',
      '-constraint',
      constraint,
    ];
    for (const tool of ['condor_q', 'condor_history'] as const) {
      for (const ad of await condorQuery(this.run, tool, args, this.options.commandTimeoutMs)) {
        const id = ad.harvesterWorkerID;
        if (typeof id === 'number' && wanted.has(id) && !out.has(id)) {
          out.set(id, {
            outcome: 'success',
            diag: `found existing condor job ${adBatchId(ad)}`,
            batchID: adBatchId(ad),
            submissionHost: this.submissionHost,
          });
        }
      }
    }
    return out;
  }

  async submitWorkers(workers: WorkSpec[]): Promise<SubmitResult[]> {
    const results: SubmitResult[] = new Array(workers.length);
    if (workers.length === 0) return results;
    let template: string;
    let existing: Map<number, SubmitResult>;
    try {
      template = await this.template();
    } catch (err) {
      return workers.map(() => ({ outcome: 'permanentFailure', diag: errorText(err) }));
    }
    try {
      existing = await this.findSubmittedWorkers(workers);
    } catch (err) {
      const diag = `${PLUGIN}: cannot check for existing jobs before submitting: ${errorText(err)}`;
      return workers.map(() => ({ outcome: 'temporaryFailure', diag }));
    }

    const rows: Prepared[] = [];
    for (const [index, w] of workers.entries()) {
      const found = existing.get(w.workerID);
      if (found) {
        results[index] = found;
        continue;
      }
      try {
        const ap = workerAccessPoint(w, this.options.accessPoint, PLUGIN);
        await fs.mkdir(ap, { recursive: true });
        const values = workerPlaceholders(w, {
          harvesterID: this.ctx.harvesterID,
          accessPoint: ap,
          nCorePerNode: this.options.nCorePerNode,
        });
        for (const key of placeholdersIn(template)) {
          const v = lookupPlaceholder(key, values);
          if (v !== undefined && !ROW_VALUE.test(v))
            throw new Error(`placeholder ${key} = ${JSON.stringify(v)} cannot go into a queue-from table`);
        }
        rows.push({ worker: w, index, values });
      } catch (err) {
        results[index] = {
          outcome: 'permanentFailure',
          diag: `${PLUGIN}: worker ${w.workerID}: ${errorText(err)}`,
        };
      }
    }
    if (rows.length === 0) return results;

    const sdf = buildSubmitDescription(template, this.ctx.harvesterID, rows);
    const sdfFile = path.join(
      this.options.submitDir,
      `harvester-${this.ctx.harvesterID}-${rows[0].worker.workerID}-${rows.length}.sdf`,
    );
    try {
      await fs.mkdir(this.options.submitDir, { recursive: true });
      await writeFileAtomic(sdfFile, sdf);
      const res = await this.run(
        'condor_submit',
        ['-terse', ...scheddArgs(this.submissionHost, this.localName), sdfFile],
        {
          timeoutMs: this.options.commandTimeoutMs,
        },
      );
      const { clusterId, firstProc, lastProc } = parseSubmitTerse(res.stdout);
      if (lastProc - firstProc + 1 !== rows.length) {
        throw new Error(`condor_submit made ${lastProc - firstProc + 1} jobs for ${rows.length} workers`);
      }
      for (const [i, r] of rows.entries()) {
        results[r.index] = {
          outcome: 'success',
          diag: '',
          batchID: `${clusterId}.${firstProc + i}`,
          submissionHost: this.submissionHost,
          computingElement: this.options.schedd,
          logFiles: { jdl: sdfFile },
        };
      }
    } catch (err) {
      // Temporary: a timeout may still have submitted the cluster; the retry's lookup finds it.
      for (const r of rows)
        results[r.index] = { outcome: 'temporaryFailure', diag: `${PLUGIN}: ${errorText(err)}` };
    }
    return results;
  }
}

export function createHTCondorSubmitter(
  params: PluginParams,
  ctx: PluginContext,
  deps?: CondorDeps,
): HTCondorSubmitter {
  return new HTCondorSubmitter(htcondorSubmitterOptions(params), ctx, deps);
}
