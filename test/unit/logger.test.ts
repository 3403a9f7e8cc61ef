/**
 * Log redaction: the usual secret keys are printed as [Redacted] at the top level of a logged
 * object and nested one and two levels down, and HARVESTER_LOG_REDACT adds paths of its own.
 */
import assert from 'node:assert/strict';
import { afterEach, test } from 'node:test';
import {
  createLogger,
  LOG_REDACT_ENV,
  type LoggerOptions,
  REDACTION_CENSOR,
  redactPathsFromEnv,
} from '../../src/observability/logger';

const savedEnv = process.env[LOG_REDACT_ENV];

afterEach(() => {
  if (savedEnv === undefined) delete process.env[LOG_REDACT_ENV];
  else process.env[LOG_REDACT_ENV] = savedEnv;
});

/** Logs one object and returns the line pino wrote, parsed. */
function logged(fields: Record<string, unknown>, opts: LoggerOptions = {}): Record<string, unknown> {
  const lines: string[] = [];
  const log = createLogger({ level: 'info', ...opts, destination: { write: (line) => lines.push(line) } });
  log.info(fields, 'with secrets');
  assert.equal(lines.length, 1);
  return JSON.parse(lines[0]) as Record<string, unknown>;
}

test('secrets at the top level and nested one and two levels down are printed as [Redacted]', () => {
  assert.equal(REDACTION_CENSOR, '[Redacted]');
  const out = logged({
    token: 'tok-top',
    password: 'pw-top',
    apiKey: 'ak-top',
    auth: { token: 'tok-1', x509UserProxy: '/tmp/x509up_u1', key: 'k-1' },
    request: { headers: { authorization: 'Bearer tok-2', Cookie: 'session=1' }, body: { proxy: 'p-2' } },
    queue: 'CERN-PROD',
  });
  const text = JSON.stringify(out);
  for (const secret of [
    'tok-top',
    'pw-top',
    'ak-top',
    'tok-1',
    'x509up_u1',
    'k-1',
    'tok-2',
    'session=1',
    'p-2',
  ]) {
    assert.ok(!text.includes(secret), `${secret} leaked: ${text}`);
  }
  assert.equal(out.token, '[Redacted]');
  assert.deepEqual(out.auth, { token: '[Redacted]', x509UserProxy: '[Redacted]', key: '[Redacted]' });
  assert.deepEqual(out.request, {
    headers: { authorization: '[Redacted]', Cookie: '[Redacted]' },
    body: { proxy: '[Redacted]' },
  });
  assert.equal(out.queue, 'CERN-PROD', 'what is not a secret is printed as is');
});

test('HARVESTER_LOG_REDACT adds paths (comma-separated, blanks ignored), e.g. deeper than two levels', () => {
  process.env[LOG_REDACT_ENV] = ' job.spec.pilotSecrets , ,site.contact ';
  assert.deepEqual(redactPathsFromEnv(), ['job.spec.pilotSecrets', 'site.contact']);
  const out = logged({
    job: { spec: { pilotSecrets: 'ps', PandaID: 7 } },
    site: { contact: 'ops@example.org', name: 'X' },
  });
  assert.deepEqual(out.job, { spec: { pilotSecrets: '[Redacted]', PandaID: 7 } });
  assert.deepEqual(out.site, { contact: '[Redacted]', name: 'X' });
});

test('an invalid HARVESTER_LOG_REDACT path is an error naming the variable', () => {
  process.env[LOG_REDACT_ENV] = 'a[';
  assert.throws(
    () => createLogger({ level: 'silent' }),
    /HARVESTER_LOG_REDACT "a\[": not valid pino redact paths/,
  );
});
