/**
 * A harvester process for the scale bench: the real CLI (`worker` or `edge`, as an operator runs
 * it), with the sweeper's kill calls recorded to HARVESTER_BENCH_KILL_LOG (bench/support/killLog)
 * so the bench can count them from outside. Its own process, so its CPU time and RSS are its own.
 *
 *   node --import tsx bench/support/scaleProcess.ts worker --queue-config FILE
 *   node --import tsx bench/support/scaleProcess.ts edge --task-queue NAME
 */
import { main } from '../../src/cli/main';
import { recordKillCalls } from './killLog';

const killLog = process.env.HARVESTER_BENCH_KILL_LOG;
if (killLog) recordKillCalls(killLog);

main(process.argv.slice(2)).then((code) => {
  if (code !== 0) process.exit(code);
});
