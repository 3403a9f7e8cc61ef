// biome-ignore-all lint/suspicious/noTemplateCurlyInString: Harvester placeholders (${workerID}) are the subject under test.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import { expandPlaceholders, placeholdersIn, workerIdDigits } from '../../src/plugins/common/template';
import { CommandError, countingRunner, runCommand, shortArgs } from '../../src/plugins/exec';

test('output and exit code of a successful command', async () => {
  const r = await runCommand('printf', ['%s|%s', 'a b', '$HOME']);
  assert.equal(r.stdout, 'a b|$HOME', 'arguments reach the program verbatim: no shell');
  assert.equal(r.exitCode, 0);
});

test('stdin is passed and closed', async () => {
  const r = await runCommand('cat', [], { input: 'line1\nline2\n' });
  assert.equal(r.stdout, 'line1\nline2\n');
});

test('a non-zero exit is a CommandError with code, args and stderr tail', async () => {
  await assert.rejects(runCommand('sh', ['-c', 'echo out; echo "bad thing" >&2; exit 7']), (err: unknown) => {
    assert.ok(err instanceof CommandError);
    assert.equal(err.kind, 'exitCode');
    assert.equal(err.exitCode, 7);
    assert.equal(err.stdout, 'out\n');
    assert.equal(err.stderrTail, 'bad thing\n');
    assert.match(err.message, /^sh -c "echo out; .*" on \S+: exited with code 7; stderr: bad thing$/);
    return true;
  });
});

test('okExitCodes widens success', async () => {
  const r = await runCommand('sh', ['-c', 'exit 2'], { okExitCodes: [0, 2] });
  assert.equal(r.exitCode, 2);
});

test('a missing program is kind notFound', async () => {
  await assert.rejects(runCommand('/nonexistent/prog', ['x']), (err: unknown) => {
    assert.ok(err instanceof CommandError);
    assert.equal(err.kind, 'notFound');
    assert.match(err.message, /\/nonexistent\/prog x on .*: command not found/);
    return true;
  });
});

test('a timeout kills the whole process group, grandchildren included', async () => {
  const t0 = Date.now();
  // The grandchild writes its pid, then sleeps; after the timeout it must be gone too.
  const err = await runCommand('sh', ['-c', 'sleep 30 & echo $!; wait'], {
    timeoutMs: 300,
    killGraceMs: 200,
  }).catch((e: unknown) => e);
  assert.ok(err instanceof CommandError);
  assert.equal(err.kind, 'timeout');
  // Far below the 30 s the sleep would last, with room for a loaded machine's slow fork and timers.
  const elapsed = Date.now() - t0;
  assert.ok(elapsed < 15_000, `the 300 ms timeout ended the 30 s sleep, but only after ${elapsed} ms`);
  const grandchild = Number(err.stdout.trim());
  assert.ok(grandchild > 0);
  // Gone, or a zombie waiting for init to reap it (this machine's pid 1 may not reap promptly).
  const stat = existsSync(`/proc/${grandchild}/stat`) ? readFileSync(`/proc/${grandchild}/stat`, 'utf8') : '';
  assert.ok(stat === '' || /\) Z /.test(stat), `grandchild ${grandchild} still alive: ${stat}`);
});

test('a signal death is kind signal', async () => {
  await assert.rejects(runCommand('sh', ['-c', 'kill -9 $$']), (err: unknown) => {
    assert.ok(err instanceof CommandError);
    assert.equal(err.kind, 'signal');
    assert.equal(err.signal, 'SIGKILL');
    return true;
  });
});

test('stdout beyond the cap is an error, not a truncated result', async () => {
  await assert.rejects(
    runCommand('head', ['-c', '100000', '/dev/zero'], { maxStdoutBytes: 1000 }),
    (err: unknown) => {
      assert.ok(err instanceof CommandError);
      assert.equal(err.kind, 'outputTooLarge');
      return true;
    },
  );
});

test('stderr keeps its tail only', async () => {
  const err = await runCommand(
    'sh',
    ['-c', 'head -c 5000 /dev/zero | tr "\\0" a >&2; echo END >&2; exit 1'],
    {
      maxStderrBytes: 100,
    },
  ).catch((e: unknown) => e);
  assert.ok(err instanceof CommandError);
  assert.equal(err.stderrTail.length, 100);
  assert.ok(err.stderrTail.endsWith('END\n'));
});

test('shortArgs cuts long arguments and long lists', () => {
  assert.equal(shortArgs(['-j', 'x'.repeat(100)], 10), `-j ${'x'.repeat(9)}…`);
  const many = shortArgs(
    Array.from({ length: 200 }, (_, i) => `arg${i}`),
    80,
    50,
  );
  assert.match(many, /… \(\d+ more\)$/);
});

test('countingRunner counts per command', async () => {
  const c = countingRunner();
  await c.run('true', []);
  await c.run('true', []);
  assert.equal(c.counts.get('true'), 2);
  assert.equal(c.calls.length, 2);
});

test('placeholders: both spellings, worker-id digits, unknown keys untouched', () => {
  const t =
    'a=${workerID} b={computingSite} c=${_workerID_3.2}/${_workerID_1.0} d=${HOME} e={a,b} f=$(Cluster) g={{x}}';
  assert.equal(
    expandPlaceholders(t, { workerID: 12345, computingSite: 'SITE' }),
    'a=12345 b=SITE c=23/45 d=${HOME} e={a,b} f=$(Cluster) g={{x}}',
  );
  assert.equal(workerIdDigits(7, '3.2.1.0'), '0007');
  assert.deepEqual(placeholdersIn(t), [
    'workerID',
    '_workerID_3.2',
    '_workerID_1.0',
    'HOME',
    'computingSite',
  ]);
});
