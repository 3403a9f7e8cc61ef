// biome-ignore-all lint/suspicious/noTemplateCurlyInString: the strings are Harvester ${...} placeholders, meant literally
/**
 * The instance's queue config from PanDA (Harvester's configFromCacher + queueList): merge
 * precedence of remote and local templates and queues, the queueList filter, the settings, and
 * the store's refresh rules (fetch on start, interval, last good copy on failure) with a fake
 * fetch and an in-memory cache instead of HTTP and the DB.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { gzipSync } from 'node:zlib';
import { QueueConfigStore, type RemoteConfigCache } from '../../src/config/queueConfigStore';
import { checkQueueConfigDocument, createRemoteDocumentFetcher } from '../../src/config/remoteDocument';
import { loadSettings } from '../../src/config/settings';
import {
  applyQueueList,
  layerQueueEntry,
  mergeQueueConfigDocuments,
  parseLayeredQueueConfig,
  parseQueueConfig,
  parseQueueList,
} from '../../src/core/queueConfig';
import type { Db } from '../../src/db/pool';

type Entry = Record<string, unknown>;

const H = 'pandaharvester.harvester';
const REMOTE = 'https://panda.example/cache/harvester_configs/h1.json';
const LOCAL = '/etc/harvester/panda_queueconfig.json';

/** The seven mandatory sections with the dummy plugins; `over` replaces or adds sections. */
function plugins(over: Entry = {}): Entry {
  return {
    submitter: { module: `${H}submitter.dummy_submitter`, name: 'DummySubmitter' },
    monitor: { module: `${H}monitor.dummy_monitor`, name: 'DummyMonitor' },
    sweeper: { module: `${H}sweeper.dummy_sweeper`, name: 'DummySweeper' },
    workerMaker: { module: `${H}workermaker.simple_worker_maker`, name: 'SimpleWorkerMaker' },
    messenger: {
      module: `${H}messenger.shared_file_messenger`,
      name: 'SharedFileMessenger',
      accessPoint: '/tmp/h/${workerID}',
    },
    preparator: { module: `${H}preparator.dummy_preparator`, name: 'DummyPreparator' },
    stager: { module: `${H}stager.dummy_stager`, name: 'DummyStager' },
    ...over,
  };
}

function queue(result: ReturnType<typeof parseQueueConfig>, name: string) {
  const q = result.queues.find((x) => x.queueName === name);
  assert.ok(q, `queue ${name} resolved; errors: ${result.errors.map((e) => e.message).join(' | ')}`);
  return q;
}

// ---- merge precedence ---------------------------------------------------------------------------

test('a local template replaces the remote template of the same name whole (no key-by-key merge)', () => {
  const remote = {
    'production.pull': {
      isTemplateQueue: true,
      maxWorkers: 7,
      ...plugins({
        submitter: { module: `${H}submitter.dummy_submitter`, name: 'DummySubmitter', nCore: 8 },
      }),
    },
    SITE_A: { templateQueueName: 'production.pull', mapType: 'NoJob' },
  };
  const local = { 'production.pull': { isTemplateQueue: true, nQueueLimitWorker: 3, ...plugins() } };
  const r = parseLayeredQueueConfig({ name: REMOTE, document: remote }, { name: LOCAL, document: local });
  const q = queue(r, 'SITE_A');
  assert.equal(q.templateQueueName, 'production.pull');
  assert.equal(q.nQueueLimitWorker, 3, 'from the local template');
  assert.equal(q.maxWorkers, 0, "the remote template's maxWorkers is gone with it (Harvester default 0)");
  assert.equal(q.submitter.nCore, undefined, "the remote template's submitter key is gone too");
});

