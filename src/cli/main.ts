/**
 * The `harvester` command. Every subcommand has --help; exit codes: 0 ok, 1 failure, 2 usage error.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from '@temporalio/worker';
import { Command, CommanderError } from 'commander';
import { defaultDevServerOptions, ensureDevServer, isHealthy, stopDevServer } from '../../temporal/devServer';
import { createPluginActivities } from '../activities/plugin';
import type { QueueConfigSource } from '../config/queueConfigStore';
import { type HarvesterSettings, loadSettings, SettingsError } from '../config/settings';
import { openHarvesterDatabase } from '../db/bootstrap';
import { migrate, migrationStatus } from '../db/migrate';
import { DEMO_QUEUE, demoQueueConfig } from '../demo/demoQueueConfig';
import { createLogger, type Logger } from '../observability/logger';
import { installTemporalLogging } from '../observability/temporalLogging';
import { type AuthOptions, createPandaClient, type PandaCommunicator } from '../panda';
import { createPluginRegistry } from '../plugins';
import { connectWorkerConnection } from '../temporal/connection';
import { startCentralProcess } from './centralProcess';
import { CliUsageError, print, registerOperateCommands } from './operateCommands';
import { registerQueuesCommands } from './queuesCommand';

/** The PanDA credentials (also used for an https: remote queue config, as Harvester's cacher does). */
function pandaAuthFromEnv(): AuthOptions {
  return {
    tokenFile: process.env.HARVESTER_PANDA_TOKEN_FILE || undefined,
    origin: process.env.HARVESTER_PANDA_ORIGIN || undefined,
    certFile: process.env.HARVESTER_PANDA_CERT_FILE || undefined,
    keyFile: process.env.HARVESTER_PANDA_KEY_FILE || undefined,
    caFile: process.env.HARVESTER_PANDA_CA_FILE || undefined,
  };
}

function pandaFromEnv(settings: HarvesterSettings, log: Logger): PandaCommunicator | undefined {
  const url = process.env.HARVESTER_PANDA_URL;
  if (!url) return undefined;
  return createPandaClient({
    baseUrl: url,
    harvesterId: settings.harvesterID,
    auth: pandaAuthFromEnv(),
    logger: log,
  });
}

/** With only a remote queue config, the local layer is empty. */
const NO_LOCAL_QUEUE_CONFIG: QueueConfigSource = { inline: {}, name: '(no local queue config file)' };

/** Waits for SIGINT/SIGTERM once, then runs stop; a second signal exits at once. */
function onShutdown(log: Logger, stop: () => Promise<void>): void {
  let stopping = false;
  const handler = (signal: string) => {
    if (stopping) {
      log.warn({ signal }, 'second signal: exiting now');
      process.exit(130);
    }
    stopping = true;
    log.info({ signal }, 'stopping (finishing running activities; press Ctrl-C again to force)');
    stop().then(
      () => process.exit(0),
      (err: Error) => {
        log.error({ err: err.message }, 'error while stopping');
        process.exit(1);
      },
    );
  };
  process.once('SIGINT', () => handler('SIGINT'));
  process.once('SIGTERM', () => handler('SIGTERM'));
}

