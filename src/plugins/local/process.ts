/**
 * What a local worker leaves in its access point, and how to tell whether its process lives.
 *
 * A worker is `/bin/sh -c WRAPPER` started in its own session (so its own process group, pgid =
 * pid). The wrapper runs the pilot script and writes the pilot's exit status to a file, so the
 * monitor can read how it ended after the process is gone, and after a harvester restart.
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { errorCode, readTextIfExists } from '../common/files';

/**
 * A /proc file of a process that may exit while we read it: open can fail with ENOENT and the read
 * itself with ESRCH. Both mean "gone", not an error of the kill or the status check.
 */
async function readProcFile(file: string): Promise<string | undefined> {
  try {
    return await fs.readFile(file, 'utf8');
  } catch (err) {
    const code = errorCode(err);
    if (code === 'ENOENT' || code === 'ESRCH') return undefined;
    throw err;
  }
}

export const LOCAL_FILES = {
  script: 'pilot.sh',
  pid: 'pilot.pid',
  exitCode: 'pilot.exitcode',
  killed: 'pilot.killed',
  stdout: 'pilot.stdout',
  stderr: 'pilot.stderr',
} as const;

export function localFile(accessPoint: string, key: keyof typeof LOCAL_FILES): string {
  return path.join(accessPoint, LOCAL_FILES[key]);
}

/**
 * Constant wrapper script; every variable part arrives as a positional argument ($1 interpreter,
 * $2 pilot script, $3 exit-code file), never spliced into the script text.
 * The TERM/INT/HUP trap is a handler, not "ignore": ignored signals would be inherited by the pilot,
 * a handler is reset in it. So a group-wide SIGTERM ends the pilot while the wrapper survives long
 * enough to record 143. `wait` repeats because a trapped signal interrupts it early.
 */
export const WRAPPER_SCRIPT = [
  "trap ':' TERM INT HUP",
  '"$1" "$2" &',
  'child=$!',
  'while :; do wait "$child"; code=$?; kill -0 "$child" 2>/dev/null || break; done',
  'printf \'%s\\n\' "$code" > "$3.tmp" && mv -f "$3.tmp" "$3"',
].join('\n');

/** argv[0] of the wrapper: lets a `ps` reader see what the process is. */
export const WRAPPER_NAME = 'harvester-local-worker';

/** The recorded exit code, or undefined while the pilot has not ended (or the file is half-written). */
export async function readExitCode(accessPoint: string): Promise<number | undefined> {
  const text = await readTextIfExists(localFile(accessPoint, 'exitCode'));
  if (text === undefined) return undefined;
  const trimmed = text.trim();
  if (!/^\d+$/.test(trimmed))
    throw new Error(`${localFile(accessPoint, 'exitCode')}: not an exit code: ${JSON.stringify(trimmed)}`);
  return Number(trimmed);
}

export async function readPid(accessPoint: string): Promise<number | undefined> {
  const text = await readTextIfExists(localFile(accessPoint, 'pid'));
  if (text === undefined) return undefined;
  const trimmed = text.trim();
  return /^\d+$/.test(trimmed) ? Number(trimmed) : undefined;
}

/**
 * Whether `pid` is still *this worker's* wrapper. Checking only that the pid exists would be fooled
 * by pid reuse after a reboot or a long time; the wrapper's command line holds the exit-code file
 * path, which is unique to the worker.
 */
export async function isWorkerAlive(pid: number, accessPoint: string): Promise<boolean> {
  const cmdline = await readProcFile(`/proc/${pid}/cmdline`);
  if (cmdline === undefined) return false;
  if (!cmdline.split('\0').includes(localFile(accessPoint, 'exitCode'))) return false;
  // A zombie (exited, not yet reaped by its parent) is not running.
  const stat = await readProcFile(`/proc/${pid}/stat`);
  const state = stat ? /\) (\S)/.exec(stat)?.[1] : undefined;
  return state !== undefined && state !== 'Z' && state !== 'X';
}

/**
 * True while any process of the worker's process group (other than zombies) still runs. The
 * wrapper can die of SIGTERM while a pilot that ignores SIGTERM lives on in the same group.
 */
export async function groupHasLiveMembers(pgid: number): Promise<boolean> {
  let entries: string[];
  try {
    entries = await fs.readdir('/proc');
  } catch {
    return false;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readProcFile(`/proc/${entry}/stat`);
    if (!stat) continue;
    // Fields after the parenthesised command: state ppid pgrp ...
    const m = /\) (\S) \S+ (\d+)/.exec(stat);
    if (m && Number(m[2]) === pgid && m[1] !== 'Z' && m[1] !== 'X') return true;
  }
  return false;
}

/** Signals the worker's whole process group; false when it is already gone. */
export function signalGroup(pid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pid, signal);
    return true;
  } catch (err) {
    if (errorCode(err) === 'ESRCH') return false;
    throw err;
  }
}
