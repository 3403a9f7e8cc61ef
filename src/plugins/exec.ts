/**
 * The one way plugins run external commands (sbatch, squeue, condor_q, ...).
 *
 * - An argument array, never a shell: nothing from a worker, a config or PanDA can become shell syntax.
 * - A timeout that kills the whole process group: batch clients fork helpers (munge, ssh, condor's
 *   schedd client) and killing only the parent leaves them holding our pipes open.
 * - Output capture with a cap: stdout beyond the cap is an error (a parser must never see a cut-off
 *   listing and guess), stderr keeps its tail (the end is where tools say what went wrong).
 * - Every failure is a CommandError that names the command, its arguments (shortened), the host,
 *   and the exit code or signal with the end of stderr: "what and where", as DESIGN.md asks.
 *
 * Harvester's plugins used Popen(...).communicate() without a timeout; hung condor_q calls stalled
 * whole agents (harvester-spec §10, "hangs on external calls").
 */
import { spawn } from 'node:child_process';
import { hostname } from 'node:os';

export interface ExecOptions {
  /** Milliseconds before the process group gets SIGTERM (then SIGKILL after killGraceMs). Default 60 s. */
  timeoutMs?: number;
  /** Milliseconds between SIGTERM and SIGKILL on timeout. Default 2 s. */
  killGraceMs?: number;
  /** Written to the command's stdin, which is then closed. Without it stdin is /dev/null. */
  input?: string | Buffer;
  cwd?: string;
  /** Full environment for the command (default: this process's environment). */
  env?: NodeJS.ProcessEnv;
  /** Cap on captured stdout in bytes; more is a CommandError ('outputTooLarge'). Default 16 MiB. */
  maxStdoutBytes?: number;
  /** Bytes of stderr kept (the tail). Default 64 KiB. */
  maxStderrBytes?: number;
  /** Exit codes that count as success. Default [0]. */
  okExitCodes?: readonly number[];
}

export interface ExecResult {
  command: string;
  args: readonly string[];
  exitCode: number;
  stdout: string;
  stderr: string;
  durationMs: number;
}

/** Why a command failed; lets callers tell "not installed" from "said no" from "hung". */
export type CommandErrorKind =
  | 'notFound'
  | 'spawnFailed'
  | 'timeout'
  | 'exitCode'
  | 'signal'
  | 'outputTooLarge';

export interface CommandErrorDetails {
  kind: CommandErrorKind;
  command: string;
  args: readonly string[];
  host: string;
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderrTail: string;
  durationMs: number;
  cause?: Error;
}

const STDERR_TAIL_IN_MESSAGE = 500;

export class CommandError extends Error {
  /** Discriminant, in the style of src/core errors: a string a log query or an activity can switch on. */
  readonly type = 'CommandError';
  readonly kind: CommandErrorKind;
  readonly command: string;
  readonly args: readonly string[];
  readonly host: string;
  readonly exitCode: number | null;
  readonly signal: NodeJS.Signals | null;
  /** What the command printed before it failed (capped like a normal result). */
  readonly stdout: string;
  readonly stderrTail: string;
  readonly durationMs: number;

  constructor(d: CommandErrorDetails) {
    super(describeFailure(d), d.cause ? { cause: d.cause } : undefined);
    this.name = 'CommandError';
    this.kind = d.kind;
    this.command = d.command;
    this.args = d.args;
    this.host = d.host;
    this.exitCode = d.exitCode;
    this.signal = d.signal;
    this.stdout = d.stdout;
    this.stderrTail = d.stderrTail;
    this.durationMs = d.durationMs;
  }
}

/** Signature of runCommand, so plugins can take a wrapped runner (tests count calls with it). */
export type CommandRunner = (
  command: string,
  args: readonly string[],
  options?: ExecOptions,
) => Promise<ExecResult>;

/** Arguments as they appear in an error message: each one and the whole list cut short. */
export function shortArgs(args: readonly string[], maxEach = 80, maxTotal = 400): string {
  const parts: string[] = [];
  let total = 0;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const cut = a.length > maxEach ? a.slice(0, maxEach - 1) : a;
    // JSON quoting makes spaces and empty strings visible without pretending to be shell syntax.
    const quoted = /^[\w@%+=:,./-]+$/.test(cut) ? cut : JSON.stringify(cut);
    const shown = cut === a ? quoted : `${quoted}…`;
    if (total + shown.length > maxTotal) {
      parts.push(`… (${args.length - i} more)`);
      break;
    }
    parts.push(shown);
    total += shown.length + 1;
  }
  return parts.join(' ');
}

function describeFailure(d: CommandErrorDetails): string {
  const what = `${d.command} ${shortArgs(d.args)}`.trim();
  let why: string;
  switch (d.kind) {
    case 'notFound':
      why = 'command not found (not installed or not on PATH)';
      break;
    case 'spawnFailed':
      why = `could not start: ${d.cause?.message ?? 'unknown error'}`;
      break;
    case 'timeout':
      why = `timed out after ${d.durationMs} ms; process group killed`;
      break;
    case 'exitCode':
      why = `exited with code ${d.exitCode}`;
      break;
    case 'signal':
      why = `killed by signal ${d.signal}`;
      break;
    case 'outputTooLarge':
      why = 'printed more output than the cap allows; process group killed';
      break;
  }
  const tail = d.stderrTail.trim();
  const stderr = tail
    ? `; stderr: ${tail.length > STDERR_TAIL_IN_MESSAGE ? `…${tail.slice(-STDERR_TAIL_IN_MESSAGE)}` : tail}`
    : '';
  return `${what} on ${d.host}: ${why}${stderr}`;
}