async function runStart(): Promise<void> {
  let settings = loadSettings();
  const log = createLogger({ pretty: true, level: settings.logLevel });
  const stops: Array<() => Promise<unknown>> = [];
  const stopAll = async () => {
    for (const stop of stops.reverse()) {
      // Each step is bounded: a part that already died must not keep the others from stopping.
      const bounded = new Promise((resolve) => setTimeout(resolve, 30000).unref());
      await Promise.race([stop(), bounded]).catch((err: Error) =>
        log.error({ err: err.message }, 'stop failed'),
      );
    }
  };
  try {
    let uiUrl = process.env.TEMPORAL_UI_URL ?? '';
    let devServerAddress: string | undefined;
    // What the suggested bin/harvester commands need to find a dev server on another port.
    let cliEnv = '';
    if (!process.env.TEMPORAL_ADDRESS) {
      const serverOpts = defaultDevServerOptions();
      const server = await ensureDevServer(serverOpts);
      uiUrl = server.uiUrl;
      devServerAddress = server.address;
      // The dev server's port may be moved (TEMPORAL_DEV_PORT): connect to the one just found or started.
      if (server.address !== settings.temporal.address) cliEnv = `TEMPORAL_ADDRESS=${server.address} `;
      settings = { ...settings, temporal: { ...settings.temporal, address: server.address } };
      log.info(
        { address: server.address, ui: server.uiUrl, log: server.logFile },
        server.startedHere ? 'Temporal dev server started' : 'Temporal dev server found running',
      );
      if (server.startedHere) stops.push(() => stopDevServer(serverOpts));
    }
    let panda = pandaFromEnv(settings, log);
    let simUrl: string | undefined;
    if (!panda) {
      // No PanDA server configured: serve the demo with the PanDA simulator, over real HTTP.
      const { startPandaSim } = await import('../../test/panda-sim');
      const sim = await startPandaSim({ port: Number(process.env.HARVESTER_DEMO_PANDA_PORT || 0) });
      sim.control.addQueue(DEMO_QUEUE);
      // Activated jobs are the pull-mode demand the worker adjuster sizes the queue by.
      sim.control.addJobs(200, { computingSite: DEMO_QUEUE, prodSourceLabel: 'managed' });
      simUrl = sim.url;
      stops.push(() => sim.close());
      panda = createPandaClient({ baseUrl: sim.url, harvesterId: settings.harvesterID, logger: log });
    }
    const queueSource: QueueConfigSource = settings.queueConfigFile
      ? { file: settings.queueConfigFile }
      : settings.remoteQueueConfig
        ? NO_LOCAL_QUEUE_CONFIG
        : { inline: demoQueueConfig(settings.dataDir), name: 'embedded demo queue config' };
    const central = await startCentralProcess({
      settings,
      log,
      queueSource,
      panda,
      startInstance: true,
      queueSyncIntervalSeconds: 60,
      remoteQueueConfigAuth: pandaAuthFromEnv(),
    });
    stops.push(() => central.stop());
    const queue = settings.queueConfigFile ? '<QUEUE>' : DEMO_QUEUE;
    const ui = uiUrl || 'your Temporal UI';
    const addressFlag = devServerAddress ? ` --address ${devServerAddress}` : '';
    console.log(
      [
        '',
        'temporal-harvester is running.',
        `  Temporal UI:     ${ui}/namespaces/${settings.temporal.namespace}/workflows`,
        `  instance:        ${settings.harvesterID} (workflow instance-${settings.harvesterID})`,
        `  queue config:    ${settings.queueConfigFile ?? (settings.remoteQueueConfig ? '(none local)' : 'embedded demo (queue DEMO_LOCAL, local processes as pilots)')}${settings.remoteQueueConfig ? ` + ${settings.remoteQueueConfig.url}` : ''}`,
        `  PanDA:           ${simUrl ? `simulator at ${simUrl}` : process.env.HARVESTER_PANDA_URL}`,
        `  harvester DB:    ${central.databaseWhere}`,
        '',
        'Try, in another shell:',
        `  .tools/bin/temporal workflow list${addressFlag} --query "HarvesterQueue='${queue}' AND ExecutionStatus='Running'"`,
        `  ${cliEnv}bin/harvester workers list --queue ${queue}`,
        `  ${cliEnv}bin/harvester queues state ${queue}`,
        `  ${cliEnv}bin/harvester queues pause ${queue} --reason "trying it"`,
        `  ${cliEnv}bin/harvester workers kill --queue ${queue} --status running --reason "trying it" --dry-run`,
        '',
        'Ctrl-C stops everything this command started.',
        '',
      ].join('\n'),
    );
    onShutdown(log, stopAll);
    await central.done;
  } catch (err) {
    await stopAll();
    throw err;
  }
}

