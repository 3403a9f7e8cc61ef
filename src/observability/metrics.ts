/**
 * Harvester's own Prometheus metrics, recorded through the Temporal runtime's meter so they are
 * served on the same endpoint as the SDK's (HARVESTER_METRICS_PORT, path /metrics). Without an
 * exporter configured the meter is a no-op, so activities record unconditionally.
 */
import { metricMeter } from '@temporalio/activity';
import type { MetricMeter } from '@temporalio/common';

function meter(): MetricMeter | undefined {
  try {
    return metricMeter;
  } catch {
    return undefined; // outside an activity (unit tests)
  }
}

export const harvesterMetrics = {
  workersStarted(queue: string, n: number): void {
    meter()
      ?.createCounter('harvester_workers_started', 'workers', 'worker lifecycles started')
      .add(n, { queue });
  },
  submissionOutcome(queue: string, outcome: 'submitted' | 'missed'): void {
    meter()
      ?.createCounter('harvester_submissions', 'workers', 'submission outcomes')
      .add(1, { queue, outcome });
  },
  killRequested(queue: string, source: string): void {
    meter()
      ?.createCounter('harvester_kills', 'workers', 'kills requested, by reason')
      .add(1, { queue, source });
  },
  workersByStatus(queue: string, counts: Record<string, number>): void {
    const gauge = meter()?.createGauge(
      'harvester_workers',
      'int',
      'workers',
      'live workers by queue and status',
    );
    for (const [status, n] of Object.entries(counts)) gauge?.set(n, { queue, status });
  },
  pandaCall(endpoint: string, seconds: number, ok: boolean): void {
    const m = meter();
    m?.createHistogram('harvester_panda_call_seconds', 'float', 's', 'PanDA call latency').record(seconds, {
      endpoint,
    });
    if (!ok)
      m?.createCounter('harvester_panda_call_errors', 'calls', 'failed PanDA calls').add(1, { endpoint });
  },
  heartbeatLag(queue: string, seconds: number): void {
    meter()
      ?.createHistogram(
        'harvester_heartbeat_lag_seconds',
        'float',
        's',
        'delay of a heartbeat report past its due time',
      )
      .record(Math.max(0, seconds), { queue });
  },
  monitorCycle(queue: string, ok: boolean): void {
    meter()
      ?.createCounter('harvester_monitor_cycles', 'cycles', 'bulk status queries')
      .add(1, { queue, ok: String(ok) });
  },
};