test('remote queue ← local queue: plugin sections merged key by key, other keys replaced', () => {
  const remote = {
    SITE_A: {
      mapType: 'NoJob',
      maxWorkers: 10,
      nQueueLimitWorker: 4,
      ...plugins({
        submitter: {
          module: `${H}submitter.dummy_submitter`,
          name: 'DummySubmitter',
          nCore: 8,
          walltime: 3600,
        },
      }),
    },
  };
  const local = {
    SITE_A: { maxWorkers: 20, submitter: { walltime: 7200 }, common: { x: 1 } },
  };
  const r = parseLayeredQueueConfig({ name: REMOTE, document: remote }, { name: LOCAL, document: local });
  const q = queue(r, 'SITE_A');
  assert.equal(q.maxWorkers, 20, 'local scalar wins');
  assert.equal(q.nQueueLimitWorker, 4, 'remote scalar kept when local does not set it');
  assert.equal(q.submitter.nCore, 8, 'remote plugin key kept');
  assert.equal(q.submitter.walltime, 7200, 'local plugin key wins');
  assert.equal(q.submitter.module, `${H}submitter.dummy_submitter`, 'module from the remote section');
  assert.equal(q.submitter.x, 1, 'common from local copied into the merged section');
});

test('template ← remote queue ← local queue: a key only the template sets survives both layers', () => {
  const remote = {
    T_TEMPLATE: {
      ...plugins({
        monitor: { module: `${H}monitor.dummy_monitor`, name: 'DummyMonitor', a: 'T', b: 'T', c: 'T' },
      }),
    },
    SITE_A: { templateQueueName: 'T_TEMPLATE', monitor: { b: 'RQ', c: 'RQ' } },
  };
  const local = { SITE_A: { monitor: { c: 'LQ' } } };
  const q = queue(
    parseLayeredQueueConfig({ name: REMOTE, document: remote }, { name: LOCAL, document: local }),
    'SITE_A',
  );
  assert.deepEqual([q.monitor.a, q.monitor.b, q.monitor.c], ['T', 'RQ', 'LQ']);
});

test('templateQueueName: the local one wins; a local null or absent one keeps the remote choice', () => {
  const templates = {
    A_TEMPLATE: { maxWorkers: 1, ...plugins() },
    B_TEMPLATE: { maxWorkers: 2, ...plugins() },
  };
  const remote = {
    ...templates,
    Q1: { templateQueueName: 'A_TEMPLATE' },
    Q2: { templateQueueName: 'A_TEMPLATE' },
    Q3: { templateQueueName: 'A_TEMPLATE' },
  };
  const local = {
    Q1: { templateQueueName: 'B_TEMPLATE' },
    Q2: { templateQueueName: null },
    Q3: { nQueueLimitWorker: 1 },
  };
  const r = parseLayeredQueueConfig({ name: REMOTE, document: remote }, { name: LOCAL, document: local });
  assert.equal(queue(r, 'Q1').maxWorkers, 2);
  assert.equal(queue(r, 'Q2').templateQueueName, 'A_TEMPLATE');
  assert.equal(queue(r, 'Q3').templateQueueName, 'A_TEMPLATE');
});

test('a remote queue may use a local template and a local queue a remote one', () => {
  const remote = { R_TEMPLATE: { maxWorkers: 5, ...plugins() }, RQ: { templateQueueName: 'L_TEMPLATE' } };
  const local = { L_TEMPLATE: { maxWorkers: 6, ...plugins() }, LQ: { templateQueueName: 'R_TEMPLATE' } };
  const r = parseLayeredQueueConfig({ name: REMOTE, document: remote }, { name: LOCAL, document: local });
  assert.equal(queue(r, 'RQ').maxWorkers, 6);
  assert.equal(queue(r, 'LQ').maxWorkers, 5);
  assert.deepEqual(r.templates, ['L_TEMPLATE', 'R_TEMPLATE']);
  assert.deepEqual(r.errors, []);
});

