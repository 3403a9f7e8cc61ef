/** Time source of the simulator: real by default, hand-driven in tests so 2-hour timeouts take no time. */
export interface SimClock {
  now(): number;
}

export const systemClock: SimClock = { now: () => Date.now() };

export class ManualClock implements SimClock {
  private t: number;

  constructor(start: number | Date = Date.UTC(2026, 4, 1, 10, 0, 0)) {
    this.t = typeof start === 'number' ? start : start.getTime();
  }

  now(): number {
    return this.t;
  }

  advance(ms: number): number {
    if (ms < 0) throw new Error('ManualClock cannot go backwards');
    this.t += ms;
    return this.t;
  }

  set(t: number | Date): void {
    this.t = typeof t === 'number' ? t : t.getTime();
  }
}

export const MINUTE = 60_000;
export const HOUR = 60 * MINUTE;

/** "%Y-%m-%d %H:%M:%S" UTC, the server's way of printing times in diagnostics. */
export function pandaTime(ms: number): string {
  return new Date(ms).toISOString().slice(0, 19).replace('T', ' ');
}

/** "2026-05-01T10:00:00": how datetimes come out of the command table. */
export function isoSeconds(ms: number): string {
  return new Date(ms).toISOString().slice(0, 19);
}
