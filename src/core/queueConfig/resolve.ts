/**
 * Resolution of one queue entry into a QueueConfig: template merge, scalar attributes with
 * Harvester's defaults, limit rules, plugin sections, our temporal section, configID.
 * All problems go to the Diagnostics; the queue is returned only when it has none.
 */
import type { MapType } from '../specs';
import { configIdOf } from './configId';
import { CATCHALL, HARVESTER_QUEUE_DEFAULTS } from './defaults';
import { Diagnostics } from './diagnostics';
import { FieldReader } from './fieldReader';
import { isPlainObject, type JsonObject } from './json';
import { applyLimitRules, QUEUE_LIMIT_ATTRS, readLimits } from './limits';
import { expandConfigLevel } from './placeholders';
import {
  checkPlaceholders,
  expandStrings,
  resolvePluginSection,
  type SectionContext,
} from './pluginSections';
import { readGetJobCriteria, readNoHeartbeat, readPermilleWeights, readStringList } from './queueAttributes';
import { isTemplateEntry, mergeWithTemplate, TEMPORAL_SECTION } from './templates';
import { readTemporalSection } from './temporalSection';
import {
  MANDATORY_PLUGIN_SLOTS,
  OPTIONAL_PLUGIN_SLOTS,
  PLUGIN_KIND_OF_SLOT,
  type PluginSection,
  type PluginSlot,
  type QueueConfig,
  type QueueConfigOptions,
  type RunMode,
} from './types';

const MAP_TYPES: readonly MapType[] = ['NoJob', 'OneToOne', 'ManyToOne', 'OneToMany'];
const RUN_MODES: readonly RunMode[] = ['self', 'slave'];

/** Scalar and object attributes modelled in QueueConfig (besides limits and plugin sections). */
const MODELLED_KEYS: ReadonlySet<string> = new Set([
  'queueStatus',
  'prodSourceLabel',
  'mapType',
  'useJobLateBinding',
  'runMode',
  'truePilot',
  'noHeartbeat',
  'nNewWorkers',
  'maxSubmissionAttempts',
  'allowJobMixture',
  'getJobCriteria',
  'ddmEndpointIn',
  'zipPerMB',
  'prefetchEvents',
  'initEventsMultipler',
  'scatteredEvents',
  'prodSourceLabelRandomWeightsPermille',
  'prioritizedProdSourceLabels',
  'siteName',
  'siteFamily',
  'resourceType',
  'jobType',
  'common',
  'credmanagers',
  TEMPORAL_SECTION,
  ...QUEUE_LIMIT_ATTRS,
  ...MANDATORY_PLUGIN_SLOTS,
  ...OPTIONAL_PLUGIN_SLOTS,
]);

/**
 * Harvester attributes we do not model but that plugins or agents read from the queue config;
 * kept in `extra` without a warning.
 */
const KNOWN_UNMODELLED_KEYS: ReadonlySet<string> = new Set([
  'walltimeLimit',
  'pandaQueueName',
  'noPilotsWhenNoActiveJobs',
  'file_syncer',
]);

export interface ResolveQueueResult {
  queue: QueueConfig | null;
  diagnostics: Diagnostics;
}

/**
 * Resolves the entry `queueName` of a parsed file (`document` maps names to entries; templates
 * are looked up in it). Problems are added to `diagnostics` (a fresh one when not given).
 */
