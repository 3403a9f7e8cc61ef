/**
 * No Docker engine runs in CI, so docker-compose.yml is checked here instead: parsed with a real
 * YAML parser and compared with what the code actually reads (environment variables, CLI
 * subcommands and options, search attributes), so the deployment cannot drift from the program.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { isAbsolute, join, posix, relative, resolve } from 'node:path';
import { test } from 'node:test';
import { parse } from 'yaml';
import { ALL_SEARCH_ATTRIBUTES, cliTypeName } from '../../src/core/searchAttributes';

const ROOT = resolve(__dirname, '..', '..');
const COMPOSE_FILE = join(ROOT, 'docker-compose.yml');
const CLI_MAIN = join(ROOT, 'src', 'cli', 'main.ts');
const HARVESTER_IMAGE_PREFIX = 'temporal-harvester';

type Dict = Record<string, unknown>;

interface Service {
  image?: string;
  build?: unknown;
  command?: string | string[];
  entrypoint?: string | string[];
  environment?: Dict | string[];
  env_file?: unknown;
  ports?: Array<string | number | Dict>;
  volumes?: Array<string | Dict>;
  depends_on?: string[] | Record<string, { condition?: string }>;
  healthcheck?: Dict;
}

function isDict(v: unknown): v is Dict {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Resolves compose interpolation without a host environment: `${VAR:-default}` and
 * `${VAR-default}` give the default, `${VAR}` and `${VAR:?message}` give '', `$$` is a '$'.
 */
function interpolate(text: string): string {
  return text
    .split('$$')
    .map((part) =>
      part
        .replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?-([^}]*)|:?\?[^}]*)?\}/g, (_m, _name, dflt) => dflt ?? '')
        .replace(/\$([A-Za-z_][A-Za-z0-9_]*)/g, ''),
    )
    .join('$');
}

function loadCompose(): Record<string, Service> {
  const doc = parse(readFileSync(COMPOSE_FILE, 'utf8'), { merge: true }) as unknown;
  assert.ok(isDict(doc), `${COMPOSE_FILE}: expected a mapping at the top`);
  assert.ok(isDict(doc.services), `${COMPOSE_FILE}: expected a "services" mapping`);
  return doc.services as Record<string, Service>;
}

function environmentOf(service: Service): Map<string, string> {
  const env = new Map<string, string>();
  if (Array.isArray(service.environment)) {
    for (const entry of service.environment) {
      const eq = entry.indexOf('=');
      env.set(eq < 0 ? entry : entry.slice(0, eq), eq < 0 ? '' : interpolate(entry.slice(eq + 1)));
    }
  } else if (isDict(service.environment)) {
    for (const [name, value] of Object.entries(service.environment)) {
      env.set(name, value === null || value === undefined ? '' : interpolate(String(value)));
    }
  }
  return env;
}

/** A command as argv: a list stays a list, a string is split on white space (as compose does). */
function argv(value: string | string[] | undefined): string[] | undefined {
  if (value === undefined || value === null) return undefined;
  const words = Array.isArray(value) ? value.map(String) : value.trim().split(/\s+/);
  return words.map(interpolate);
}

/** The last CMD of the Dockerfile in exec form, used when a service sets no command. */
function dockerfileCmd(): string[] | undefined {
  const file = join(ROOT, 'Dockerfile');
  if (!existsSync(file)) return undefined;
  const cmds = readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => /^CMD\s+\[/.test(line));
  const last = cmds[cmds.length - 1];
  return last === undefined ? undefined : (JSON.parse(last.replace(/^CMD\s+/, '')) as string[]);
}

function isHarvesterService(service: Service): boolean {
  return service.build !== undefined || (service.image ?? '').startsWith(HARVESTER_IMAGE_PREFIX);
}

function harvesterServices(services: Record<string, Service>): Array<[string, Service]> {
  const found = Object.entries(services).filter(([, s]) => isHarvesterService(s));
  assert.ok(found.length > 0, `no harvester service (one with "build" or image ${HARVESTER_IMAGE_PREFIX}:*)`);
  return found;
}

/** Bind mounts of a service: container path -> host path (absolute). Named volumes are skipped. */
function bindMounts(service: Service): Map<string, string> {
  const mounts = new Map<string, string>();
  for (const v of service.volumes ?? []) {
    let source: string | undefined;
    let target: string | undefined;
    if (typeof v === 'string') {
      const parts = interpolate(v).split(':');
      if (parts.length >= 2) [source, target] = parts;
    } else if (isDict(v) && v.type === 'bind') {
      source = String(v.source);
      target = String(v.target);
    }
    if (source === undefined || target === undefined) continue;
    if (!(source.startsWith('.') || isAbsolute(source))) continue; // a named volume
    mounts.set(target, resolve(ROOT, source));
  }
  return mounts;
}

