/** Date formats the PanDA server parses; it has no time-zone handling, so everything is UTC. */

function pad(n: number, width = 2): string {
  return String(n).padStart(width, '0');
}

/** "%Y-%m-%d %H:%M:%S" — job start/end times in heartbeats. */
export function formatPandaTime(d: Date): string {
  return (
    `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ` +
    `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`
  );
}

/** "%Y-%m-%d %H:%M:%S.%f" — service metrics and dialogs (microseconds; JS has milliseconds). */
export function formatPandaTimeMicro(d: Date): string {
  return `${formatPandaTime(d)}.${pad(d.getUTCMilliseconds(), 3)}000`;
}

/** "datetime/%Y-%m-%d %H:%M:%S.%f" — the prefix form the server turns back into a datetime for workers. */
export function formatPandaDatetimeTag(d: Date): string {
  return `datetime/${formatPandaTimeMicro(d)}`;
}