export function resolveQueue(
  queueName: string,
  document: Readonly<Record<string, unknown>>,
  sourceName: string,
  options: QueueConfigOptions = {},
  diagnostics: Diagnostics = new Diagnostics(sourceName),
): ResolveQueueResult {
  const diag = diagnostics;
  const before = diag.errorCount;
  const entry = document[queueName];
  if (!isPlainObject(entry)) {
    diag.error(
      { queue: queueName, field: '' },
      entry,
      'an object with the queue attributes and plugin sections',
    );
    return { queue: null, diagnostics: diag };
  }
  if (isTemplateEntry(queueName, entry)) {
    diag.error(
      { queue: queueName, field: '' },
      queueName,
      'a queue, not a template (templates are not active queues)',
    );
    return { queue: null, diagnostics: diag };
  }
  if (entry['isTemplateQueue'] !== undefined && typeof entry['isTemplateQueue'] !== 'boolean') {
    diag.error({ queue: queueName, field: 'isTemplateQueue' }, entry['isTemplateQueue'], 'true or false');
  }

  const errorsBeforeTemplate = diag.errorCount;
  const templateName = findTemplate(queueName, entry, document, diag);
  // With an unusable template, "missing section" errors would only repeat that one mistake.
  const templateFailed = diag.errorCount > errorsBeforeTemplate;
  const template = templateName === null ? undefined : (document[templateName] as JsonObject);
  const merged = mergeWithTemplate(entry, template, templateName);
  const values = merged.values;
  const reader = new FieldReader(values, diag, queueName, merged.templateOrigin);

  const [sitePart, ...rest] = queueName.split('/');
  const siteName = reader.string('siteName', sitePart!);
  const resourceType = reader.string('resourceType', rest.length > 0 ? rest[rest.length - 1]! : CATCHALL);
  const mapType = reader.oneOf('mapType', MAP_TYPES, HARVESTER_QUEUE_DEFAULTS.mapType);
  const truePilot = reader.boolean('truePilot', HARVESTER_QUEUE_DEFAULTS.truePilot);
  const queueStatus = reader.string('queueStatus', HARVESTER_QUEUE_DEFAULTS.queueStatus).toLowerCase();

  const { limits, notes } = applyLimitRules(readLimits(reader), mapType);
  for (const note of notes) diag.warning(reader.at([note.field]), note.value, note.expected);

  const common = readCommon(reader, diag);
  const extraPlaceholders = new Set(options.extraPlaceholders ?? []);
  const ctx: SectionContext = {
    reader,
    diag,
    queueName,
    siteName,
    common,
    merged: values,
    options,
    extraPlaceholders,
  };
  for (const [key, value] of Object.entries(common))
    checkPlaceholders(value, ['common', key], `common.${key}`, ctx);

  const plugins: Partial<Record<PluginSlot, PluginSection>> = {};
  for (const slot of [...MANDATORY_PLUGIN_SLOTS, ...OPTIONAL_PLUGIN_SLOTS]) {
    if (!reader.has(slot)) {
      if (!templateFailed && (MANDATORY_PLUGIN_SLOTS as readonly string[]).includes(slot)) {
        diag.error(
          reader.at([slot]),
          undefined,
          `a ${slot} section {"module": ..., "name": ...} (mandatory, in the queue or its template)`,
        );
      }
      continue;
    }
    const section = resolvePluginSection(
      values[slot],
      PLUGIN_KIND_OF_SLOT[slot],
      { path: [slot], display: slot, copyCommon: true },
      ctx,
    );
    if (section !== null) plugins[slot] = section;
  }
  const credmanagers = readCredManagers(reader, diag, ctx);

  const middlewareTargets = new Set(
    Object.values(values)
      .filter(isPlainObject)
      .map((section) => section['middleware'])
      .filter((target): target is string => typeof target === 'string'),
  );
  const extra: JsonObject = {};
  for (const [key, value] of Object.entries(values)) {
    if (MODELLED_KEYS.has(key)) continue;
    extra[key] = expandStrings(value, (text) =>
      expandConfigLevel(text, { common, harvesterID: options.harvesterID }),
    );
    if (!KNOWN_UNMODELLED_KEYS.has(key) && !middlewareTargets.has(key)) {
      diag.warning(
        reader.at([key]),
        value,
        'a Harvester queue attribute or plugin section; unknown key kept as is (Harvester tolerates it)',
      );
    }
  }

  const queueWithoutId: Omit<QueueConfig, 'configID'> = {
    queueName,
    siteName,
    siteFamily: reader.string('siteFamily', siteName),
    resourceType,
    jobType: reader.string('jobType', CATCHALL),
    queueStatus,
    active: queueStatus !== 'offline',
    prodSourceLabel: reader.string('prodSourceLabel', HARVESTER_QUEUE_DEFAULTS.prodSourceLabel),
    mapType,
    useJobLateBinding: reader.boolean('useJobLateBinding', HARVESTER_QUEUE_DEFAULTS.useJobLateBinding),
    runMode: reader.oneOf('runMode', RUN_MODES, HARVESTER_QUEUE_DEFAULTS.runMode),
    truePilot,
    noHeartbeat: readNoHeartbeat(reader, truePilot),
    ...limits,
    nNewWorkers: reader.count('nNewWorkers', HARVESTER_QUEUE_DEFAULTS.nNewWorkers),
    maxSubmissionAttempts: reader.count(
      'maxSubmissionAttempts',
      HARVESTER_QUEUE_DEFAULTS.maxSubmissionAttempts,
    ),
    allowJobMixture: reader.boolean('allowJobMixture', HARVESTER_QUEUE_DEFAULTS.allowJobMixture),
    getJobCriteria: readGetJobCriteria(reader),
    ddmEndpointIn: reader.optionalString('ddmEndpointIn'),
    zipPerMB: reader.optionalNumber('zipPerMB'),
    prefetchEvents: reader.boolean('prefetchEvents', HARVESTER_QUEUE_DEFAULTS.prefetchEvents),
    initEventsMultipler: reader.count('initEventsMultipler', HARVESTER_QUEUE_DEFAULTS.initEventsMultipler),
    scatteredEvents: reader.boolean('scatteredEvents', HARVESTER_QUEUE_DEFAULTS.scatteredEvents),
    prodSourceLabelRandomWeightsPermille: readPermilleWeights(reader),
    prioritizedProdSourceLabels: readStringList(
      reader,
      'prioritizedProdSourceLabels',
      HARVESTER_QUEUE_DEFAULTS.prioritizedProdSourceLabels,
    ),
    templateQueueName: templateName,
    // Mandatory ones are all present whenever no error was recorded (checked above); optional
    // ones appear only when set, so the resolved JSON (and the configID) has no undefined members.
    ...(plugins as Record<(typeof MANDATORY_PLUGIN_SLOTS)[number], PluginSection>),
    credmanagers,
    common: expandStrings(common, (text) =>
      expandConfigLevel(text, { common, harvesterID: options.harvesterID }),
    ) as JsonObject,
    temporal: readTemporalSection(reader, diag, values['monitor']),
    extra,
  };

  if (diag.errorCount > before) return { queue: null, diagnostics: diag };
  return { queue: { ...queueWithoutId, configID: configIdOf(queueWithoutId) }, diagnostics: diag };
}

