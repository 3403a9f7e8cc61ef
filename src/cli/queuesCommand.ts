/**
 * `harvester queues validate FILE...` and `harvester queues show FILE QUEUE`: check Harvester
 * queue-config files the way the workers will read them, before a deployment picks them up.
 * The run* functions return the exit code instead of exiting, so tests and the CLI main share them.
 */
import type { Command } from 'commander';
import {
  type ConfigError,
  type KnownPluginPredicate,
  loadQueueConfigFile,
  MANDATORY_PLUGIN_SLOTS,
  OPTIONAL_PLUGIN_SLOTS,
  QUEUE_LIMIT_ATTRS,
  type QueueConfig,
  type QueueConfigLoadResult,
} from '../core/queueConfig';

/** Where the commands write; `console` fits. */
export interface CommandOutput {
  log(line: string): void;
  error(line: string): void;
}

export interface QueuesCommandOptions {
  /** Machine-readable output. */
  json?: boolean;
  /** Expands ${harvesterID} at load time, as the workers of that instance will. */
  harvesterID?: string;
  /** Checks module/name against the plugin registry when given (the CLI main passes the registry's). */
  isKnownPlugin?: KnownPluginPredicate;
}

/** What `validate` prints per queue. */
export interface QueueSummary {
  queueName: string;
  mapType: QueueConfig['mapType'];
  status: string;
  active: boolean;
  /** slot -> "module_basename.ClassName"; credmanagers numbered. */
  plugins: Record<string, string>;
  /** Limits that are set (maxWorkers and maxNewWorkersPerCycle always). */
  limits: Record<string, number>;
  /** Task queue of the plugin activities; null = the central worker's. */
  taskQueue: string | null;
  configID: string;
}

export interface FileReport {
  file: string;
  queues: QueueSummary[];
  templates: string[];
  errors: ConfigError[];
  warnings: ConfigError[];
}

export const EXIT_OK = 0;
export const EXIT_INVALID = 1;

export function summarizeQueue(queue: QueueConfig): QueueSummary {
  const plugins: Record<string, string> = {};
  for (const slot of [...MANDATORY_PLUGIN_SLOTS, ...OPTIONAL_PLUGIN_SLOTS]) {
    const section = queue[slot];
    if (section !== undefined) plugins[slot] = pluginLabel(section.module, section.name);
  }
  queue.credmanagers.forEach((section, i) => {
    plugins[`credmanagers[${i}]`] = pluginLabel(section.module, section.name);
  });
  const limits: Record<string, number> = {};
  for (const attr of QUEUE_LIMIT_ATTRS) {
    const value = queue[attr];
    if (value !== null) limits[attr] = value;
  }
  return {
    queueName: queue.queueName,
    mapType: queue.mapType,
    status: queue.queueStatus,
    active: queue.active,
    plugins,
    limits,
    taskQueue: queue.temporal.taskQueue,
    configID: queue.configID,
  };
}

function pluginLabel(module: string, name: string): string {
  const base = module.split('.').filter((p) => p !== '');
  return `${base[base.length - 1] ?? module}.${name}`;
}

function loadOptions(opts: QueuesCommandOptions) {
  return {
    ...(opts.harvesterID === undefined ? {} : { harvesterID: opts.harvesterID }),
    ...(opts.isKnownPlugin === undefined ? {} : { isKnownPlugin: opts.isKnownPlugin }),
  };
}

function reportOf(file: string, result: QueueConfigLoadResult): FileReport {
  return {
    file,
    queues: result.queues.map(summarizeQueue),
    templates: result.templates,
    errors: result.errors,
    warnings: result.warnings,
  };
}

const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;

function printReport(report: FileReport, out: CommandOutput): void {
  const inactive = report.queues.filter((q) => !q.active).length;
  out.log(
    `${report.file}: ${plural(report.queues.length, 'valid queue')}` +
      (inactive > 0 ? ` (${inactive} inactive)` : '') +
      `, ${plural(report.templates.length, 'template')}, ${plural(report.errors.length, 'error')}, ` +
      plural(report.warnings.length, 'warning'),
  );
  for (const q of report.queues) {
    out.log(`  ${q.queueName}  ${q.mapType}  ${q.status}${q.active ? '' : ' (inactive)'}`);
    out.log(`    configID   ${q.configID}`);
    out.log(`    taskQueue  ${q.taskQueue ?? "(central worker's)"}`);
    out.log(
      `    plugins    ${Object.entries(q.plugins)
        .map(([slot, label]) => `${slot}=${label}`)
        .join(' ')}`,
    );
    out.log(
      `    limits     ${Object.entries(q.limits)
        .map(([attr, value]) => `${attr}=${value}`)
        .join(' ')}`,
    );
  }
  if (report.templates.length > 0) out.log(`  templates: ${report.templates.join(', ')}`);
  for (const e of report.errors) out.error(`error: ${e.message}`);
  for (const w of report.warnings) out.error(`warning: ${w.message}`);
}

