/**
 * Templates and their merge into queues, following Harvester's QueueConfigMapper:
 * an entry is a template when `isTemplateQueue` is true or its name ends in `_TEMPLATE`;
 * templates do not chain (a template's own templateQueueName is dropped); a queue starts from a
 * copy of its template and its own keys override, except that plugin sections (and `common`)
 * are merged key by key so a queue can change one plugin parameter without repeating the rest.
 */
import { isPlainObject, type JsonObject } from './json';
import { MANDATORY_PLUGIN_SLOTS, OPTIONAL_PLUGIN_SLOTS } from './types';

/** The section of our own extension (see TemporalQueueSettings); merged key by key too. */
export const TEMPORAL_SECTION = 'temporal';

/** Harvester's updatable_plugin_attrs, plus our temporal section. credmanagers (a list) is replaced whole. */
export const KEY_BY_KEY_SECTIONS: ReadonlySet<string> = new Set<string>([
  ...MANDATORY_PLUGIN_SLOTS,
  ...OPTIONAL_PLUGIN_SLOTS,
  'common',
  TEMPORAL_SECTION,
]);

/** Keys that steer inheritance and are not part of the resolved queue. */
const INHERITANCE_KEYS: ReadonlySet<string> = new Set(['templateQueueName', 'isTemplateQueue']);

export function isTemplateEntry(name: string, entry: JsonObject): boolean {
  return entry['isTemplateQueue'] === true || name.endsWith('_TEMPLATE');
}

/** A queue entry with its template applied. */
export interface MergedEntry {
  values: JsonObject;
  /** Name of the template the entry was built from, if any. */
  templateName: string | null;
  /**
   * The template name when the value at `path` (top-level key, optionally a key inside a
   * section) came from the template rather than the queue's own entry; used in messages so an
   * operator edits the right place.
   */
  templateOrigin(path: readonly string[]): string | undefined;
}

export function mergeWithTemplate(
  queue: JsonObject,
  template: JsonObject | undefined,
  templateName: string | null,
): MergedEntry {
  const values: JsonObject = {};
  if (template !== undefined) {
    for (const [key, value] of Object.entries(template)) {
      if (!INHERITANCE_KEYS.has(key)) values[key] = structuredClone(value);
    }
  }
  for (const [key, value] of Object.entries(queue)) {
    if (INHERITANCE_KEYS.has(key)) continue;
    const inherited = values[key];
    if (KEY_BY_KEY_SECTIONS.has(key) && isPlainObject(inherited) && isPlainObject(value)) {
      values[key] = { ...inherited, ...structuredClone(value) };
    } else {
      values[key] = structuredClone(value);
    }
  }

  const templateOrigin = (path: readonly string[]): string | undefined => {
    if (template === undefined || templateName === null || path.length === 0) return undefined;
    const [key, sub] = path as [string, string | undefined];
    if (!(key in queue)) return key in template ? templateName : undefined;
    const own = queue[key];
    if (sub !== undefined && KEY_BY_KEY_SECTIONS.has(key) && isPlainObject(own) && !(sub in own)) {
      const inherited = template[key];
      return isPlainObject(inherited) && sub in inherited ? templateName : undefined;
    }
    return undefined;
  };

  return { values, templateName, templateOrigin };
}
