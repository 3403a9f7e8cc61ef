/**
 * What every bench needs from outside: a Temporal dev server and a fresh PostgreSQL database.
 *
 * bench/run.ts sets both up once and passes them on through the environment; a bench module run
 * alone (node --import tsx bench/x.bench.ts) sets up its own through the same code, so its numbers
 * come from the same kind of server either way. The ports (7433/8433) differ from `npm start`
 * (7233) and `npm test` (7333) so a bench never disturbs, or is disturbed by, a running server.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  type DevServerOptions,
  defaultDevServerOptions,
  ensureDevServer,
  PROJECT_ROOT,
  stopDevServer,
} from '../../temporal/devServer';
import { createScratchDatabase } from '../../test/helpers/scratchDatabase';

export const BENCH_OUTPUT_DIR = join(PROJECT_ROOT, 'bench-output');
export const TEMPORAL_TEST_SERVER = join(PROJECT_ROOT, '.tools', 'bin', 'temporal-test-server');

/** One measured number. `pass` is only a label for the report: benches never fail a build. */
export interface BenchResult {
  name: string;
  value: number;
  unit: string;
  target?: string;
  pass?: boolean;
  /** How it was measured and anything a reader must know to trust (or distrust) the number. */
  note?: string;
}

export interface BenchEnvironment {
  temporalAddress: string;
  namespace: string;
  databaseUrl: string;
}

/** Set by bench/run.ts for the bench modules it runs in the same process. */
const ENV_TEMPORAL = 'HARVESTER_BENCH_TEMPORAL_ADDRESS';
const ENV_DATABASE = 'HARVESTER_BENCH_DATABASE_URL';

export function benchEnvironment(): BenchEnvironment {
  const temporalAddress = process.env[ENV_TEMPORAL];
  const databaseUrl = process.env[ENV_DATABASE];
  if (!temporalAddress || !databaseUrl) {
    throw new Error(
      `${ENV_TEMPORAL} / ${ENV_DATABASE} are not set: run benches through \`npm run bench\` or runAlone()`,
    );
  }
  return { temporalAddress, databaseUrl, namespace: 'default' };
}

/** Starts the bench dev server and database, exports them to the environment; returns the teardown. */
export async function setUpBenchEnvironment(): Promise<{ env: BenchEnvironment; teardown(): Promise<void> }> {
  mkdirSync(BENCH_OUTPUT_DIR, { recursive: true });
  const serverOpts: DevServerOptions = {
    ...defaultDevServerOptions(),
    port: Number(process.env.HARVESTER_BENCH_TEMPORAL_PORT || 7433),
    uiPort: Number(process.env.HARVESTER_BENCH_TEMPORAL_UI_PORT || 8433),
    dbFile: join(BENCH_OUTPUT_DIR, `temporal-${process.pid}.db`),
    namespace: 'default',
    stateDir: BENCH_OUTPUT_DIR,
  };
  const cleanups: Array<() => Promise<unknown>> = [];
  const teardown = async () => {
    for (const c of cleanups.reverse())
      await c().catch((err: Error) => console.error(`bench teardown: ${err.message}`));
    cleanups.length = 0;
  };
  try {
    const server = await ensureDevServer(serverOpts);
    cleanups.push(async () => {
      if (server.startedHere) await stopDevServer(serverOpts);
      for (const suffix of ['', '-wal', '-shm']) rmSync(`${serverOpts.dbFile}${suffix}`, { force: true });
    });
    const database = await createScratchDatabase(
      process.env.HARVESTER_BENCH_DATABASE_SERVER || 'postgres://postgres@127.0.0.1:5432/postgres',
      'harvester_bench',
      'HARVESTER_BENCH_DATABASE_SERVER',
    );
    cleanups.push(() => database.drop());
    process.env[ENV_TEMPORAL] = server.address;
    process.env[ENV_DATABASE] = database.url;
    // For benches that read the server's CPU, RSS and file sizes (bench/scale.bench.ts).
    if (server.pid) process.env.HARVESTER_BENCH_TEMPORAL_PID = String(server.pid);
    process.env.HARVESTER_BENCH_TEMPORAL_DB = serverOpts.dbFile;
    return {
      env: { temporalAddress: server.address, databaseUrl: database.url, namespace: 'default' },
      teardown,
    };
  } catch (err) {
    await teardown();
    throw err;
  }
}

export function formatResult(r: BenchResult): string {
  const digits = Math.abs(r.value) >= 100 ? 0 : Math.abs(r.value) >= 1 ? 2 : 4;
  const verdict = r.pass === undefined ? '' : r.pass ? ' PASS' : ' FAIL';
  const target = r.target ? ` (target ${r.target})` : '';
  return `${r.name}: ${r.value.toFixed(digits)} ${r.unit}${target}${verdict}`;
}

export function writeResults(
  file: string,
  results: BenchResult[],
  extra: Record<string, unknown> = {},
): void {
  mkdirSync(BENCH_OUTPUT_DIR, { recursive: true });
  writeFileSync(file, `${JSON.stringify({ ...extra, results }, null, 2)}\n`);
}

/** For `node --import tsx bench/x.bench.ts`: own server and database, print, tear down. */
export function runAlone(bench: () => Promise<BenchResult[]>): void {
  (async () => {
    const haveEnv = process.env[ENV_TEMPORAL] && process.env[ENV_DATABASE];
    const setup = haveEnv ? undefined : await setUpBenchEnvironment();
    try {
      for (const r of await bench()) {
        console.log(formatResult(r));
        if (r.note) console.log(`  ${r.note}`);
      }
    } finally {
      await setup?.teardown();
    }
  })().then(
    () => process.exit(0),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
