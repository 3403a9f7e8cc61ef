/**
 * Wrong settings fail fast with a message that names what is wrong, never a hang: a wrong
 * HARVESTER_DATABASE_URL, an unreachable Temporal address, ports already in use, missing Python.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { startEmbeddedPostgres } from '../../src/db/embedded';
import { defaultDevServerOptions, ensureDevServer, PROJECT_ROOT } from '../../temporal/devServer';

const HARVESTER = join(PROJECT_ROOT, 'bin', 'harvester');

function harvester(args: string[], env: Record<string, string>) {
  const t0 = Date.now();
  const r = spawnSync(HARVESTER, args, { encoding: 'utf8', timeout: 30000, env: { ...process.env, ...env } });
  return { status: r.status, stderr: r.stderr, stdout: r.stdout, ms: Date.now() - t0 };
}

/**
 * What starting the CLI costs on this machine right now (tsx compiles it on every start; on a
 * loaded machine that alone took over 10 s). "Within seconds" is about the failure, so the bounds
 * below are on the time past this, measured just before each case.
 */
function startupMs(): number {
  const r = harvester(['--help'], {});
  assert.equal(r.status, 0, r.stderr);
  return r.ms;
}

let blocker: Server;
let blockedPort: number;

before(async () => {
  blocker = createServer((socket) => socket.end());
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  blockedPort = (blocker.address() as { port: number }).port;
});

after(async () => {
  await new Promise((resolve) => blocker.close(resolve));
});

test('a wrong HARVESTER_DATABASE_URL names the server and the variable, within seconds', () => {
  const startup = startupMs();
  const r = harvester(['db', 'status'], {
    HARVESTER_DATABASE_URL: 'postgres://nobody:secret@127.0.0.1:1/nodb',
  });
  assert.equal(r.status, 1);
  assert.match(
    r.stderr,
    /cannot connect to the harvester database postgres:\/\/nobody@127\.0\.0\.1:1\/nodb \(HARVESTER_DATABASE_URL\)/,
  );
  assert.doesNotMatch(r.stderr, /secret/, 'the password is not printed');
  // The connect timeout is 5 s (src/db/pool.ts); a refused port fails at once.
  assert.ok(r.ms - startup < 8000, `took ${r.ms} ms, of which starting the CLI ${startup} ms`);
});

test('an unreachable Temporal address names the address and the variable, within seconds', () => {
  const startup = startupMs();
  const r = harvester(['queues', 'list'], { TEMPORAL_ADDRESS: '127.0.0.1:1' });
  assert.equal(r.status, 1);
  assert.match(r.stderr, /cannot reach the Temporal server at 127\.0\.0\.1:1 \(TEMPORAL_ADDRESS\)/);
  // connectClient: 5 s to connect, 5 s for the first answer (src/temporal/connection.ts).
  assert.ok(r.ms - startup < 12000, `took ${r.ms} ms, of which starting the CLI ${startup} ms`);
});

test('a malformed TEMPORAL_ADDRESS is a usage error (exit 2) naming the variable', () => {
  const r = harvester(['queues', 'list'], { TEMPORAL_ADDRESS: 'http://temporal' });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /TEMPORAL_ADDRESS="http:\/\/temporal": expected host:port/);
});

test('a dev-server port held by another program is reported at once, naming the port', async () => {
  const t0 = Date.now();
  const o = {
    ...defaultDevServerOptions(),
    port: blockedPort,
    uiPort: blockedPort + 1,
    stateDir: mkdtempSync(join(tmpdir(), 'ds-')),
  };
  await assert.rejects(
    ensureDevServer(o),
    new RegExp(
      `port ${blockedPort} on 127\\.0\\.0\\.1 is in use by a program that is not a healthy Temporal server`,
    ),
  );
  assert.ok(Date.now() - t0 < 10000);
  rmSync(o.stateDir, { recursive: true, force: true });
});

test('the embedded PostgreSQL port held by another program is reported, naming the port and the variable', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'epg-'));
  await assert.rejects(
    startEmbeddedPostgres(dir, blockedPort),
    new RegExp(`port ${blockedPort} on 127\\.0\\.0\\.1 is already in use.*HARVESTER_EMBEDDED_PG_PORT`),
  );
  rmSync(dir, { recursive: true, force: true });
});

test('a missing Python makes the Temporal CLI install fail with a message naming it', () => {
  const root = mkdtempSync(join(tmpdir(), 'nopython-'));
  mkdirSync(join(root, 'temporal'));
  copyFileSync(join(PROJECT_ROOT, 'temporal', 'install.sh'), join(root, 'temporal', 'install.sh'));
  const r = spawnSync('bash', [join(root, 'temporal', 'install.sh')], {
    encoding: 'utf8',
    timeout: 10000,
    env: { ...process.env, PYTHON: 'python3-not-installed-here' },
  });
  assert.equal(r.status, 3);
  assert.match(r.stderr, /'python3-not-installed-here' not found on PATH.*Temporal CLI/);
  rmSync(root, { recursive: true, force: true });
});

test('harvester worker without a queue config says which variable or flag to set', () => {
  const r = harvester(['worker'], { HARVESTER_QUEUE_CONFIG: '' });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /set HARVESTER_QUEUE_CONFIG or pass --queue-config FILE/);
  const missing = harvester(['worker', '--queue-config', '/nonexistent/qc.json'], {});
  assert.equal(missing.status, 2);
  assert.match(missing.stderr, /queue config file \/nonexistent\/qc\.json does not exist/);
});