async function runWorker(opts: { queueConfig?: string; instance: boolean }): Promise<void> {
  const settings = loadSettings();
  const log = createLogger({ level: settings.logLevel });
  const file = opts.queueConfig ?? settings.queueConfigFile;
  if (!file && !settings.remoteQueueConfig)
    throw new CliUsageError(
      'harvester worker: set HARVESTER_QUEUE_CONFIG or pass --queue-config FILE (or set HARVESTER_QUEUE_CONFIG_URL)',
    );
  if (file && !existsSync(file))
    throw new CliUsageError(`harvester worker: queue config file ${file} does not exist`);
  const central = await startCentralProcess({
    settings,
    log,
    queueSource: file ? { file } : NO_LOCAL_QUEUE_CONFIG,
    panda: pandaFromEnv(settings, log),
    startInstance: opts.instance,
    remoteQueueConfigAuth: pandaAuthFromEnv(),
  });
  onShutdown(log, () => central.stop());
  await central.done;
}

async function runEdge(opts: {
  taskQueue: string;
  maxConcurrent: number;
  drainSeconds: number;
}): Promise<void> {
  const settings = loadSettings();
  const log = createLogger({ level: settings.logLevel, name: 'harvester-edge' });
  installTemporalLogging(log, { metricsPort: settings.metricsPort });
  const connection = await connectWorkerConnection(settings.temporal);
  const worker = await Worker.create({
    connection,
    namespace: settings.temporal.namespace,
    taskQueue: opts.taskQueue,
    // Plugin activities only: no workflows, no DB. Batch commands run here, next to the batch system.
    activities: createPluginActivities({
      registry: createPluginRegistry(),
      // This host's mirrors of its edge queues' live workers (the bulk monitor's state).
      mirrorDir: join(settings.dataDir, 'edge-monitor'),
      activitySlots: opts.maxConcurrent,
    }),
    maxConcurrentActivityTaskExecutions: opts.maxConcurrent,
    // On SIGTERM: stop polling, let running batch commands finish for this long.
    shutdownGraceTime: `${opts.drainSeconds} seconds`,
  });
  log.info(
    { taskQueue: opts.taskQueue, maxConcurrent: opts.maxConcurrent },
    'edge worker running (plugin activities only)',
  );
  onShutdown(log, async () => {
    worker.shutdown();
    await done;
    await connection.close();
  });
  const done = worker.run();
  await done;
}

function positiveIntOption(flag: string) {
  return (v: string) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1)
      throw new CliUsageError(`${flag} ${JSON.stringify(v)}: expected a positive integer`);
    return n;
  };
}

