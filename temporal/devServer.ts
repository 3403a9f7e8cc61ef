/**
 * Starts, finds and stops the Temporal dev server (`temporal server start-dev` from .tools/).
 *
 * Why not the SDK's launcher: it gives the server only 5 s to come up and downloads the binary.
 * Here the server runs detached with its SQLite file under .data/ (so workflows survive a
 * restart), we wait for health ourselves with a bounded deadline, and a second start finds the
 * server already running instead of failing on the port.
 */
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { ALL_SEARCH_ATTRIBUTES, cliTypeName } from '../src/core/searchAttributes';
import { portInUse } from '../src/util/net';

export const PROJECT_ROOT = resolve(__dirname, '..');
export const TEMPORAL_CLI = join(PROJECT_ROOT, '.tools', 'bin', 'temporal');

export interface DevServerOptions {
  ip: string;
  port: number;
  uiPort: number;
  /** SQLite file; undefined = in memory (tests). */
  dbFile?: string;
  namespace: string;
  /** Where the pid and log files go. */
  stateDir: string;
  /** Extra `--dynamic-config-value` entries, KEY=JSON. */
  dynamicConfig?: string[];
  startTimeoutMs?: number;
}

export interface DevServerHandle {
  address: string;
  uiUrl: string;
  /** True when this call started the server; false when it found one running. */
  startedHere: boolean;
  pid?: number;
  logFile: string;
}

export class DevServerError extends Error {
  override name = 'DevServerError';
}

export function defaultDevServerOptions(env: NodeJS.ProcessEnv = process.env): DevServerOptions {
  const dataDir = resolve(PROJECT_ROOT, env.HARVESTER_DATA_DIR || '.data');
  const port = Number(env.TEMPORAL_DEV_PORT || 7233);
  return {
    ip: '127.0.0.1',
    port,
    uiPort: Number(env.TEMPORAL_UI_PORT || port + 1000),
    dbFile: join(dataDir, 'temporal.db'),
    namespace: env.TEMPORAL_NAMESPACE || 'default',
    stateDir: dataDir,
  };
}

function pidFile(o: DevServerOptions): string {
  return join(o.stateDir, `temporal-${o.port}.pid`);
}

function logFile(o: DevServerOptions): string {
  return join(o.stateDir, `temporal-${o.port}.log`);
}

function cli(args: string[], timeoutMs = 5000): { ok: boolean; stdout: string; stderr: string } {
  const r = spawnSync(TEMPORAL_CLI, args, { encoding: 'utf8', timeout: timeoutMs });
  return { ok: r.status === 0, stdout: r.stdout ?? '', stderr: r.stderr ?? (r.error ? String(r.error) : '') };
}

