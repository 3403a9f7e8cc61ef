/**
 * Routes the Temporal SDK's logs (and, with a port, its metrics) (worker, workflow `log`, activity `log`, and core's native logs)
 * into the process's pino logger, so every line is JSON with workflowId/runId/activity context.
 */
import { type LogLevel, type LogMetadata, Runtime } from '@temporalio/worker';
import type { Logger } from './logger';
import { HISTOGRAM_BUCKETS_SECONDS, setProcessMetricMeter } from './metrics';

let installed = false;

export function installTemporalLogging(
  log: Logger,
  opts: { coreLevel?: 'WARN' | 'ERROR'; metricsPort?: number } = {},
): void {
  const coreLevel = opts.coreLevel ?? 'WARN';
  if (installed) return;
  installed = true;
  const emit = (level: LogLevel, message: string, meta?: LogMetadata) => {
    const fields = meta ?? {};
    switch (level) {
      case 'TRACE':
      case 'DEBUG':
        log.debug(fields, message);
        return;
      case 'INFO':
        log.info(fields, message);
        return;
      case 'WARN':
        log.warn(fields, message);
        return;
      default:
        log.error(fields, message);
    }
  };
  Runtime.install({
    logger: {
      log: emit,
      trace: (m, meta) => emit('TRACE', m, meta),
      debug: (m, meta) => emit('DEBUG', m, meta),
      info: (m, meta) => emit('INFO', m, meta),
      warn: (m, meta) => emit('WARN', m, meta),
      error: (m, meta) => emit('ERROR', m, meta),
    },
    telemetryOptions: {
      logging: { filter: { core: coreLevel, other: coreLevel }, forward: {} },
      // The SDK's metrics and harvester's own (src/observability/metrics.ts) on one Prometheus endpoint.
      ...(opts.metricsPort
        ? {
            metrics: {
              prometheus: {
                bindAddress: `0.0.0.0:${opts.metricsPort}`,
                histogramBucketOverrides: HISTOGRAM_BUCKETS_SECONDS,
              },
            },
          }
        : {}),
    },
  });
  // Records made outside an activity (work of the process itself, not of a task) go to the same endpoint.
  if (opts.metricsPort) setProcessMetricMeter(Runtime.instance().metricMeter);
}
