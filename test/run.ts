/**
 * `npm test`: sets up what the integration tests need, runs every test file in one node:test
 * run (so the closing summary counts all of them), and tears the set-up down again.
 *
 * Set-up: a dedicated Temporal dev server on its own ports (so a running `npm start` is not
 * disturbed), a fresh PostgreSQL database on 127.0.0.1:5432 created here and dropped at the end,
 * the workflow bundle built once for all test processes, and Slurm when Slurm tests exist.
 *
 *   node --import tsx test/run.ts              every test
 *   node --import tsx test/run.ts --unit       unit tests only, no servers
 *   node --import tsx test/run.ts FILTER...    test files whose path contains a FILTER
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, relative } from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { defaultDevServerOptions, ensureDevServer, PROJECT_ROOT, stopDevServer } from '../temporal/devServer';
import { freePort } from './helpers/freePort';
import { createScratchDatabase } from './helpers/scratchDatabase';

const OUTPUT_DIR = join(PROJECT_ROOT, 'test-output');
const TAP_FILE = join(OUTPUT_DIR, 'results.tap');

function findTests(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const entry of readdirSync(dir)) {
    const p = join(dir, entry);
    if (statSync(p).isDirectory()) out.push(...findTests(p));
    else if (entry.endsWith('.test.ts')) out.push(p);
  }
  return out.sort();
}

function runNodeTests(files: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const args = ['--import', 'tsx', '--test', '--test-concurrency=2', '--test-timeout=600000'];
  // Humans read the spec reporter; the TAP copy gives the closing count line printed below.
  args.push('--test-reporter=spec', '--test-reporter-destination=stdout');
  args.push('--test-reporter=tap', `--test-reporter-destination=${TAP_FILE}`);
  args.push(...files);
  return new Promise((resolvePromise) => {
    const child = spawn(process.execPath, args, { stdio: 'inherit', env, cwd: PROJECT_ROOT });
    child.on('exit', (code, signal) => resolvePromise(code ?? (signal ? 1 : 0)));
  });
}

/** The plain closing line: 'N passed, N failed, N skipped', from the TAP copy of the run. */
function printSummary(): void {
  if (!existsSync(TAP_FILE)) return;
  const tap = readFileSync(TAP_FILE, 'utf8');
  const count = (key: string) => Number(new RegExp(`^# ${key} (\\d+)$`, 'm').exec(tap)?.[1] ?? 0);
  console.log(
    `\n${count('pass')} passed, ${count('fail') + count('cancelled')} failed, ${count('skipped') + count('todo')} skipped`,
  );
}

/**
 * `npm run typecheck` and `npm run lint` (package.json holds their one definition), each timed;
 * false if either fails.
 */
function runStaticChecks(): boolean {
  let ok = true;
  for (const script of ['typecheck', 'lint']) {
    const t0 = Date.now();
    const r = spawnSync('npm', ['run', '--silent', script], { cwd: PROJECT_ROOT, encoding: 'utf8' });
    const passed = r.status === 0;
    ok &&= passed;
    console.log(`npm run ${script}: ${passed ? 'ok' : 'FAILED'} in ${Date.now() - t0} ms`);
    if (!passed) console.error(`${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? String(r.error) : ''}`);
  }
  return ok;
}

/**
 * The dev server's ports. Named ports are used as given (a server already there is used, not
 * stopped). By default 7333/8333, but only when both are free: a server found there belongs to
 * another test run (another clone, a second terminal), which stops it when it ends, so sharing
 * it failed this run's later tests with "connection refused". Then the kernel picks free ports.
 */
async function testServerPorts(): Promise<{ port: number; uiPort: number }> {
  const named = process.env.HARVESTER_TEST_TEMPORAL_PORT;
  if (named)
    return { port: Number(named), uiPort: Number(process.env.HARVESTER_TEST_TEMPORAL_UI_PORT || 8333) };
  if ((await portIsFree(7333)) && (await portIsFree(8333))) return { port: 7333, uiPort: 8333 };
  const picked = { port: await freePort(), uiPort: await freePort() };
  console.log(
    `ports 7333/8333 are in use (another test run?): this run's dev server takes ${picked.port}/${picked.uiPort}`,
  );
  return picked;
}

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once('error', () => resolve(false));
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(true)));
  });
}