export function buildProgram(): Command {
  const program = new Command('harvester')
    .description('PanDA Harvester on Temporal: keeps batch resources fed with pilots')
    .showHelpAfterError()
    .exitOverride();

  program
    .command('start')
    .description(
      'set up and run everything locally: dev server, DB, PanDA simulator, central worker, demo queue',
    )
    .action(runStart);

  program
    .command('worker')
    .description(
      'run the central process: its main worker (lifecycles) and control worker (queue and instance workflows), with the DB and PanDA activities',
    )
    .option('--queue-config <file>', 'panda_queueconfig.json (default: HARVESTER_QUEUE_CONFIG)')
    .option('--no-instance', 'do not start the instance workflow (another process does)')
    .action(runWorker);

  program
    .command('edge')
    .description('run an activity-only edge worker next to the batch system (no DB, no inbound port)')
    .requiredOption('--task-queue <name>', 'the task queue named in the queue config (temporal.taskQueue)')
    .option(
      '--max-concurrent <n>',
      'cap on concurrent batch commands',
      positiveIntOption('--max-concurrent'),
      20,
    )
    .option(
      '--drain-seconds <n>',
      'on SIGTERM, let running commands finish this long',
      positiveIntOption('--drain-seconds'),
      60,
    )
    .action(runEdge);

  const dev = program
    .command('dev-server')
    .description('the local Temporal dev server (.tools/bin/temporal)');
  dev
    .command('start')
    .description('start it (or find it running): DB file under .data/, UI on TEMPORAL_UI_PORT')
    .action(async () => {
      const h = await ensureDevServer(defaultDevServerOptions());
      console.log(`${h.startedHere ? 'started' : 'found running'}: ${h.address}, UI ${h.uiUrl}`);
    });
  dev
    .command('stop')
    .description('stop the dev server this project started (npm start leaves it running after a crash)')
    .action(async () => {
      console.log(
        (await stopDevServer(defaultDevServerOptions()))
          ? 'stopped'
          : 'no dev server started by this project is running',
      );
    });
  dev
    .command('status')
    .description('exit 0 when it serves, 1 when not')
    .action(() => {
      const o = defaultDevServerOptions();
      const ok = isHealthy(`${o.ip}:${o.port}`);
      console.log(ok ? `serving on ${o.ip}:${o.port}` : `not serving on ${o.ip}:${o.port}`);
      if (!ok) process.exitCode = 1;
    });

  const db = program
    .command('db')
    .description('the harvester database (HARVESTER_DATABASE_URL, or the embedded one)');
  db.command('migrate')
    .description('apply pending migrations; prints the versions applied, or that none were pending')
    .option('--json', 'print JSON ({"applied": [versions]})')
    .action(async (opts: { json?: boolean }) => {
      const settings = loadSettings();
      const log = createLogger({ level: 'warn' });
      // Opening the database applies what is pending and says which.
      const database = await openHarvesterDatabase(settings, log);
      try {
        const applied = [...database.applied, ...(await migrate(database.db))];
        print(opts.json, { applied }, () =>
          applied.length ? `applied ${applied.join(', ')}` : 'up to date: no migration was pending',
        );
      } finally {
        await database.close();
      }
    });
  db.command('status')
    .description('list migrations and when they were applied')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }) => {
      const settings = loadSettings();
      const database = await openHarvesterDatabase(settings, createLogger({ level: 'warn' }));
      try {
        const rows = await migrationStatus(database.db);
        console.log(
          opts.json
            ? JSON.stringify(rows, null, 2)
            : rows
                .map(
                  (r) =>
                    `${String(r.version).padStart(4, '0')} ${r.name}\t${r.appliedAt ? r.appliedAt.toISOString() : 'pending'}`,
                )
                .join('\n'),
        );
      } finally {
        await database.close();
      }
    });

  const registry = createPluginRegistry();
  const queues = registerQueuesCommands(program, {
    isKnownPlugin: (kind, module, name) => registry.has(kind, module, name),
  });
  registerOperateCommands(program, queues);

  program
    .command('panda-sim')
    .description('run the PanDA simulator (for demos and tests)')
    .option('--port <n>', 'port on 127.0.0.1', positiveIntOption('--port'), 25080)
    .option('--queue <name...>', 'queues to create')
    .action(async (opts: { port: number; queue?: string[] }) => {
      const { startPandaSim } = await import('../../test/panda-sim');
      const sim = await startPandaSim({ port: opts.port });
      for (const q of opts.queue ?? []) sim.control.addQueue(q);
      console.log(`PanDA simulator at ${sim.url} (state: ${sim.origin}/sim/state)`);
      await new Promise<void>((resolve) => process.once('SIGINT', () => sim.close().then(resolve)));
    });

  return program;
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv, { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2;
    if (err instanceof CliUsageError || err instanceof SettingsError) {
      console.error(`harvester: ${err.message}`);
      return 2;
    }
    const cause = (err as { cause?: Error }).cause;
    console.error(`harvester: ${(err as Error).message}${cause?.message ? `: ${cause.message}` : ''}`);
    return 1;
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then((code) => {
    // A failure exits at once: a half-started command may hold connections that keep Node alive.
    // Long-running commands (start, worker, edge) exit from their signal handlers.
    if (code !== 0) process.exit(code);
    process.exitCode = code;
  });
}
