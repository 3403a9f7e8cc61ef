/**
 * Collects every problem of a file instead of stopping at the first, so an operator fixes a
 * broken file in one round. Each entry names file, queue, field, value and what was expected.
 */
import type { ConfigError, Severity } from './types';

/** Where a problem sits; template is set when the value came from a template. */
export interface ProblemLocation {
  queue: string | null;
  field: string;
  template?: string;
}

/** Renders a value for a message: JSON, shortened so one bad blob does not flood the output. */
export function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing (missing)';
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = String(value);
  }
  return text.length > 120 ? `${text.slice(0, 117)}...` : text;
}

export function formatProblem(p: Omit<ConfigError, 'message'>): string {
  const where = [p.file, p.queue === null ? null : `queue ${p.queue}`, p.field === '' ? null : p.field]
    .filter((s): s is string => s !== null)
    .join(': ');
  const origin = p.template === undefined ? '' : ` (inherited from template ${p.template})`;
  return `${where}: got ${describeValue(p.value)}${origin}, expected ${p.expected}`;
}

export class Diagnostics {
  readonly errors: ConfigError[] = [];
  readonly warnings: ConfigError[] = [];

  constructor(readonly file: string) {}

  error(at: ProblemLocation, value: unknown, expected: string): void {
    this.add('error', at, value, expected);
  }

  warning(at: ProblemLocation, value: unknown, expected: string): void {
    this.add('warning', at, value, expected);
  }

  /** Number of errors so far; callers compare before/after to know whether a step failed. */
  get errorCount(): number {
    return this.errors.length;
  }

  private add(severity: Severity, at: ProblemLocation, value: unknown, expected: string): void {
    const base: Omit<ConfigError, 'message'> = {
      severity,
      file: this.file,
      queue: at.queue,
      field: at.field,
      value,
      expected,
      ...(at.template === undefined ? {} : { template: at.template }),
    };
    const entry: ConfigError = { ...base, message: formatProblem(base) };
    (severity === 'error' ? this.errors : this.warnings).push(entry);
  }
}
