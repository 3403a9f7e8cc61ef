/**
 * Typed reads of a merged queue entry. A wrong value is recorded as an error (with the field's
 * path and, when inherited, its template) and the default is returned so that the rest of the
 * entry is still checked: every problem of a file is reported in one run.
 */
import type { Diagnostics, ProblemLocation } from './diagnostics';
import type { JsonObject } from './json';

export class FieldReader {
  constructor(
    private readonly values: JsonObject,
    private readonly diag: Diagnostics,
    private readonly queue: string,
    private readonly origin: (path: readonly string[]) => string | undefined,
  ) {}

  /** Location of a field for a message, with its template when the value was inherited. */
  at(path: readonly string[], display?: string): ProblemLocation {
    const template = this.origin(path);
    return {
      queue: this.queue,
      field: display ?? path.join('.'),
      ...(template === undefined ? {} : { template }),
    };
  }

  /** Present and not null (JSON null means "unset", as Python's None does for Harvester). */
  has(key: string): boolean {
    return this.values[key] !== undefined && this.values[key] !== null;
  }

  raw(key: string): unknown {
    return this.values[key];
  }

  error(key: string, expected: string): void {
    this.diag.error(this.at([key]), this.values[key], expected);
  }

  warning(key: string, expected: string): void {
    this.diag.warning(this.at([key]), this.values[key], expected);
  }

  string(key: string, fallback: string): string {
    if (!this.has(key)) return fallback;
    const value = this.values[key];
    if (typeof value === 'string' && value !== '') return value;
    this.error(key, 'a non-empty string');
    return fallback;
  }

  optionalString(key: string): string | null {
    if (!this.has(key)) return null;
    const value = this.values[key];
    if (typeof value === 'string') return value;
    this.error(key, 'a string');
    return null;
  }

  boolean(key: string, fallback: boolean): boolean {
    if (!this.has(key)) return fallback;
    const value = this.values[key];
    if (typeof value === 'boolean') return value;
    this.error(key, 'true or false');
    return fallback;
  }

  oneOf<T extends string>(key: string, allowed: readonly T[], fallback: T): T {
    if (!this.has(key)) return fallback;
    const value = this.values[key];
    if (typeof value === 'string' && (allowed as readonly string[]).includes(value)) return value as T;
    this.error(key, `one of ${allowed.map((a) => JSON.stringify(a)).join(', ')}`);
    return fallback;
  }

  /**
   * A whole number >= 0, or null when unset. Harvester turns a non-integer limit into None and
   * a negative one into 0 without a word; here both are errors, because a limit that silently
   * vanishes is how queues over-submit.
   */
  optionalCount(key: string): number | null {
    if (!this.has(key)) return null;
    const value = this.values[key];
    if (typeof value !== 'number' || !Number.isInteger(value)) {
      this.error(key, 'a whole number (Harvester would silently drop this limit)');
      return null;
    }
    if (value < 0) {
      this.error(key, 'a number >= 0 (Harvester would silently use 0)');
      return null;
    }
    return value;
  }

  count(key: string, fallback: number): number {
    return this.optionalCount(key) ?? fallback;
  }

  optionalNumber(key: string): number | null {
    if (!this.has(key)) return null;
    const value = this.values[key];
    if (typeof value === 'number' && Number.isFinite(value) && value >= 0) return value;
    this.error(key, 'a number >= 0');
    return null;
  }
}
