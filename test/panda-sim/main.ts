/**
 * Runs the PanDA simulator as a process:
 *   node --import tsx test/panda-sim/main.ts --port 25080 [--host 127.0.0.1] [--token T ...]
 *     [--heartbeat-timeout-s N] [--watcher-period-s N] [--adder-delay-s N] [--queue NAME ...] [--jobs N]
 * Operators drive it with POST /sim/<control> (see server.ts) and read GET /sim/state.
 */
import { parseArgs } from 'node:util';
import { startPandaSim } from './server';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      port: { type: 'string', default: '25080' },
      host: { type: 'string', default: '127.0.0.1' },
      token: { type: 'string', multiple: true },
      'heartbeat-timeout-s': { type: 'string' },
      'watcher-period-s': { type: 'string' },
      'adder-delay-s': { type: 'string' },
      queue: { type: 'string', multiple: true },
      jobs: { type: 'string', default: '0' },
    },
  });
  const seconds = (v: string | undefined) => (v === undefined ? undefined : Number(v) * 1000);
  const timers = Object.fromEntries(
    Object.entries({
      heartbeatTimeoutMs: seconds(values['heartbeat-timeout-s']),
      watcherPeriodMs: seconds(values['watcher-period-s']),
      adderDelayMs: seconds(values['adder-delay-s']),
    }).filter(([, v]) => v !== undefined),
  );
  const sim = await startPandaSim({
    port: Number(values.port),
    host: values.host,
    tokens: values.token,
    timers,
  });
  for (const q of values.queue ?? []) {
    sim.control.addQueue(q);
    sim.control.addJobs(Number(values.jobs), { computingSite: q });
  }
  console.log(`panda-sim listening on ${sim.url}`);
  const stop = () => {
    sim.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
