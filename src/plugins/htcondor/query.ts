/**
 * One condor_q / condor_history call, shared by the monitor and the submitter's lookup. When the
 * tool exits non-zero, the error names the tool's own failure line (parse.ts FAILED_QUERY_LINES):
 * condor_q prints it first and then paragraphs of "Extra Info", so the stderr tail a CommandError
 * keeps would hide the reason (captured, HTCondor 23.9.6).
 */
import { CommandError, type CommandRunner } from '../exec';
import { type JobAd, parseCondorJson, refuseFailedQuery } from './parse';

export async function condorQuery(
  run: CommandRunner,
  tool: 'condor_q' | 'condor_history',
  args: string[],
  timeoutMs: number,
): Promise<JobAd[]> {
  let res: Awaited<ReturnType<CommandRunner>>;
  try {
    res = await run(tool, args, { timeoutMs });
  } catch (err) {
    if (err instanceof CommandError && err.kind === 'exitCode')
      refuseFailedQuery(tool, err.stdout, err.stderrTail);
    throw err;
  }
  return parseCondorJson(res.stdout, tool, res.stderr);
}