export function isHealthy(address: string): boolean {
  return cli(['operator', 'cluster', 'health', '--address', address], 3000).stdout.includes('SERVING');
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function readPid(o: DevServerOptions): number | undefined {
  if (!existsSync(pidFile(o))) return undefined;
  const pid = Number(readFileSync(pidFile(o), 'utf8').trim());
  return Number.isInteger(pid) && pid > 0 && processAlive(pid) ? pid : undefined;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Makes sure the project's search attributes exist in the namespace (idempotent). */
export function registerSearchAttributes(address: string, namespace: string): void {
  const listed = cli([
    'operator',
    'search-attribute',
    'list',
    '--address',
    address,
    '--namespace',
    namespace,
    '-o',
    'json',
  ]);
  if (!listed.ok)
    throw new DevServerError(`cannot list search attributes on ${address}: ${listed.stderr.trim()}`);
  const present = new Set<string>();
  try {
    const parsed = JSON.parse(listed.stdout) as { customAttributes?: Record<string, unknown> };
    for (const name of Object.keys(parsed.customAttributes ?? {})) present.add(name);
  } catch {
    for (const key of ALL_SEARCH_ATTRIBUTES)
      if (listed.stdout.includes(`"${key.name}"`)) present.add(key.name);
  }
  const missing = ALL_SEARCH_ATTRIBUTES.filter((k) => !present.has(k.name));
  if (missing.length === 0) return;
  const args = ['operator', 'search-attribute', 'create', '--address', address, '--namespace', namespace];
  for (const key of missing) args.push('--name', key.name, '--type', cliTypeName(key.type));
  const created = cli(args, 15000);
  if (!created.ok && !/already exists/i.test(created.stderr)) {
    throw new DevServerError(`cannot register search attributes on ${address}: ${created.stderr.trim()}`);
  }
}

/**
 * Starts the dev server unless one is already serving on the port. Fails within the start
 * timeout with the log tail when it does not come up, and at once when the port belongs to
 * something that is not a Temporal server.
 */
export async function ensureDevServer(o: DevServerOptions): Promise<DevServerHandle> {
  const address = `${o.ip}:${o.port}`;
  const uiUrl = `http://${o.ip}:${o.uiPort}`;
  if (!existsSync(TEMPORAL_CLI)) {
    throw new DevServerError(
      `Temporal CLI not found at ${TEMPORAL_CLI}: run temporal/install.sh (npm start and npm test do)`,
    );
  }
  mkdirSync(o.stateDir, { recursive: true });
  if (await portInUse(o.ip, o.port)) {
    if (isHealthy(address)) {
      registerSearchAttributes(address, o.namespace);
      return { address, uiUrl, startedHere: false, pid: readPid(o), logFile: logFile(o) };
    }
    throw new DevServerError(
      `port ${o.port} on ${o.ip} is in use by a program that is not a healthy Temporal server; stop it or set TEMPORAL_DEV_PORT`,
    );
  }
  if (await portInUse(o.ip, o.uiPort)) {
    throw new DevServerError(
      `Temporal UI port ${o.uiPort} on ${o.ip} is already in use by another program; stop it or set TEMPORAL_UI_PORT`,
    );
  }
  const args = ['server', 'start-dev', '--ip', o.ip, '--port', String(o.port), '--ui-port', String(o.uiPort)];
  args.push('--namespace', o.namespace, '--log-level', 'warn');
  if (o.dbFile) {
    mkdirSync(dirname(o.dbFile), { recursive: true });
    args.push('--db-filename', o.dbFile);
  }
  // WAL + synchronous=OFF: the SDK's own stress CI runs the dev server this way; a crash of the
  // machine may lose the last writes of a dev database, which is acceptable for development.
  args.push('--sqlite-pragma', 'journal_mode=WAL', '--sqlite-pragma', 'synchronous=OFF');
  for (const key of ALL_SEARCH_ATTRIBUTES)
    args.push('--search-attribute', `${key.name}=${cliTypeName(key.type)}`);
  for (const kv of o.dynamicConfig ?? []) args.push('--dynamic-config-value', kv);
  const log = openSync(logFile(o), 'a');
  const child = spawn(TEMPORAL_CLI, args, { detached: true, stdio: ['ignore', log, log] });
  closeSync(log);
  child.unref();
  const pid = child.pid;
  if (!pid) throw new DevServerError(`could not spawn ${TEMPORAL_CLI}`);
  writeFileSync(pidFile(o), String(pid));
  const deadline = Date.now() + (o.startTimeoutMs ?? 30000);
  while (Date.now() < deadline) {
    if (!processAlive(pid)) {
      throw new DevServerError(
        `Temporal dev server exited during start-up; last log lines:\n${tail(logFile(o))}`,
      );
    }
    if ((await portInUse(o.ip, o.port, 200)) && isHealthy(address)) {
      registerSearchAttributes(address, o.namespace);
      return { address, uiUrl, startedHere: true, pid, logFile: logFile(o) };
    }
    await sleep(200);
  }
  process.kill(pid, 'SIGTERM');
  throw new DevServerError(
    `Temporal dev server did not become healthy on ${address} within ${(o.startTimeoutMs ?? 30000) / 1000} s; log:\n${tail(logFile(o))}`,
  );
}

function tail(file: string, lines = 15): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/** Stops the server this project started on that port (by pid file); waits until it is gone. */
export async function stopDevServer(o: DevServerOptions, timeoutMs = 15000): Promise<boolean> {
  const pid = readPid(o);
  rmSync(pidFile(o), { force: true });
  if (!pid) return false;
  process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + timeoutMs;
  while (processAlive(pid) && Date.now() < deadline) await sleep(100);
  if (processAlive(pid)) process.kill(pid, 'SIGKILL');
  return true;
}

async function main(argv: string[]): Promise<number> {
  const o = defaultDevServerOptions();
  const cmd = argv[0] ?? 'status';
  if (cmd === 'start') {
    const h = await ensureDevServer(o);
    console.log(
      `${h.startedHere ? 'started' : 'found running'}: Temporal at ${h.address}, UI ${h.uiUrl}, log ${h.logFile}`,
    );
    return 0;
  }
  if (cmd === 'stop') {
    console.log((await stopDevServer(o)) ? 'stopped' : 'no dev server started by this project is running');
    return 0;
  }
  if (cmd === 'status') {
    const healthy = isHealthy(`${o.ip}:${o.port}`);
    console.log(
      healthy
        ? `serving on ${o.ip}:${o.port}, UI http://${o.ip}:${o.uiPort}`
        : `not serving on ${o.ip}:${o.port}`,
    );
    return healthy ? 0 : 1;
  }
  console.error(`usage: temporal/devServer.ts start|stop|status (got ${JSON.stringify(cmd)})`);
  return 2;
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: Error) => {
      console.error(err.message);
      process.exit(1);
    },
  );
}
