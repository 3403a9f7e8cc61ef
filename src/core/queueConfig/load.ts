/**
 * Entry points for reading a whole panda_queueconfig.json: parse, tell templates from queues,
 * resolve every queue, and return all queues, templates, errors and warnings together.
 */
import { readFileSync } from 'node:fs';
import { Diagnostics } from './diagnostics';
import { isPlainObject } from './json';
import { resolveQueue } from './resolve';
import { isTemplateEntry } from './templates';
import type { ConfigError, QueueConfig, QueueConfigLoadResult, QueueConfigOptions } from './types';

/**
 * Parses and resolves a queue-config document given as JSON text or an already parsed value.
 * `sourceName` is what messages call the file.
 */
export function parseQueueConfig(
  input: string | object,
  sourceName: string,
  options: QueueConfigOptions = {},
): QueueConfigLoadResult {
  const diag = new Diagnostics(sourceName);
  const document = typeof input === 'string' ? parseJson(input, diag) : input;
  if (document === undefined) return finish([], [], diag);
  if (!isPlainObject(document)) {
    diag.error({ queue: null, field: '' }, document, 'a JSON object mapping queue names to queue entries');
    return finish([], [], diag);
  }

  const queues: QueueConfig[] = [];
  const templates: string[] = [];
  for (const [name, entry] of Object.entries(document)) {
    if (name.trim() === '') {
      diag.error({ queue: name, field: '' }, name, 'a non-empty queue name');
      continue;
    }
    if (!isPlainObject(entry)) {
      diag.error(
        { queue: name, field: '' },
        entry,
        'an object with the queue attributes and plugin sections',
      );
      continue;
    }
    if (isTemplateEntry(name, entry)) {
      templates.push(name);
      checkTemplate(name, entry, diag);
      continue;
    }
    const { queue } = resolveQueue(name, document, sourceName, options, diag);
    if (queue !== null) queues.push(queue);
  }
  return finish(queues, templates, diag);
}

/** Reads and resolves one file; an unreadable file is reported like any other error. */
export function loadQueueConfigFile(path: string, options: QueueConfigOptions = {}): QueueConfigLoadResult {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const diag = new Diagnostics(path);
    const reason = err instanceof Error ? err.message : String(err);
    diag.error({ queue: null, field: '' }, reason, 'a readable queue-config JSON file');
    return finish([], [], diag);
  }
  return parseQueueConfig(text, path, options);
}

/**
 * Reads a queue-config file as a JSON document without resolving it (for merging with the remote
 * config first). An unreadable file, bad JSON or a non-object is reported and gives no document.
 */
export function readQueueConfigDocument(path: string): {
  document: Record<string, unknown> | undefined;
  errors: ConfigError[];
} {
  const diag = new Diagnostics(path);
  let text: string | undefined;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    diag.error({ queue: null, field: '' }, reason, 'a readable queue-config JSON file');
  }
  const parsed = text === undefined ? undefined : parseJson(text, diag);
  if (parsed !== undefined && !isPlainObject(parsed)) {
    diag.error({ queue: null, field: '' }, parsed, 'a JSON object mapping queue names to queue entries');
    return { document: undefined, errors: diag.errors };
  }
  return { document: parsed as Record<string, unknown> | undefined, errors: diag.errors };
}

/** Templates are only checked for what belongs to them alone; their content is checked in each queue using them. */
function checkTemplate(name: string, entry: Record<string, unknown>, diag: Diagnostics): void {
  const flag = entry['isTemplateQueue'];
  if (flag !== undefined && typeof flag !== 'boolean') {
    diag.error({ queue: name, field: 'isTemplateQueue' }, flag, 'true or false');
  }
  if (entry['templateQueueName'] !== undefined) {
    diag.warning(
      { queue: name, field: 'templateQueueName' },
      entry['templateQueueName'],
      'no templateQueueName in a template: templates do not inherit, so it is ignored (as in Harvester)',
    );
  }
}

function parseJson(text: string, diag: Diagnostics): unknown {
  if (text.trim() === '') {
    diag.error(
      { queue: null, field: '' },
      '',
      'a JSON object mapping queue names to queue entries (the file is empty)',
    );
    return undefined;
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    diag.error({ queue: null, field: '' }, locateSyntaxError(text, message), 'valid JSON');
    return undefined;
  }
}

/** Adds line:column to V8's "at position N" so the operator can jump to it. */
function locateSyntaxError(text: string, message: string): string {
  const match = /position (\d+)/.exec(message);
  if (match === null) return message;
  const position = Number(match[1]);
  const before = text.slice(0, position).split('\n');
  return `${message} (line ${before.length}, column ${before[before.length - 1]!.length + 1})`;
}

function finish(queues: QueueConfig[], templates: string[], diag: Diagnostics): QueueConfigLoadResult {
  return {
    // Code-point order, not locale order, so output is the same on every machine.
    queues: queues.sort((a, b) => (a.queueName < b.queueName ? -1 : a.queueName > b.queueName ? 1 : 0)),
    templates: templates.sort(),
    errors: diag.errors,
    warnings: diag.warnings,
  };
}
