/**
 * Resolution of one plugin section ({module, name, ...params}), as Harvester's
 * QueueConfigMapper does it: keys of the queue's `common` section are copied in where the
 * section does not set them, `queueName` and `siteName` are injected unless set, and a
 * `middleware` key swaps in another section's keys while keeping the section as written in
 * `original_config`. On top of Harvester: module/name are checked (types, and the plugin
 * registry when one is given) and ${...} placeholders are expanded (config-level) and checked.
 */
import type { PluginKind } from '../../plugins/types';
import type { Diagnostics } from './diagnostics';
import type { FieldReader } from './fieldReader';
import { isPlainObject, type JsonObject } from './json';
import { checkPlaceholderName, expandConfigLevel, placeholdersIn } from './placeholders';
import type { PluginSection, QueueConfigOptions } from './types';

/** What every section of one queue is resolved against. */
export interface SectionContext {
  reader: FieldReader;
  diag: Diagnostics;
  queueName: string;
  siteName: string;
  /** The merged `common` section ({} when absent or invalid). */
  common: JsonObject;
  /** The whole merged entry, to look up middleware sections. */
  merged: JsonObject;
  options: QueueConfigOptions;
  extraPlaceholders: ReadonlySet<string>;
}

/** Where a section sits: path for template lookup, display prefix for messages. */
export interface SectionLocation {
  /** Path of the section inside the entry, e.g. ['submitter'] or ['credmanagers']. */
  path: readonly string[];
  /** How the section is shown, e.g. "submitter" or "credmanagers[1]". */
  display: string;
  /**
   * Whether `common` is copied in. Harvester copies it into plugin sections only, not into the
   * credmanagers list (those use ${common.KEY} placeholders instead).
   */
  copyCommon: boolean;
}

const SECTION_SHAPE = 'a plugin section {"module": "<python module path>", "name": "<class name>", ...}';

export function resolvePluginSection(
  raw: unknown,
  kind: PluginKind | null,
  loc: SectionLocation,
  ctx: SectionContext,
): PluginSection | null {
  const { reader, diag } = ctx;
  const at = (key?: string) =>
    reader.at(
      key === undefined ? loc.path : [...loc.path, key],
      key === undefined ? loc.display : `${loc.display}.${key}`,
    );
  if (!isPlainObject(raw)) {
    diag.error(at(), raw, SECTION_SHAPE);
    return null;
  }
  const before = diag.errorCount;

  const module = raw['module'];
  const name = raw['name'];
  if (typeof module !== 'string' || module === '') {
    diag.error(at('module'), module, 'a non-empty string naming the plugin module');
  }
  if (typeof name !== 'string' || name === '') {
    diag.error(at('name'), name, 'a non-empty string naming the plugin class');
  }
  if (typeof module === 'string' && typeof name === 'string' && kind !== null && ctx.options.isKnownPlugin) {
    const known = ctx.options.isKnownPlugin(kind, module, name);
    if (known !== true && kind === 'credmanager') {
      // Nothing here runs credential managers yet (proxies and tokens are renewed outside this
      // harvester for now), so an unknown one must not cost the queue its workers: say so, load it.
      diag.warning(
        at(),
        { module, name },
        'a credmanager this harvester runs; none is run yet, so renew this credential outside it (the queue is loaded)',
      );
    } else if (known !== true) {
      diag.error(
        at(),
        { module, name },
        typeof known === 'string' ? known : `a ${kind} plugin registered in src/plugins/registry.ts`,
      );
    }
  }

  const section: JsonObject = { ...raw };
  const fromCommon = new Set<string>();
  for (const [key, value] of Object.entries(loc.copyCommon ? ctx.common : {})) {
    if (key === 'module' || key === 'name' || key in section) continue;
    section[key] = structuredClone(value);
    fromCommon.add(key);
  }
  // Harvester injects these only when absent, so a plugin may still be pointed elsewhere.
  if (!('siteName' in section)) section['siteName'] = ctx.siteName;
  if (!('queueName' in section)) section['queueName'] = ctx.queueName;

  if ('middleware' in section) {
    const target = section['middleware'];
    const middleware = typeof target === 'string' ? ctx.merged[target] : undefined;
    if (!isPlainObject(middleware)) {
      diag.error(
        at('middleware'),
        target,
        'the name of another object section of this queue (the middleware config)',
      );
    } else {
      section['original_config'] = structuredClone(section);
      Object.assign(section, structuredClone(middleware));
    }
  }

  const expanded = expandStrings(section, (text) =>
    expandConfigLevel(text, { common: ctx.common, harvesterID: ctx.options.harvesterID }),
  ) as JsonObject;
  for (const [key, value] of Object.entries(expanded)) {
    // Copied common values are checked once, under common.KEY, not once per plugin.
    if (fromCommon.has(key)) continue;
    checkPlaceholders(value, [...loc.path, key], `${loc.display}.${key}`, ctx);
  }

  if (diag.errorCount > before) return null;
  return expanded as PluginSection;
}

/** Checks the placeholders of every string inside `value`, reporting unknown ones. */
export function checkPlaceholders(
  value: unknown,
  path: readonly string[],
  display: string,
  ctx: Pick<SectionContext, 'reader' | 'diag' | 'common' | 'extraPlaceholders'>,
): void {
  if (typeof value === 'string') {
    for (const name of new Set(placeholdersIn(value))) {
      const problem = checkPlaceholderName(name, ctx.common, ctx.extraPlaceholders);
      if (problem !== null)
        ctx.diag.error(ctx.reader.at(path, display), value, `${problem}; \${${name}} is not one`);
    }
  } else if (Array.isArray(value)) {
    value.forEach((item, i) => {
      checkPlaceholders(item, path, `${display}[${i}]`, ctx);
    });
  } else if (isPlainObject(value)) {
    for (const [key, item] of Object.entries(value)) checkPlaceholders(item, path, `${display}.${key}`, ctx);
  }
}

/** A copy of `value` with `fn` applied to every string inside it. */
export function expandStrings(value: unknown, fn: (text: string) => string): unknown {
  if (typeof value === 'string') return fn(value);
  if (Array.isArray(value)) return value.map((item) => expandStrings(item, fn));
  if (isPlainObject(value)) {
    const out: JsonObject = {};
    for (const [key, item] of Object.entries(value)) out[key] = expandStrings(item, fn);
    return out;
  }
  return value;
}