/** The host file behind a path inside the container, through the service's bind mounts. */
function hostPathOf(service: Service, containerPath: string): string | undefined {
  for (const [target, source] of bindMounts(service)) {
    if (containerPath === target) return source;
    const rel = posix.relative(target, containerPath);
    if (rel !== '' && !rel.startsWith('..') && !posix.isAbsolute(rel)) return join(source, rel);
  }
  return undefined;
}

function sourceFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const entry of readdirSync(dir)) {
    const p = join(dir, entry);
    if (statSync(p).isDirectory()) out.push(...sourceFiles(p));
    else if (entry.endsWith('.ts')) out.push(p);
  }
  return out;
}

/**
 * Every environment variable the program reads, found in its sources: `process.env.NAME`,
 * `env.NAME`, `env['NAME']`, helpers called as `xxxEnv(env, 'NAME')`, and commander's
 * `.env('NAME')`. Scans src/ and the bin/ launcher.
 */
function environmentVariablesRead(): Set<string> {
  const files = [...sourceFiles(join(ROOT, 'src'))];
  const binDir = join(ROOT, 'bin');
  if (existsSync(binDir)) files.push(...readdirSync(binDir).map((f) => join(binDir, f)));
  const patterns = [
    /\benv\.([A-Z][A-Z0-9_]*)\b/g,
    /\benv\[\s*['"`]([A-Z][A-Z0-9_]*)['"`]\s*\]/g,
    /\b\w*[Ee]nv\w*\(\s*[\w.]+\s*,\s*['"`]([A-Z][A-Z0-9_]*)['"`]/g,
    /\.env\(\s*['"`]([A-Z][A-Z0-9_]*)['"`]\s*\)/g,
  ];
  const names = new Set<string>();
  for (const file of files) {
    const text = readFileSync(file, 'utf8');
    for (const re of patterns) for (const m of text.matchAll(re)) names.add(m[1]);
  }
  return names;
}

/** The command and option names the CLI declares, read from src/cli/*.ts. */
function cliVocabulary(): { commands: Set<string>; options: Set<string> } {
  const commands = new Set<string>();
  const options = new Set<string>();
  for (const file of sourceFiles(join(ROOT, 'src', 'cli'))) {
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/(?:\.command|new Command)\(\s*['"`]([A-Za-z][\w-]*)/g)) commands.add(m[1]);
    for (const m of text.matchAll(/['"`](?:-\w,\s*)?(--[a-z][\w-]*)/g))
      options.add(m[1].replace(/^--no-/, '--'));
  }
  return { commands, options };
}

/** The harvester subcommand words of an argv: what follows the launcher, up to the first option or argument. */
function subcommandWords(words: string[]): { launcher: string; words: string[]; options: string[] } {
  const [launcher, ...rest] = words;
  const sub: string[] = [];
  for (const w of rest) {
    if (w.startsWith('-') || w.includes('/') || w.includes('.')) break;
    sub.push(w);
  }
  const options = rest.filter((w) => w.startsWith('--')).map((w) => w.split('=')[0]);
  return { launcher, words: sub, options };
}

function publishedPorts(service: Service): string[] {
  const out: string[] = [];
  for (const p of service.ports ?? []) {
    if (isDict(p)) {
      if (p.published === undefined) continue;
      out.push(`${interpolate(String(p.published))}/${String(p.protocol ?? 'tcp')}`);
      continue;
    }
    const spec = interpolate(String(p));
    const [mapping, protocol = 'tcp'] = spec.split('/');
    const parts = mapping.split(':');
    // "container" alone publishes on a random host port: nothing to collide.
    if (parts.length < 2) continue;
    out.push(`${parts[parts.length - 2]}/${protocol}`);
  }
  return out;
}

const services = loadCompose();

test('docker-compose.yml: every service has a pinned image tag or a build', () => {
  for (const [name, service] of Object.entries(services)) {
    if (service.image === undefined) {
      assert.ok(service.build !== undefined, `service ${name}: neither "image" nor "build"`);
      continue;
    }
    const image = interpolate(service.image);
    if (image.includes('@sha256:')) continue; // pinned by digest
    const lastSegment = image.split('/').pop() ?? '';
    const colon = lastSegment.indexOf(':');
    const tag = colon < 0 ? '' : lastSegment.slice(colon + 1);
    assert.ok(tag !== '', `service ${name}: image ${image} has no tag (that means "latest"); pin a version`);
    assert.notEqual(tag, 'latest', `service ${name}: image ${image} uses "latest"; pin a version`);
  }
});

test('docker-compose.yml: no host port is published twice', () => {
  const seen = new Map<string, string>();
  for (const [name, service] of Object.entries(services)) {
    for (const port of publishedPorts(service)) {
      const other = seen.get(port);
      assert.equal(other, undefined, `host port ${port} is published by both ${other} and ${name}`);
      seen.set(port, name);
    }
  }
});

test('docker-compose.yml: depends_on names existing services, with conditions they can meet', () => {
  const conditions = new Set(['service_started', 'service_healthy', 'service_completed_successfully']);
  for (const [name, service] of Object.entries(services)) {
    const deps = service.depends_on;
    if (deps === undefined) continue;
    const entries: Array<[string, string]> = Array.isArray(deps)
      ? deps.map((d) => [d, 'service_started'])
      : Object.entries(deps).map(([d, v]) => [d, v?.condition ?? 'service_started']);
    for (const [dep, condition] of entries) {
      assert.ok(dep in services, `service ${name} depends on "${dep}", which is not a service`);
      assert.notEqual(dep, name, `service ${name} depends on itself`);
      assert.ok(conditions.has(condition), `service ${name}: unknown depends_on condition "${condition}"`);
      if (condition === 'service_healthy') {
        assert.ok(
          services[dep].healthcheck !== undefined,
          `service ${name} waits for ${dep} to be healthy, but ${dep} has no healthcheck`,
        );
      }
    }
  }
});

test('docker-compose.yml: bind-mounted files and directories exist in the repository', () => {
  for (const [name, service] of Object.entries(services)) {
    for (const [target, source] of bindMounts(service)) {
      assert.ok(
        existsSync(source),
        `service ${name}: mounts ${relative(ROOT, source)} at ${target}, which does not exist`,
      );
    }
  }
});

test('docker-compose.yml: harvester services set only environment variables the program reads', () => {
  const read = environmentVariablesRead();
  assert.ok(read.size > 0, 'found no environment variable reads in src/ (has the code layout changed?)');
  for (const [name, service] of harvesterServices(services)) {
    assert.equal(
      service.env_file,
      undefined,
      `service ${name}: use "environment:" instead of env_file, so this test can check the names`,
    );
    const unknown = [...environmentOf(service).keys()].filter((v) => !read.has(v));
    assert.deepEqual(
      unknown,
      [],
      `service ${name} sets ${unknown.join(', ')}, which nothing in src/ or bin/ reads (typo, or a setting that was removed?)`,
    );
  }
});

test('docker-compose.yml: harvester commands are subcommands and options the CLI declares', (t) => {
  if (!existsSync(CLI_MAIN)) {
    t.skip(`${relative(ROOT, CLI_MAIN)} does not exist yet: the harvester commands cannot be checked`);
    return;
  }
  const { commands, options } = cliVocabulary();
  for (const [name, service] of harvesterServices(services)) {
    const words = argv(service.command) ?? dockerfileCmd();
    assert.ok(words && words.length > 0, `service ${name}: no command and no CMD in the Dockerfile`);
    const cmd = subcommandWords(words);
    assert.match(
      cmd.launcher,
      /(^|\/)harvester$/,
      `service ${name}: command should start with bin/harvester`,
    );
    assert.ok(cmd.words.length > 0, `service ${name}: "${words.join(' ')}" names no subcommand`);
    for (const w of cmd.words) {
      assert.ok(
        commands.has(w),
        `service ${name}: "${words.join(' ')}": "${w}" is not a command declared in src/cli/ (known: ${[...commands].sort().join(', ')})`,
      );
    }
    for (const o of cmd.options) {
      assert.ok(
        options.has(o),
        `service ${name}: "${words.join(' ')}": option ${o} is not declared in src/cli/`,
      );
    }
  }
});

test('docker-compose.yml: the admin-tools job registers exactly the search attributes of src/core/searchAttributes.ts', () => {
  const jobs = Object.entries(services).filter(
    ([, s]) =>
      (s.image ?? '').startsWith('temporalio/admin-tools') && environmentOf(s).has('SEARCH_ATTRIBUTES'),
  );
  assert.equal(jobs.length, 1, 'expected one temporalio/admin-tools service with SEARCH_ATTRIBUTES');
  const [jobName, job] = jobs[0];
  const registered = (environmentOf(job).get('SEARCH_ATTRIBUTES') ?? '').split(/\s+/).filter(Boolean).sort();
  const expected = ALL_SEARCH_ATTRIBUTES.map((k) => `${k.name}=${cliTypeName(k.type)}`).sort();
  assert.deepEqual(registered, expected, `service ${jobName}: SEARCH_ATTRIBUTES differs from the code`);

  // The job's script must be mounted and actually register what SEARCH_ATTRIBUTES lists.
  const entry = argv(job.entrypoint) ?? [];
  const script = entry.map((w) => hostPathOf(job, w)).find((p) => p !== undefined);
  assert.ok(script, `service ${jobName}: the entrypoint runs no script bind-mounted from the repository`);
  const text = readFileSync(script, 'utf8');
  assert.match(text, /\$SEARCH_ATTRIBUTES/, `${relative(ROOT, script)} does not read SEARCH_ATTRIBUTES`);
  assert.match(
    text,
    /operator search-attribute create/,
    `${relative(ROOT, script)} registers no search attribute`,
  );
});

test('docker-compose.yml: the Temporal server reads a dynamic config file that exists and parses', () => {
  const servers = Object.entries(services).filter(([, s]) => (s.image ?? '').startsWith('temporalio/server'));
  assert.ok(servers.length > 0, 'no temporalio/server service');
  for (const [name, server] of servers) {
    const path = environmentOf(server).get('DYNAMIC_CONFIG_FILE_PATH');
    assert.ok(path, `service ${name}: DYNAMIC_CONFIG_FILE_PATH is not set`);
    const host = hostPathOf(server, path);
    assert.ok(
      host && existsSync(host),
      `service ${name}: ${path} is not bind-mounted from a file in the repository`,
    );
    const config = parse(readFileSync(host, 'utf8')) as unknown;
    assert.ok(isDict(config), `${relative(ROOT, host)}: expected a mapping of keys`);
    for (const [key, values] of Object.entries(config)) {
      assert.ok(
        Array.isArray(values) && values.every((v) => isDict(v) && 'value' in v),
        `${relative(ROOT, host)}: ${key} must be a list of {value, constraints?}`,
      );
    }
  }
});

test('docker-compose.yml: each edge worker task queue is routed to by the mounted queue config', () => {
  const central = harvesterServices(services).filter(([, s]) =>
    environmentOf(s).has('HARVESTER_QUEUE_CONFIG'),
  );
  assert.ok(central.length > 0, 'no harvester service sets HARVESTER_QUEUE_CONFIG');
  const routed = new Set<string>();
  for (const [name, s] of central) {
    const file = hostPathOf(s, environmentOf(s).get('HARVESTER_QUEUE_CONFIG') ?? '');
    assert.ok(
      file && existsSync(file),
      `service ${name}: HARVESTER_QUEUE_CONFIG is not a file mounted from the repository`,
    );
    const config = JSON.parse(readFileSync(file, 'utf8')) as Dict;
    for (const entry of Object.values(config)) {
      if (isDict(entry) && isDict(entry.temporal) && typeof entry.temporal.taskQueue === 'string') {
        routed.add(entry.temporal.taskQueue);
      }
    }
  }
  for (const [name, s] of harvesterServices(services)) {
    const words = argv(s.command) ?? [];
    const i = words.indexOf('--task-queue');
    if (!words.includes('edge') || i < 0) continue;
    const queue = words[i + 1];
    assert.ok(
      routed.has(queue),
      `service ${name} polls task queue "${queue}", but no queue config entry has "temporal": {"taskQueue": "${queue}"} (have: ${[...routed].join(', ') || 'none'})`,
    );
  }
});

test('deploy/prometheus/prometheus.yml scrapes the harvester worker metrics port and the Temporal server', () => {
  const promServices = Object.entries(services).filter(([, s]) =>
    (s.image ?? '').startsWith('prom/prometheus'),
  );
  assert.equal(promServices.length, 1, 'expected one prom/prometheus service');
  const [promName, prom] = promServices[0];
  const configFile = hostPathOf(prom, '/etc/prometheus/prometheus.yml');
  assert.ok(
    configFile && existsSync(configFile),
    `service ${promName}: /etc/prometheus/prometheus.yml is not mounted`,
  );
  const config = parse(readFileSync(configFile, 'utf8')) as { scrape_configs?: Dict[] };
  const targets = new Set<string>();
  for (const job of config.scrape_configs ?? []) {
    for (const sc of (job.static_configs as Dict[] | undefined) ?? []) {
      for (const t of (sc.targets as string[] | undefined) ?? []) targets.add(t);
    }
    for (const dns of (job.dns_sd_configs as Dict[] | undefined) ?? []) {
      for (const n of (dns.names as string[] | undefined) ?? []) targets.add(`${n}:${String(dns.port)}`);
    }
  }
  for (const [name, s] of Object.entries(services)) {
    const env = environmentOf(s);
    const metricsPort = env.get('HARVESTER_METRICS_PORT') ?? env.get('PROMETHEUS_ENDPOINT')?.split(':').pop();
    if (!metricsPort) continue;
    assert.ok(
      targets.has(`${name}:${metricsPort}`),
      `${relative(ROOT, configFile)} does not scrape ${name}:${metricsPort} (targets: ${[...targets].join(', ')})`,
    );
  }
});
