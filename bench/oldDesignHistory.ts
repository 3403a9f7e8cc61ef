/**
 * History bytes per monitor cycle of a design at another commit, by default the one before the
 * monitor cycle left the queue workflow's history (5b07e6a^: the worker list travelled through it
 * as listWorkersForMonitor's result and again as checkWorkers' input), for the scale bench's
 * "the same figure for today's design at 1,000 and 5,000".
 *
 * How: a temporary `git worktree` of that commit (node_modules and .tools linked from here) runs
 * its own `bench/run.ts monitorCalls` (N submitted workers in one queue, no change, monitor every
 * 1 s, 5 cycles) against a dev server this script starts and keeps, so the queue workflows stay
 * readable afterwards; then every run of each BENCH_MONITOR_<N> queue workflow is read through
 * the client and cut into monitor cycles (bench/support/queueHistory.ts), as bench/scale does.
 *
 *   node --import tsx bench/oldDesignHistory.ts                      5b07e6a^, N = 1000,5000
 *   node --import tsx bench/oldDesignHistory.ts <commit> 1000,5000   another commit (e.g. HEAD)
 *
 * Takes ~5 minutes (the 5,000 queue writes ~4 MB of history per cycle there). Prints a table and
 * writes bench-output/old-design-history-<commit>.json. Port: HARVESTER_BENCH_TEMPORAL_PORT
 * (default 7733, so a running bench on 7433 is not disturbed).
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultDevServerOptions, ensureDevServer, PROJECT_ROOT, stopDevServer } from '../temporal/devServer';
import { BENCH_OUTPUT_DIR } from './support/env';
import { connectHistoryReader, queueHistory } from './support/queueHistory';

const commit = process.argv[2] || '5b07e6a^';
const sizes = process.argv[3] || '1000,5000';
const port = Number(process.env.HARVESTER_BENCH_TEMPORAL_PORT || 7733);

function git(args: string[], cwd = PROJECT_ROOT): string {
  const r = spawnSync('git', args, { cwd, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`git ${args.join(' ')}: ${r.stderr.trim()}`);
  return r.stdout.trim();
}

async function main(): Promise<void> {
  const sha = git(['rev-parse', '--short', commit]);
  mkdirSync(BENCH_OUTPUT_DIR, { recursive: true });
  const serverOpts = {
    ...defaultDevServerOptions(),
    port,
    uiPort: port + 1000,
    dbFile: join(BENCH_OUTPUT_DIR, `temporal-old-design-${process.pid}.db`),
    namespace: 'default',
    stateDir: BENCH_OUTPUT_DIR,
  };
  const server = await ensureDevServer(serverOpts);
  const tree = mkdtempSync(join(tmpdir(), `harvester-${sha}-`));
  rmSync(tree, { recursive: true, force: true });
  try {
    git(['worktree', 'add', '--detach', tree, sha]);
    symlinkSync(join(PROJECT_ROOT, 'node_modules'), join(tree, 'node_modules'));
    symlinkSync(join(PROJECT_ROOT, '.tools'), join(tree, '.tools'));
    console.log(`${sha}: monitorCalls at N = ${sizes} in ${tree}, dev server ${server.address}`);
    const code = await new Promise<number>((resolve) => {
      const child = spawn(
        process.execPath,
        ['--expose-gc', '--import', 'tsx', 'bench/run.ts', 'monitorCalls'],
        {
          cwd: tree,
          stdio: 'inherit',
          env: {
            ...process.env,
            HARVESTER_BENCH_TEMPORAL_PORT: String(port),
            HARVESTER_BENCH_TEMPORAL_UI_PORT: String(port + 1000),
            HARVESTER_BENCH_MONITOR_SIZES: sizes,
          },
        },
      );
      child.on('exit', (c) => resolve(c ?? 1));
    });
    if (code !== 0) console.error(`monitorCalls at ${sha} exited ${code}: figures below are what it left`);

    const reader = await connectHistoryReader(server.address, 'default');
    try {
      const figures: Array<Record<string, unknown>> = [];
      for (const n of sizes.split(',').map(Number)) {
        const ids = new Set<string>();
        for await (const w of reader.client.workflow.list({
          query: `WorkflowType = "queueWorkflow" AND WorkflowId STARTS_WITH "queue-bench-"`,
        }))
          if (w.workflowId.endsWith(`-BENCH_MONITOR_${n}`)) ids.add(w.workflowId);
        for (const id of ids) {
          const h = await queueHistory(reader.client, id);
          // Whole cycles: from the first page's listing to recordMonitorCycle's completion.
          const cycles = h.cycles.filter((c) => c.kind === 'monitor' && c.endMs !== undefined);
          const bytes = cycles.map((c) => c.bytes).sort((a, b) => a - b);
          const row = {
            commit: sha,
            workers: n,
            workflowId: id,
            runs: h.runs.length,
            cycles: cycles.length,
            bytesPerCycleMedian: bytes[Math.floor(bytes.length / 2)] ?? Number.NaN,
            bytesPerCycleMax: bytes[bytes.length - 1] ?? Number.NaN,
            largestRunBytes: Math.max(...h.runs.map((r) => r.bytes)),
            largestRunEvents: Math.max(...h.runs.map((r) => r.events)),
          };
          figures.push(row);
          console.log(
            `${sha} N=${n}: history per monitor cycle median ${(row.bytesPerCycleMedian / 1024).toFixed(1)} KiB ` +
              `(max ${(row.bytesPerCycleMax / 1024).toFixed(1)} KiB) over ${row.cycles} whole cycles in ${row.runs} runs; ` +
              `largest run ${(row.largestRunBytes / 2 ** 20).toFixed(2)} MiB / ${row.largestRunEvents} events`,
          );
        }
      }
      const file = join(BENCH_OUTPUT_DIR, `old-design-history-${sha}.json`);
      writeFileSync(
        file,
        `${JSON.stringify({ date: new Date().toISOString(), commit: sha, figures }, null, 2)}\n`,
      );
      console.log(`written to ${file}`);
    } finally {
      await reader.close();
    }
  } finally {
    spawnSync('git', ['worktree', 'remove', '--force', tree], { cwd: PROJECT_ROOT });
    if (server.startedHere) await stopDevServer(serverOpts);
    for (const suffix of ['', '-wal', '-shm']) rmSync(`${serverOpts.dbFile}${suffix}`, { force: true });
  }
}

main().then(
  () => process.exit(0),
  (err: Error) => {
    console.error(`oldDesignHistory: ${err.stack ?? err.message}`);
    process.exit(1);
  },
);
