/**
 * Typed readers for plugin params. Harvester copies every config key onto the plugin object unchecked
 * (and reads them later with getattr defaults); here each plugin reads its keys once, at construction,
 * and a wrong type fails there with the plugin, the key and what was expected.
 */
import type { PluginOutcome, PluginParams } from '../types';

export class PluginParamError extends Error {
  readonly type = 'plugin_param';
  constructor(plugin: string, key: string, expected: string, value: unknown) {
    super(`${plugin}: parameter "${key}" must be ${expected}, got ${JSON.stringify(value)}`);
    this.name = 'PluginParamError';
  }
}

export function optionalNumber(params: PluginParams, plugin: string, key: string): number | undefined {
  const value = params[key];
  if (value === undefined || value === null) return undefined;
  // Harvester's cfg coercion turns all-digit strings into ints; accept the same in JSON configs.
  if (typeof value === 'string' && /^-?\d+(\.\d+)?$/.test(value.trim())) return Number(value);
  if (typeof value !== 'number' || !Number.isFinite(value))
    throw new PluginParamError(plugin, key, 'a number', value);
  return value;
}

export function numberParam(params: PluginParams, plugin: string, key: string, fallback: number): number {
  return optionalNumber(params, plugin, key) ?? fallback;
}

export function optionalString(params: PluginParams, plugin: string, key: string): string | undefined {
  const value = params[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw new PluginParamError(plugin, key, 'a string', value);
  return value;
}

export function booleanParam(params: PluginParams, plugin: string, key: string, fallback: boolean): boolean {
  const value = params[key];
  if (value === undefined || value === null) return fallback;
  if (value === 'True' || value === 'true') return true;
  if (value === 'False' || value === 'false') return false;
  if (typeof value !== 'boolean') throw new PluginParamError(plugin, key, 'true or false', value);
  return value;
}

/** A list of worker ids; a single number is accepted as a list of one. */
export function numberListParam(params: PluginParams, plugin: string, key: string): number[] {
  const value = params[key];
  if (value === undefined || value === null) return [];
  const list = Array.isArray(value) ? value : [value];
  for (const item of list) {
    if (typeof item !== 'number' || !Number.isInteger(item)) {
      throw new PluginParamError(plugin, key, 'a list of integers', value);
    }
  }
  return list as number[];
}

export function stringListParam(params: PluginParams, plugin: string, key: string): string[] {
  const value = params[key];
  if (value === undefined || value === null) return [];
  const list = Array.isArray(value) ? value : [value];
  for (const item of list) {
    if (typeof item !== 'string') throw new PluginParamError(plugin, key, 'a list of strings', value);
  }
  return list as string[];
}

const OUTCOMES: readonly PluginOutcome[] = ['success', 'permanentFailure', 'temporaryFailure'];

export function outcomeParam(
  params: PluginParams,
  plugin: string,
  key: string,
  fallback: PluginOutcome,
): PluginOutcome {
  const value = params[key];
  if (value === undefined || value === null) return fallback;
  if (typeof value !== 'string' || !(OUTCOMES as readonly string[]).includes(value)) {
    throw new PluginParamError(plugin, key, `one of ${OUTCOMES.join(', ')}`, value);
  }
  return value as PluginOutcome;
}