test('queues only in one source are kept; sources are recorded per entry', () => {
  const m = mergeQueueConfigDocuments(
    { name: REMOTE, document: { R: { maxWorkers: 1 }, BOTH: { maxWorkers: 1 } } },
    { name: LOCAL, document: { L: { maxWorkers: 2 }, BOTH: { maxWorkers: 2 } } },
  );
  assert.deepEqual(Object.keys(m.document).sort(), ['BOTH', 'L', 'R']);
  assert.deepEqual(m.sources, { R: [REMOTE], L: [LOCAL], BOTH: [REMOTE, LOCAL] });
  assert.equal((m.document.BOTH as Entry).maxWorkers, 2);
});

test('no remote layer: the merge is the local document and the result equals a plain parse', () => {
  const local = { SITE_A: { mapType: 'NoJob', ...plugins() } };
  const layered = parseLayeredQueueConfig(undefined, { name: LOCAL, document: local });
  const plain = parseQueueConfig(local, LOCAL);
  assert.deepEqual(layered, plain);
});

test('layerQueueEntry never changes its inputs', () => {
  const base = { submitter: { a: 1 }, maxWorkers: 1 };
  const over = { submitter: { b: 2 } };
  const out = layerQueueEntry(base, over);
  assert.deepEqual(out, { submitter: { a: 1, b: 2 }, maxWorkers: 1 });
  assert.deepEqual(base, { submitter: { a: 1 }, maxWorkers: 1 });
  (out.submitter as Entry).a = 9;
  assert.equal(base.submitter.a, 1);
});

test('an entry that is a template on one side and a queue on the other: local wins, with a warning', () => {
  const r = parseLayeredQueueConfig(
    { name: REMOTE, document: { X: { isTemplateQueue: true, ...plugins() } } },
    { name: LOCAL, document: { X: { ...plugins() } } },
  );
  assert.ok(
    r.warnings.some((w) => w.queue === 'X' && /template in .*local entry replaces/.test(w.message)),
    r.warnings.map((w) => w.message).join('\n'),
  );
  assert.equal(queue(r, 'X').queueName, 'X');
});

test('errors name the sources the queue came from: the remote URL, the local file, or both', () => {
  const r = parseLayeredQueueConfig(
    { name: REMOTE, document: { R: { ...plugins(), maxWorkers: -1 }, B: { ...plugins(), mapType: 'Bad' } } },
    { name: LOCAL, document: { B: { maxWorkers: 1 }, L: { maxWorkers: 'x' } } },
  );
  const msg = (q: string) => r.errors.filter((e) => e.queue === q).map((e) => e.message);
  assert.match(msg('R')[0]!, new RegExp(`^${REMOTE}: queue R: maxWorkers`));
  assert.match(msg('B')[0]!, new RegExp(`^${REMOTE} \\+ ${LOCAL}: queue B: mapType`));
  assert.ok(msg('L').every((m) => m.startsWith(`${LOCAL}: queue L`)));
});

// ---- queueList ----------------------------------------------------------------------------------

function threeQueues() {
  return parseQueueConfig(
    {
      A: { ...plugins() },
      B: { ...plugins() },
      C: { ...plugins(), queueStatus: 'offline' },
      T_TEMPLATE: { ...plugins() },
    },
    LOCAL,
  );
}

test('queueList of names: only listed queues are active; the others stay loaded, with the same configID', () => {
  const all = threeQueues();
  const r = applyQueueList(all, ['A', 'C']);
  const active = Object.fromEntries(r.queues.map((q) => [q.queueName, q.active]));
  assert.deepEqual(active, { A: true, B: false, C: false }, 'C is listed but offline');
  assert.deepEqual(
    r.queues.map((q) => q.configID),
    all.queues.map((q) => q.configID),
  );
});

test('queueList ALL or DYNAMIC (or empty) does not filter', () => {
  const all = threeQueues();
  for (const list of [['ALL'], ['DYNAMIC'], ['A', 'ALL'], []])
    assert.deepEqual(applyQueueList(all, list), all);
});