/** The template named by the entry, or null; an unusable name is an error (Harvester drops the queue with a warning). */
function findTemplate(
  queueName: string,
  entry: JsonObject,
  document: Readonly<Record<string, unknown>>,
  diag: Diagnostics,
): string | null {
  const name = entry['templateQueueName'];
  if (name === undefined || name === null) return null;
  const at = { queue: queueName, field: 'templateQueueName' };
  if (typeof name !== 'string') {
    diag.error(at, name, 'the name of a template entry in this file');
    return null;
  }
  const template = document[name];
  const templates = Object.keys(document).filter(
    (n) => isPlainObject(document[n]) && isTemplateEntry(n, document[n]),
  );
  const known =
    templates.length > 0 ? `; templates here: ${templates.sort().join(', ')}` : '; this file has none';
  if (!isPlainObject(template)) {
    diag.error(at, name, `the name of a template entry in this file${known}`);
    return null;
  }
  if (!isTemplateEntry(name, template)) {
    diag.error(
      at,
      name,
      `a template (an entry with "isTemplateQueue": true or a name ending in _TEMPLATE)${known}`,
    );
    return null;
  }
  return name;
}

function readCommon(reader: FieldReader, diag: Diagnostics): JsonObject {
  if (!reader.has('common')) return {};
  const raw = reader.raw('common');
  if (!isPlainObject(raw)) {
    diag.error(reader.at(['common']), raw, 'an object whose keys are copied into every plugin section');
    return {};
  }
  return raw;
}

function readCredManagers(reader: FieldReader, diag: Diagnostics, ctx: SectionContext): PluginSection[] {
  if (!reader.has('credmanagers')) return [];
  const raw = reader.raw('credmanagers');
  if (!Array.isArray(raw)) {
    diag.error(reader.at(['credmanagers']), raw, 'a list of plugin sections');
    return [];
  }
  const out: PluginSection[] = [];
  raw.forEach((item, i) => {
    const section = resolvePluginSection(
      item,
      PLUGIN_KIND_OF_SLOT.credmanagers,
      { path: ['credmanagers'], display: `credmanagers[${i}]`, copyCommon: false },
      ctx,
    );
    if (section !== null) out.push(section);
  });
  return out;
}