async function main(argv: string[]): Promise<number> {
  const unitOnly = argv.includes('--unit');
  const filters = argv.filter((a) => !a.startsWith('--'));
  const pick = (files: string[]) =>
    filters.length
      ? files.filter((f) => filters.some((flt) => relative(PROJECT_ROOT, f).includes(flt)))
      : files;
  const unit = pick(findTests(join(PROJECT_ROOT, 'test', 'unit')));
  const integration = unitOnly ? [] : pick(findTests(join(PROJECT_ROOT, 'test', 'integration')));
  if (unit.length + integration.length === 0) {
    console.error('no test files matched');
    return 1;
  }
  mkdirSync(OUTPUT_DIR, { recursive: true });
  // A full run checks types and lint too: tsx strips types, so only tsc can fail on a type error.
  const staticChecksOk = filters.length > 0 || runStaticChecks();
  const env: NodeJS.ProcessEnv = { ...process.env, HARVESTER_TEST_OUTPUT: OUTPUT_DIR };
  const cleanups: Array<() => Promise<unknown>> = [];
  try {
    if (integration.length > 0) {
      const t0 = Date.now();
      const ports = await testServerPorts();
      const serverOpts = {
        ...defaultDevServerOptions(),
        ...ports,
        dbFile: join(OUTPUT_DIR, `temporal-${process.pid}.db`),
        stateDir: OUTPUT_DIR,
        // Small thresholds make continue-as-new observable in tests without days of history.
        dynamicConfig: ['limit.historyCount.suggestContinueAsNew=400'],
      };
      const server = await ensureDevServer(serverOpts);
      cleanups.push(async () => {
        if (server.startedHere) await stopDevServer(serverOpts);
        rmSync(serverOpts.dbFile, { force: true });
        rmSync(`${serverOpts.dbFile}-wal`, { force: true });
        rmSync(`${serverOpts.dbFile}-shm`, { force: true });
      });
      const dbServer =
        process.env.HARVESTER_TEST_DATABASE_SERVER || 'postgres://postgres@127.0.0.1:5432/postgres';
      const database = await createScratchDatabase(
        dbServer,
        'harvester_test',
        'HARVESTER_TEST_DATABASE_SERVER',
      );
      cleanups.push(() => database.drop());
      const bundlePath = join(OUTPUT_DIR, 'workflow-bundle.js');
      const { code } = await bundleWorkflowCode({
        workflowsPath: require.resolve('../src/workflows'),
        logger: { log() {}, trace() {}, debug() {}, info() {}, warn: console.warn, error: console.error },
      });
      writeFileSync(bundlePath, code);
      if (integration.some((f) => /[/\\]ui\.test\.ts$/.test(f))) {
        const r = spawnSync('bash', [join(PROJECT_ROOT, 'scripts', 'browser-setup.sh')], {
          stdio: 'inherit',
        });
        if (r.status !== 0) throw new Error('scripts/browser-setup.sh failed: the UI test cannot run');
      }
      if (integration.some((f) => /slurm/i.test(f))) {
        const r = spawnSync('bash', [join(PROJECT_ROOT, 'scripts', 'slurm-setup.sh')], { stdio: 'inherit' });
        if (r.status !== 0) throw new Error('scripts/slurm-setup.sh failed: Slurm tests cannot run');
      }
      Object.assign(env, {
        TEMPORAL_ADDRESS: server.address,
        TEMPORAL_NAMESPACE: serverOpts.namespace,
        HARVESTER_TEST_TEMPORAL_UI: server.uiUrl,
        HARVESTER_TEST_DATABASE_URL: database.url,
        HARVESTER_WORKFLOW_BUNDLE: bundlePath,
      });
      console.log(
        `test set-up ready in ${Date.now() - t0} ms: Temporal ${server.address}, database ${database.url}`,
      );
    }
    const code = await runNodeTests([...unit, ...integration], env);
    printSummary();
    if (!staticChecksOk) console.error('npm test: the type check or the lint failed (see above)');
    return staticChecksOk ? code : code || 1;
  } finally {
    for (const cleanup of cleanups.reverse()) {
      await cleanup().catch((err: Error) => console.error(`test teardown: ${err.message}`));
    }
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: Error) => {
    console.error(`npm test: ${err.message}`);
    process.exit(1);
  },
);