test('a listed name without a config is a warning naming queueList and the queue; a template name says so', () => {
  const r = applyQueueList(threeQueues(), ['A', 'NOPE', 'T_TEMPLATE']);
  const w = r.warnings.map((x) => x.message);
  assert.ok(
    w.some((m) => /^queueList \(HARVESTER_QUEUE_LIST\): queue NOPE: .*none has this name/.test(m)),
    w.join('\n'),
  );
  assert.ok(w.some((m) => /queue T_TEMPLATE: .*not a template/.test(m)));
});

test('parseQueueList splits commas, spaces and new lines', () => {
  assert.deepEqual(parseQueueList(' A,B  C\nD/SCORE ,'), ['A', 'B', 'C', 'D/SCORE']);
});

// ---- settings -----------------------------------------------------------------------------------

test('settings: queueList defaults to ALL; HARVESTER_QUEUE_LIST is split', () => {
  assert.deepEqual(loadSettings({}).queueList, ['ALL']);
  assert.deepEqual(loadSettings({ HARVESTER_QUEUE_LIST: 'A, B' }).queueList, ['A', 'B']);
});

test('settings: HARVESTER_QUEUE_CONFIG_URL gets ${harvesterID} filled in; refresh defaults to 600 s', () => {
  assert.equal(loadSettings({}).remoteQueueConfig, undefined);
  const s = loadSettings({
    HARVESTER_ID: 'h-1',
    HARVESTER_QUEUE_CONFIG_URL: 'https://panda:25443/cache/harvester_configs/${harvesterID}.json',
  });
  assert.deepEqual(s.remoteQueueConfig, {
    url: 'https://panda:25443/cache/harvester_configs/h-1.json',
    refreshIntervalSeconds: 600,
  });
  const t = loadSettings({
    HARVESTER_QUEUE_CONFIG_URL: 'file:///etc/q.json',
    HARVESTER_QUEUE_CONFIG_REFRESH_SECONDS: '5',
  });
  assert.equal(t.remoteQueueConfig?.refreshIntervalSeconds, 5);
});

test('settings: a bad URL or scheme, or a bad refresh interval, names the variable', () => {
  assert.throws(
    () => loadSettings({ HARVESTER_QUEUE_CONFIG_URL: 'not a url' }),
    /HARVESTER_QUEUE_CONFIG_URL="not a url"/,
  );
  assert.throws(
    () => loadSettings({ HARVESTER_QUEUE_CONFIG_URL: 'ftp://x/q.json' }),
    /HARVESTER_QUEUE_CONFIG_URL=.*got ftp:/,
  );
  assert.throws(
    () =>
      loadSettings({
        HARVESTER_QUEUE_CONFIG_URL: 'file:///q.json',
        HARVESTER_QUEUE_CONFIG_REFRESH_SECONDS: '0',
      }),
    /HARVESTER_QUEUE_CONFIG_REFRESH_SECONDS="0"/,
  );
});

// ---- fetcher and document shape ------------------------------------------------------------------

test('file: URLs are read; bad JSON says where; a wrong shape names the entry; a missing file its code', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'remote-qc-'));
  const fetch = createRemoteDocumentFetcher();
  const good = join(dir, 'good.json');
  writeFileSync(good, JSON.stringify({ A: { maxWorkers: 1 } }));
  assert.deepEqual(await fetch(pathToFileURL(good).href), { A: { maxWorkers: 1 } });
  const bad = join(dir, 'bad.json');
  writeFileSync(bad, '{"A": {\n "maxWorkers": 1,,\n}}');
  await assert.rejects(fetch(pathToFileURL(bad).href), (err: Error) => {
    assert.match(err.message, /bad\.json: the reply is not valid JSON: .*\(line 2, column/);
    return true;
  });
  await assert.rejects(
    fetch(pathToFileURL(join(dir, 'none.json')).href),
    /none\.json: cannot read the file \(ENOENT\)/,
  );
  assert.throws(
    () => checkQueueConfigDocument(REMOTE, [1]),
    /h1\.json: expected a JSON object .*got an array/,
  );
  assert.throws(
    () => checkQueueConfigDocument(REMOTE, { A: 'x' }),
    /h1\.json: entry "A" is a string, expected an object/,
  );
  // An empty document would stop every remote queue: refused, the last good copy stays.
  assert.throws(() => checkQueueConfigDocument(REMOTE, {}), /h1\.json: the document names no queues/);
});

