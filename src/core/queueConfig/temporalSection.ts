/**
 * OUR extension: the `"temporal": {...}` section of a queue entry (see TemporalQueueSettings).
 * Unlike Harvester attributes, unknown keys here are errors: the section is ours, so a typo in
 * it can only be a mistake, and a mistyped interval would otherwise silently stay at its default.
 */

import { TEMPORAL_DEFAULTS } from './defaults';
import type { Diagnostics } from './diagnostics';
import type { FieldReader } from './fieldReader';
import { isPlainObject } from './json';
import { TEMPORAL_SECTION } from './templates';
import type { TemporalQueueSettings } from './types';

type NumericSetting = Exclude<keyof TemporalQueueSettings, 'taskQueue' | 'autoResumeAfterMonitorRecovery'>;

/** Smallest accepted value per setting: intervals, timeouts and the threshold must be positive. */
const MINIMUM: Readonly<Record<NumericSetting, number>> = {
  submitterIntervalSeconds: 1,
  monitorIntervalSeconds: 1,
  heartbeatIntervalSeconds: 1,
  sweeperIntervalSeconds: 1,
  keepFinished: 0,
  keepFailed: 0,
  keepCancelled: 0,
  keepMissed: 0,
  keepPending: 0,
  workerQueueTimeLimit: 1,
  heldTimeout: 1,
  checkTimeout: 1,
  maxConsecutiveMonitorFailures: 1,
};

/**
 * Monitor plugin parameters Harvester already has for two of our settings (HTCondorMonitor's
 * heldTimeout, the monitor's checkTimeout): used when the temporal section does not set them,
 * so a Harvester file keeps its values.
 */
const FROM_MONITOR_SECTION: readonly NumericSetting[] = ['heldTimeout', 'checkTimeout'];

export function readTemporalSection(
  reader: FieldReader,
  diag: Diagnostics,
  monitorSection: unknown,
): TemporalQueueSettings {
  const settings: TemporalQueueSettings = { ...TEMPORAL_DEFAULTS };
  if (isPlainObject(monitorSection)) {
    for (const key of FROM_MONITOR_SECTION) {
      const value = monitorSection[key];
      if (typeof value === 'number' && Number.isInteger(value) && value >= MINIMUM[key])
        settings[key] = value;
    }
  }
  if (!reader.has(TEMPORAL_SECTION)) return settings;
  const raw = reader.raw(TEMPORAL_SECTION);
  if (!isPlainObject(raw)) {
    reader.error(TEMPORAL_SECTION, 'an object with our (temporal-harvester) queue settings');
    return settings;
  }
  const at = (key: string) => reader.at([TEMPORAL_SECTION, key]);
  for (const [key, value] of Object.entries(raw)) {
    if (key === 'taskQueue') {
      if (value === null) settings.taskQueue = null;
      else if (typeof value === 'string' && value.trim() !== '') settings.taskQueue = value;
      else
        diag.error(at(key), value, "a non-empty Temporal task queue name, or null for the central worker's");
      continue;
    }
    if (key === 'autoResumeAfterMonitorRecovery') {
      if (typeof value === 'boolean') settings.autoResumeAfterMonitorRecovery = value;
      else diag.error(at(key), value, 'true or false');
      continue;
    }
    if (!Object.hasOwn(MINIMUM, key)) {
      diag.error(
        at(key),
        value,
        `one of the temporal settings: taskQueue, autoResumeAfterMonitorRecovery, ${Object.keys(MINIMUM).join(', ')}`,
      );
      continue;
    }
    const setting = key as NumericSetting;
    if (typeof value === 'number' && Number.isInteger(value) && value >= MINIMUM[setting]) {
      settings[setting] = value;
    } else {
      diag.error(at(key), value, `a whole number >= ${MINIMUM[setting]}`);
    }
  }
  return settings;
}

/** The task queue on which a queue's plugin activities run. */
export function pluginTaskQueueOf(
  settings: Pick<TemporalQueueSettings, 'taskQueue'>,
  centralTaskQueue: string,
): string {
  return settings.taskQueue ?? centralTaskQueue;
}