/** Validates every file; prints resolved queues or every error. Exit 1 when any file has an error. */
export async function runQueuesValidate(
  files: string[],
  opts: QueuesCommandOptions,
  out: CommandOutput = console,
): Promise<number> {
  const reports = files.map((file) => reportOf(file, loadQueueConfigFile(file, loadOptions(opts))));
  const errorCount = reports.reduce((n, r) => n + r.errors.length, 0);
  const ok = errorCount === 0;
  if (opts.json) {
    out.log(JSON.stringify({ ok, files: reports }, null, 2));
  } else {
    for (const report of reports) printReport(report, out);
    out.log(
      ok
        ? `OK: ${plural(files.length, 'file')} valid`
        : `INVALID: ${plural(errorCount, 'error')} in ${plural(reports.filter((r) => r.errors.length > 0).length, 'file')}; ` +
            'fix them and run this again (queues with errors are not loaded)',
    );
  }
  return ok ? EXIT_OK : EXIT_INVALID;
}

/** Prints one resolved queue as JSON (what the plugins will receive). Exit 1 when it does not resolve. */
export async function runQueuesShow(
  file: string,
  queueName: string,
  opts: QueuesCommandOptions,
  out: CommandOutput = console,
): Promise<number> {
  const result = loadQueueConfigFile(file, loadOptions(opts));
  const queue = result.queues.find((q) => q.queueName === queueName);
  const own = result.errors.filter((e) => e.queue === queueName || e.queue === null);
  const problem =
    queue !== undefined ? null : own.length > 0 ? null : notFoundMessage(file, queueName, result);

  if (opts.json) {
    if (queue !== undefined) out.log(JSON.stringify(queue, null, 2));
    else out.log(JSON.stringify({ ok: false, message: problem, errors: own }, null, 2));
  } else if (queue !== undefined) {
    out.log(JSON.stringify(queue, null, 2));
    const others = result.errors.length - own.length;
    if (others > 0) {
      out.error(
        `note: ${file} has ${plural(others, 'error')} in other queues; run "harvester queues validate ${file}"`,
      );
    }
  } else {
    if (problem !== null) out.error(`error: ${problem}`);
    for (const e of own) out.error(`error: ${e.message}`);
  }
  return queue !== undefined ? EXIT_OK : EXIT_INVALID;
}

function notFoundMessage(file: string, queueName: string, result: QueueConfigLoadResult): string {
  if (result.templates.includes(queueName)) {
    return `${queueName} in ${file} is a template, not a queue; show a queue that uses it instead`;
  }
  const names = result.queues.map((q) => q.queueName);
  return `${file} has no queue ${queueName}; valid queues there: ${names.length > 0 ? names.join(', ') : 'none'}`;
}

/** Adds `queues validate` and `queues show` to the harvester CLI. */
export function registerQueuesCommands(
  program: Command,
  deps: { isKnownPlugin?: KnownPluginPredicate; output?: CommandOutput } = {},
): Command {
  const out = deps.output ?? console;
  const queues = program
    .command('queues')
    .description(
      'Harvester queue configuration (panda_queueconfig.json): check it, see what the workers will use',
    );

  queues
    .command('validate')
    .description(
      'Load queue-config files as the workers will and print each resolved queue (map type, status, plugins, ' +
        'limits, configID), or every error with file, queue, field, value and what was expected. ' +
        'Exit code 1 when any file has an error.',
    )
    .argument('<files...>', 'queue-config JSON files (Harvester panda_queueconfig.json format)')
    .option('--json', 'print the result as JSON')
    // biome-ignore lint/suspicious/noTemplateCurlyInString: the literal placeholder name, in help text
    .option('--harvester-id <id>', 'expand ${harvesterID} as this instance will')
    .action(async (files: string[], opts: { json?: boolean; harvesterId?: string }) => {
      process.exitCode = await runQueuesValidate(
        files,
        { json: opts.json, harvesterID: opts.harvesterId, isKnownPlugin: deps.isKnownPlugin },
        out,
      );
    });

  queues
    .command('show')
    .description(
      'Print one resolved queue as JSON: template merged, common copied in, limits clipped, defaults filled',
    )
    .argument('<file>', 'queue-config JSON file')
    .argument('<queue>', 'queue name as written in the file')
    .option('--json', 'print errors as JSON too')
    // biome-ignore lint/suspicious/noTemplateCurlyInString: the literal placeholder name, in help text
    .option('--harvester-id <id>', 'expand ${harvesterID} as this instance will')
    .action(async (file: string, queue: string, opts: { json?: boolean; harvesterId?: string }) => {
      process.exitCode = await runQueuesShow(
        file,
        queue,
        { json: opts.json, harvesterID: opts.harvesterId, isKnownPlugin: deps.isKnownPlugin },
        out,
      );
    });

  return queues;
}
