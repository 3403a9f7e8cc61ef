/**
 * LocalSubmitter: a worker is a process on this machine (the demo default, and what a laptop can
 * run without a batch system). The pilot script is a template filled per worker; the process runs
 * detached in its own session with stdout/stderr in the access point, so it outlives a harvester
 * restart and the monitor finds everything it needs in files.
 */
import { spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import { hostname } from 'node:os';
import type { WorkSpec } from '../../core/specs';
import { workerAccessPoint } from '../common/accessPoint';
import { errorText, writeFileAtomic } from '../common/files';
import { optionalString } from '../common/params';
import { expandPlaceholders, workerPlaceholders } from '../common/template';
import type { PluginContext, PluginParams, SubmitResult, Submitter } from '../types';
import { isWorkerAlive, localFile, readExitCode, readPid, WRAPPER_NAME, WRAPPER_SCRIPT } from './process';

const PLUGIN = 'LocalSubmitter';

/** Used when the queue config gives no template: a pilot that says hello and exits 0. */
export const DEFAULT_PILOT_TEMPLATE = `#!/bin/sh
echo "local pilot for worker \${workerID} of \${harvesterID} at \${computingSite} (\${nCore} cores) in \${accessPoint}"
sleep 2
`;

export interface LocalSubmitterOptions {
  templateFile?: string;
  template?: string;
  /** Program that runs the filled-in pilot script. */
  interpreter: string;
  accessPoint?: string;
}

export function localSubmitterOptions(params: PluginParams): LocalSubmitterOptions {
  return {
    templateFile: optionalString(params, PLUGIN, 'templateFile'),
    template: optionalString(params, PLUGIN, 'template'),
    interpreter: optionalString(params, PLUGIN, 'interpreter') ?? '/bin/sh',
    accessPoint: optionalString(params, PLUGIN, 'accessPoint'),
  };
}

export class LocalSubmitter implements Submitter {
  private templateText: string | undefined;

  constructor(
    readonly options: LocalSubmitterOptions,
    private readonly ctx: PluginContext,
  ) {
    this.templateText =
      options.templateFile === undefined ? (options.template ?? DEFAULT_PILOT_TEMPLATE) : undefined;
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

  private result(ap: string, pid: number, diag = ''): SubmitResult {
    return {
      outcome: 'success',
      diag,
      batchID: String(pid),
      submissionHost: hostname(),
      nodeID: hostname(),
      logFiles: {
        stdout: localFile(ap, 'stdout'),
        stderr: localFile(ap, 'stderr'),
        jdl: localFile(ap, 'script'),
      },
    };
  }

  /** A worker whose access point already holds a pid file was started before (a retried submit). */
  async findSubmittedWorkers(workers: WorkSpec[]): Promise<Map<number, SubmitResult>> {
    const out = new Map<number, SubmitResult>();
    for (const w of workers) {
      let ap: string;
      try {
        ap = workerAccessPoint(w, this.options.accessPoint, PLUGIN);
      } catch {
        continue;
      }
      const pid = await readPid(ap);
      if (pid === undefined) continue;
      const state = (await isWorkerAlive(pid, ap))
        ? 'running'
        : (await readExitCode(ap)) !== undefined
          ? 'ended'
          : 'gone';
      out.set(w.workerID, this.result(ap, pid, `found existing local process ${pid} (${state})`));
    }
    return out;
  }

  async submitWorkers(workers: WorkSpec[]): Promise<SubmitResult[]> {
    let template: string;
    try {
      template = await this.template();
    } catch (err) {
      return workers.map(() => ({ outcome: 'permanentFailure', diag: errorText(err) }));
    }
    const existing = await this.findSubmittedWorkers(workers);
    const results: SubmitResult[] = [];
    for (const w of workers) {
      const found = existing.get(w.workerID);
      results.push(found ?? (await this.startOne(w, template)));
    }
    return results;
  }

  private async startOne(w: WorkSpec, template: string): Promise<SubmitResult> {
    let ap: string;
    try {
      ap = workerAccessPoint(w, this.options.accessPoint, PLUGIN);
      await fs.mkdir(ap, { recursive: true });
      const values = workerPlaceholders(w, { harvesterID: this.ctx.harvesterID, accessPoint: ap });
      await writeFileAtomic(localFile(ap, 'script'), expandPlaceholders(template, values));
      await fs.chmod(localFile(ap, 'script'), 0o755);
    } catch (err) {
      return { outcome: 'permanentFailure', diag: `${PLUGIN}: worker ${w.workerID}: ${errorText(err)}` };
    }
    const out = await fs.open(localFile(ap, 'stdout'), 'a');
    const err = await fs.open(localFile(ap, 'stderr'), 'a');
    try {
      const pid = await new Promise<number>((resolve, reject) => {
        const child = spawn(
          '/bin/sh',
          [
            '-c',
            WRAPPER_SCRIPT,
            WRAPPER_NAME,
            this.options.interpreter,
            localFile(ap, 'script'),
            localFile(ap, 'exitCode'),
          ],
          { cwd: ap, detached: true, stdio: ['ignore', out.fd, err.fd] },
        );
        child.once('error', reject);
        child.once('spawn', () => {
          // Not our child to wait for: the worker lives on its own, the monitor reads its files.
          child.unref();
          resolve(child.pid as number);
        });
      });
      await writeFileAtomic(localFile(ap, 'pid'), `${pid}\n`);
      return this.result(ap, pid);
    } catch (e) {
      return {
        outcome: 'temporaryFailure',
        diag: `${PLUGIN}: worker ${w.workerID}: cannot start: ${errorText(e)}`,
      };
    } finally {
      await out.close();
      await err.close();
    }
  }
}

export function createLocalSubmitter(params: PluginParams, ctx: PluginContext): LocalSubmitter {
  return new LocalSubmitter(localSubmitterOptions(params), ctx);
}
