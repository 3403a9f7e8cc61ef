/**
 * Merge of the instance's remote queue config (fetched from PanDA: the cacher's
 * `queues_config_file`, used when Harvester's [qconf] configFromCacher is on) with the local
 * panda_queueconfig.json, in Harvester's QueueConfigMapper order:
 *
 *   final = template (a local template replaces a remote one of the same name, whole)
 *           ← remote queue entry ← local queue entry
 *
 * where plugin sections (and `common`, `temporal`) are merged key by key and other keys are
 * replaced. The result is one ordinary queue-config document, so it is validated and resolved by
 * the same code as a single file; each problem is then labelled with the sources its queue came from.
 *
 * One corner differs from Harvester, on purpose kept simple: a remote section that is not an
 * object under a local section that is merges the local one over the template's (Harvester
 * would drop the template's keys). A non-object plugin section is an error anyway.
 */
import { formatProblem } from './diagnostics';
import { isPlainObject, type JsonObject } from './json';
import { parseQueueConfig } from './load';
import { isTemplateEntry, KEY_BY_KEY_SECTIONS } from './templates';
import type { ConfigError, QueueConfigLoadResult, QueueConfigOptions } from './types';

/** One source of queue configs: a parsed document and the name messages call it by (file or URL). */
export interface QueueConfigLayer {
  name: string;
  document: JsonObject;
}

export interface MergedQueueConfig {
  document: JsonObject;
  /** For every entry of `document`: the names of the layers it was built from, remote first. */
  sources: Record<string, string[]>;
  /** Things an operator should know about the merge itself (an entry that changed kind). */
  notes: ConfigError[];
}

/** Merges a remote layer (may be absent) under a local one; see the module comment for the rules. */
export function mergeQueueConfigDocuments(
  remote: QueueConfigLayer | undefined,
  local: QueueConfigLayer,
): MergedQueueConfig {
  const document: JsonObject = {};
  const sources: Record<string, string[]> = {};
  const notes: ConfigError[] = [];
  const remoteDoc = remote?.document ?? {};
  const names = new Set([...Object.keys(remoteDoc), ...Object.keys(local.document)]);

  for (const name of names) {
    const r = remoteDoc[name];
    const l = local.document[name];
    if (l === undefined) {
      document[name] = structuredClone(r);
      sources[name] = [remote!.name];
      continue;
    }
    if (r === undefined || !isPlainObject(r) || !isPlainObject(l)) {
      // Local only, or something the parser will report as malformed: the local entry stands.
      document[name] = structuredClone(l);
      sources[name] = [local.name];
      continue;
    }
    const remoteIsTemplate = isTemplateEntry(name, r);
    const localIsTemplate = isTemplateEntry(name, l);
    if (localIsTemplate || remoteIsTemplate) {
      // Templates are replaced whole (Harvester: final templates = remote updated by local).
      if (localIsTemplate !== remoteIsTemplate) {
        notes.push(
          note(
            local.name,
            name,
            `the same kind of entry in both sources; it is a ${remoteIsTemplate ? 'template' : 'queue'} in ${remote!.name} and a ${localIsTemplate ? 'template' : 'queue'} here, and the local entry replaces the remote one`,
          ),
        );
      }
      document[name] = structuredClone(l);
      sources[name] = [local.name];
      continue;
    }
    document[name] = layerQueueEntry(r, l);
    sources[name] = [remote!.name, local.name];
  }
  return { document, sources, notes };
}

/** A queue entry with `over` applied to `base`: sections key by key, other keys replaced. */
export function layerQueueEntry(base: JsonObject, over: JsonObject): JsonObject {
  const out: JsonObject = structuredClone(base);
  for (const [key, value] of Object.entries(over)) {
    const below = out[key];
    if (key === 'templateQueueName' && (value === null || value === undefined)) {
      // Harvester takes the template name from the last source that sets one.
      continue;
    }
    if (KEY_BY_KEY_SECTIONS.has(key) && isPlainObject(below) && isPlainObject(value)) {
      out[key] = { ...below, ...structuredClone(value) };
    } else {
      out[key] = structuredClone(value);
    }
  }
  return out;
}

/**
 * Merges the layers, then validates and resolves the result like one file. Problems with a queue
 * name the sources that queue was built from; problems with the document as a whole name both.
 */
export function parseLayeredQueueConfig(
  remote: QueueConfigLayer | undefined,
  local: QueueConfigLayer,
  options: QueueConfigOptions = {},
): QueueConfigLoadResult {
  const merged = mergeQueueConfigDocuments(remote, local);
  const allNames = remote ? `${remote.name} + ${local.name}` : local.name;
  const result = parseQueueConfig(merged.document, allNames, options);
  const relabel = (e: ConfigError): ConfigError => {
    const from = e.queue === null ? undefined : merged.sources[e.queue];
    const template = e.template === undefined ? undefined : merged.sources[e.template];
    const names = template ? [...new Set([...(from ?? []), ...template])] : from;
    if (!names) return e;
    const file = names.join(' + ');
    const { message: _old, ...rest } = e;
    return { ...rest, file, message: formatProblem({ ...rest, file }) };
  };
  return {
    queues: result.queues,
    templates: result.templates,
    errors: result.errors.map(relabel),
    warnings: [...merged.notes, ...result.warnings.map(relabel)],
  };
}

function note(file: string, queue: string, expected: string): ConfigError {
  const base: Omit<ConfigError, 'message'> = {
    severity: 'warning',
    file,
    queue,
    field: '',
    value: queue,
    expected,
  };
  return { ...base, message: formatProblem(base) };
}