/** Signals a whole process group; the group may already be gone, which is fine. */
function killGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, signal);
  } catch {
    // ESRCH: the group has exited already.
  }
}

/**
 * Runs `command` with `args` and resolves with its output when it exits with an accepted code;
 * rejects with a CommandError otherwise. The command gets its own process group (detached) so a
 * timeout can kill everything it started.
 */
export const runCommand: CommandRunner = (command, args, options = {}) => {
  const timeoutMs = options.timeoutMs ?? 60_000;
  const killGraceMs = options.killGraceMs ?? 2_000;
  const maxStdout = options.maxStdoutBytes ?? 16 * 1024 * 1024;
  const maxStderr = options.maxStderrBytes ?? 64 * 1024;
  const okCodes = options.okExitCodes ?? [0];
  const host = hostname();
  const started = Date.now();
  const argsCopy = [...args];

  return new Promise<ExecResult>((resolve, reject) => {
    const stdoutChunks: Buffer[] = [];
    let stdoutBytes = 0;
    let stderrBuf = Buffer.alloc(0);
    let failure: CommandErrorKind | null = null;
    let spawnError: Error | undefined;
    let settled = false;
    let killTimer: NodeJS.Timeout | undefined;
    let forceSettleTimer: NodeJS.Timeout | undefined;

    const child = spawn(command, argsCopy, {
      cwd: options.cwd,
      env: options.env ?? process.env,
      detached: true,
      stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
      windowsHide: true,
    });

    const fail = (kind: CommandErrorKind, exitCode: number | null, signal: NodeJS.Signals | null): void => {
      finish(() =>
        reject(
          new CommandError({
            kind,
            command,
            args: argsCopy,
            host,
            exitCode,
            signal,
            stdout: Buffer.concat(stdoutChunks).toString('utf8'),
            stderrTail: stderrBuf.toString('utf8'),
            durationMs: Date.now() - started,
            cause: spawnError,
          }),
        ),
      );
    };

    const finish = (settle: () => void): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      clearTimeout(killTimer);
      clearTimeout(forceSettleTimer);
      settle();
    };

    /** Kill the group; if its pipes stay open (a grandchild escaped the group) settle anyway. */
    const abort = (kind: CommandErrorKind): void => {
      if (failure !== null) return;
      failure = kind;
      killGroup(child.pid, 'SIGTERM');
      killTimer = setTimeout(() => killGroup(child.pid, 'SIGKILL'), killGraceMs);
      forceSettleTimer = setTimeout(() => {
        child.stdout?.destroy();
        child.stderr?.destroy();
        fail(kind, null, null);
      }, killGraceMs + 2_000);
    };

    const timer = setTimeout(() => abort('timeout'), timeoutMs);

    child.stdout?.on('data', (chunk: Buffer) => {
      if (failure !== null) return;
      stdoutBytes += chunk.length;
      if (stdoutBytes > maxStdout) {
        abort('outputTooLarge');
        return;
      }
      stdoutChunks.push(chunk);
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      stderrBuf = Buffer.concat([stderrBuf, chunk]);
      if (stderrBuf.length > maxStderr) stderrBuf = stderrBuf.subarray(stderrBuf.length - maxStderr);
    });

    if (options.input !== undefined && child.stdin) {
      // A command that exits without reading its stdin gives EPIPE; its exit status tells the story.
      child.stdin.on('error', () => {});
      child.stdin.end(options.input);
    }

    child.on('error', (err: NodeJS.ErrnoException) => {
      spawnError = err;
      fail(err.code === 'ENOENT' ? 'notFound' : 'spawnFailed', null, null);
    });

    // 'close' (not 'exit'): all output has been read by then.
    child.on('close', (code: number | null, signal: NodeJS.Signals | null) => {
      if (failure !== null) {
        fail(failure, code, signal);
        return;
      }
      if (signal !== null || code === null) {
        fail('signal', null, signal);
        return;
      }
      if (!okCodes.includes(code)) {
        fail('exitCode', code, null);
        return;
      }
      finish(() =>
        resolve({
          command,
          args: argsCopy,
          exitCode: code,
          stdout: Buffer.concat(stdoutChunks).toString('utf8'),
          stderr: stderrBuf.toString('utf8'),
          durationMs: Date.now() - started,
        }),
      );
    });
  });
};

/** A runner that counts calls per command name: what tests use to prove "one squeue per cycle". */
export function countingRunner(inner: CommandRunner = runCommand): {
  run: CommandRunner;
  counts: Map<string, number>;
  calls: Array<{ command: string; args: readonly string[] }>;
} {
  const counts = new Map<string, number>();
  const calls: Array<{ command: string; args: readonly string[] }> = [];
  const run: CommandRunner = (command, args, options) => {
    counts.set(command, (counts.get(command) ?? 0) + 1);
    calls.push({ command, args: [...args] });
    return inner(command, args, options);
  };
  return { run, counts, calls };
}