test('a gzip reply that unpacks beyond the size limit is refused, not unpacked into memory', async () => {
  const bomb = gzipSync(Buffer.alloc(4 * 1024 * 1024, 0x20)); // 4 MiB of spaces, ~4 KB packed
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip' });
    res.end(bomb);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/cfg.json`;
    const fetch = createRemoteDocumentFetcher({ maxBytes: 1024 * 1024 });
    await assert.rejects(fetch(url), /cfg\.json: reply unpacks to more than 1048576 bytes/);
  } finally {
    server.close();
  }
});

// ---- the store's refresh rules --------------------------------------------------------------------

class MemoryCache implements RemoteConfigCache {
  stored: { sourceUrl: string; data: unknown; fetchedAt: Date } | null = null;
  errors: string[] = [];
  async get() {
    return this.stored;
  }
  async save(doc: { sourceUrl: string; data: unknown; fetchedAt: Date }) {
    this.stored = structuredClone(doc);
  }
  async recordError(message: string) {
    this.errors.push(message);
  }
}

/** A fake PanDA: answers with `reply` (a value, or an Error to throw), counting calls. */
class FakePanda {
  calls = 0;
  reply: unknown = {};
  fetch = async (_url: string): Promise<unknown> => {
    this.calls++;
    if (this.reply instanceof Error) throw this.reply;
    return structuredClone(this.reply);
  };
}

function store(
  panda: FakePanda,
  cache: MemoryCache,
  opts: { queueList?: string[]; local?: Entry; interval?: number } = {},
) {
  return new QueueConfigStore(
    { inline: opts.local ?? {}, name: 'local.json' },
    {
      db: {} as Db,
      harvesterID: 'h1',
      queueList: opts.queueList,
      remote: { url: REMOTE, refreshIntervalSeconds: opts.interval ?? 600, fetch: panda.fetch, cache },
    },
  );
}

const activeNames = (s: QueueConfigStore) =>
  s
    .load()
    .queues.filter((q) => q.active)
    .map((q) => q.queueName);

test('store: fetch on start, queue list from the remote config, then no fetch before the interval', async () => {
  const panda = new FakePanda();
  const cache = new MemoryCache();
  panda.reply = { A: { ...plugins() }, B: { ...plugins() } };
  const s = store(panda, cache, { queueList: ['A'] });
  assert.deepEqual(s.load().queues, [], 'nothing before the first fetch');
  const r = await s.refresh({ force: true });
  assert.equal(r.status, 'fetched');
  assert.deepEqual(activeNames(s), ['A']);
  assert.deepEqual(Object.keys(cache.stored?.data as Entry), ['A', 'B'], 'the good copy is kept');
  panda.reply = { A: { ...plugins() }, B: { ...plugins() }, C: { ...plugins() } };
  assert.equal((await s.refresh()).status, 'fresh');
  assert.equal(panda.calls, 1);
});

test('store: refresh after the interval picks up a change; concurrent refreshes share one fetch', async () => {
  const panda = new FakePanda();
  panda.reply = { A: { ...plugins(), maxWorkers: 1 } };
  const s = store(panda, new MemoryCache(), { interval: 1 });
  await s.refresh({ force: true });
  const before = s.queue('A').configID;
  panda.reply = { A: { ...plugins(), maxWorkers: 2 } };
  await new Promise((r) => setTimeout(r, 1100));
  const [x, y] = await Promise.all([s.refresh(), s.refresh()]);
  assert.equal(x.status, 'fetched');
  assert.equal(y.status, 'fetched');
  assert.equal(panda.calls, 2);
  assert.equal(s.queue('A').maxWorkers, 2);
  assert.notEqual(s.queue('A').configID, before);
});

test('store: a malformed reply is an error naming the URL; the last good copy stays in use and in the cache', async () => {
  const panda = new FakePanda();
  const cache = new MemoryCache();
  panda.reply = { A: { ...plugins() } };
  const s = store(panda, cache);
  await s.refresh({ force: true });
  panda.reply = ['not', 'a', 'config'];
  const r = await s.refresh({ force: true });
  assert.equal(r.status, 'failed');
  assert.match(
    r.error ?? '',
    new RegExp(`${REMOTE}: expected a JSON object .*got an array .*keeping the last good copy`),
  );
  assert.deepEqual(activeNames(s), ['A']);
  assert.ok(
    s
      .load()
      .errors.some(
        (e) => e.queue === null && e.file === REMOTE && /keeping the last good copy/.test(e.message),
      ),
  );
  assert.deepEqual(Object.keys(cache.stored?.data as Entry), ['A']);
  assert.equal(cache.errors.length, 1);
  // The next good reply clears the error.
  panda.reply = { A: { ...plugins() }, B: { ...plugins() } };
  await s.refresh({ force: true });
  assert.deepEqual(s.load().errors, []);
  assert.deepEqual(activeNames(s), ['A', 'B']);
});

test('store: a restart while PanDA is unreachable uses the copy from the cache; without one, only local queues', async () => {
  const panda = new FakePanda();
  const cache = new MemoryCache();
  panda.reply = { A: { ...plugins() } };
  await store(panda, cache).refresh({ force: true });

  panda.reply = new Error(`${REMOTE}: cannot fetch: connect ECONNREFUSED 127.0.0.1:1`);
  const restarted = store(panda, cache, { local: { L: { ...plugins() } } });
  const r = await restarted.refresh({ force: true });
  assert.equal(r.status, 'failed');
  assert.equal(r.copyFrom, 'db');
  assert.deepEqual(activeNames(restarted), ['A', 'L']);
  assert.match(r.error ?? '', /ECONNREFUSED .*keeping the last good copy, fetched at /);

  const fresh = store(panda, new MemoryCache(), { local: { L: { ...plugins() } } });
  const r2 = await fresh.refresh({ force: true });
  assert.match(r2.error ?? '', /no earlier copy, so only the local queue config is served/);
  assert.deepEqual(activeNames(fresh), ['L']);
});

test('store: a cached copy of another URL is not used', async () => {
  const panda = new FakePanda();
  const cache = new MemoryCache();
  cache.stored = {
    sourceUrl: 'https://old.example/q.json',
    data: { A: { ...plugins() } },
    fetchedAt: new Date(),
  };
  panda.reply = new Error('down');
  const s = store(panda, cache);
  const r = await s.refresh({ force: true });
  assert.match(
    r.error ?? '',
    /copy in the harvester DB is of another URL \(https:\/\/old\.example\/q\.json\)/,
  );
  assert.deepEqual(s.load().queues, []);
});

test('store: after a failure, a non-forced refresh waits before trying again', async () => {
  const panda = new FakePanda();
  panda.reply = new Error('down');
  const s = store(panda, new MemoryCache());
  await s.refresh({ force: true });
  const r = await s.refresh();
  assert.equal(r.status, 'failed');
  assert.equal(panda.calls, 1);
});

test('store: queue() for a missing queue names both sources and the remote problem', async () => {
  const panda = new FakePanda();
  panda.reply = new Error(`${REMOTE}: HTTP 503: ERROR : service unavailable`);
  const s = store(panda, new MemoryCache());
  await s.refresh({ force: true });
  assert.throws(
    () => s.queue('A'),
    new RegExp(`queue A has no valid config in ${REMOTE} \\+ local\\.json: remote queue config .*HTTP 503`),
  );
});
