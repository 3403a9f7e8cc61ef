/**
 * The operator's view: the real Temporal Web UI that the dev server serves (UI 2.54), driven in
 * headless Chromium. Worker lifecycles of one queue must be found by filtering on the
 * HarvesterQueue search attribute (and workers of another queue must not), and a worker's page must
 * show its history: the submit step and the status change the monitor signalled.
 *
 * Screenshots go to $HARVESTER_TEST_OUTPUT/ui (test-output/ui), one per step, plus FAILED-<step>.png
 * when a step fails. Needs Debian's chromium (scripts/browser-setup.sh) and playwright-core.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { WorkflowHandle } from '@temporalio/client';
import type { Browser, Page } from 'playwright-core';
import type { workerLifecycleWorkflow } from '../../src/workflows/workerLifecycle';
import { statusChangedSignal, statusQuery } from '../../src/workflows/workerMessages';
import { launchChromium, resetScreenshotDir, screenshot, screenshotDir, uiStep } from '../helpers/browser';
import { accessPointUnder, dummyQueueConfig } from '../helpers/dummyQueue';
import { TEST_NAMESPACE } from '../helpers/env';
import { startWorkerLifecycle } from '../helpers/lifecycle';
import { eventually, startTestStack, type TestStack } from '../helpers/stack';

const SUFFIX = `${Date.now().toString(36)}${process.pid.toString(36)}`.toUpperCase();
/** Unique per run: the dev server may hold workflows of other test files and earlier runs. */
const QUEUE = `UI_TEST_${SUFFIX}`;
/** A second queue whose worker must not show up when the list is filtered on QUEUE. */
const OTHER_QUEUE = `UI_OTHER_${SUFFIX}`;
/** Bounded waits for the UI: the page polls the server, so a few seconds is usually enough. */
const UI_TIMEOUT_MS = 20_000;

function dummyQueue(scratch: string) {
  // Long heartbeats: the histories stay as the test made them while the browser reads them.
  return dummyQueueConfig(accessPointUnder(scratch), {
    temporal: { heartbeatIntervalSeconds: 600, sweeperIntervalSeconds: 600 },
  });
}

type LifecycleHandle = WorkflowHandle<typeof workerLifecycleWorkflow>;

let stack: TestStack;
let browser: Browser | undefined;
const handles: LifecycleHandle[] = [];

async function startLifecycle(queueName: string): Promise<{ handle: LifecycleHandle; workflowId: string }> {
  const { handle, workflowId } = await startWorkerLifecycle(stack, queueName);
  handles.push(handle);
  return { handle, workflowId };
}

async function waitForStatus(handle: LifecycleHandle, status: string): Promise<void> {
  await eventually(`worker ${handle.workflowId} status ${status}`, async () => {
    const s = await handle.query(statusQuery);
    return s.worker.status === status;
  });
}

/** Workflow ids the server's visibility store lists for a query (what the UI asks it for). */
async function listIds(query: string): Promise<string[]> {
  const ids: string[] = [];
  for await (const wf of stack.client.workflow.list({ query })) ids.push(wf.workflowId);
  return ids.sort();
}

function uiBaseUrl(): string {
  const url = process.env.HARVESTER_TEST_TEMPORAL_UI;
  if (!url) throw new Error('HARVESTER_TEST_TEMPORAL_UI is not set: run this test through `npm test`');
  return url.replace(/\/$/, '');
}

function workflowListUrl(query: string): string {
  // The list page reads its filter from ?query= (the UI's own links, e.g. "Back to Workflows", use it).
  return `${uiBaseUrl()}/namespaces/${TEST_NAMESPACE}/workflows?query=${encodeURIComponent(query)}`;
}

/**
 * Polls a condition on the page until it holds; on timeout throws with what was awaited and what
 * was last seen. The UI renders asynchronously (and refreshes itself), so one look is not enough.
 */
async function waitForUi<T>(
  what: string,
  look: () => Promise<{ ok: true; value: T } | { ok: false; seen: string }>,
  timeoutMs = UI_TIMEOUT_MS,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let seen = 'nothing yet';
  for (;;) {
    try {
      const r = await look();
      if (r.ok) return r.value;
      seen = r.seen;
    } catch (err) {
      seen = `error: ${(err as Error).message.split('\n')[0]}`;
    }
    if (Date.now() >= deadline) break;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}; last seen: ${seen}`);
}

/** Workflow ids of the rows of the workflow table: each row links to /workflows/<id>/<runId>/... */
async function listedWorkflowIds(page: Page): Promise<string[]> {
  const hrefs = await page
    .locator('table a[href*="/workflows/"]')
    .evaluateAll((links) => links.map((a) => a.getAttribute('href') ?? ''));
  const ids = new Set<string>();
  for (const href of hrefs) {
    const m = /\/workflows\/([^/?#]+)\/[^/?#]+/.exec(href);
    if (m) ids.add(decodeURIComponent(m[1]));
  }
  return [...ids].sort();
}

/** The id of the first history row that shows all the given texts (event type and detail). */
async function historyEventId(page: Page, ...texts: string[]): Promise<number | undefined> {
  let rows = page.locator('tr');
  for (const t of texts) rows = rows.filter({ hasText: t });
  if ((await rows.count()) === 0) return undefined;
  // The first cell of a row is the event id.
  // biome-ignore lint/performance/useDomNodeTextContent: Playwright's Locator.innerText, not the DOM's: the rendered text is wanted
  const first = await rows.first().locator('td').first().innerText();
  const id = Number(first.trim());
  return Number.isInteger(id) && id > 0 ? id : undefined;
}

/** The text of the page's main content (the sidebar and header left out), whitespace squeezed. */
async function mainText(page: Page): Promise<string> {
  // biome-ignore lint/performance/useDomNodeTextContent: Playwright's Locator.innerText (rendered text, as an operator reads it)
  const text = await page.locator('main').first().innerText({ timeout: 5000 });
  return text.replace(/\s+/g, ' ').trim();
}

before(async () => {
  stack = await startTestStack({
    queueConfig: (scratch) => ({ [QUEUE]: dummyQueue(scratch), [OTHER_QUEUE]: dummyQueue(scratch) }),
  });
});

after(async () => {
  await browser?.close().catch(() => {});
  for (const h of handles) await h.terminate('ui test over').catch(() => {});
  // stack.close() leaves the worker's NativeConnection open, and an open native connection keeps
  // the test process alive after the last test; close it here.
  const workerConnection = stack?.worker.connection;
  await stack?.close();
  await workerConnection?.close().catch(() => {});
});

test('the Temporal UI lists the workers of a queue by HarvesterQueue and shows a worker history', async () => {
  const started = Date.now();
  resetScreenshotDir();

  // --- the workflows to look at: three workers of QUEUE (one running), one of OTHER_QUEUE -------
  const workers = [await startLifecycle(QUEUE), await startLifecycle(QUEUE), await startLifecycle(QUEUE)];
  const other = await startLifecycle(OTHER_QUEUE);
  for (const w of [...workers, other]) await waitForStatus(w.handle, 'submitted');
  const running = workers[0];
  await running.handle.signal(statusChangedSignal, {
    status: 'running',
    observedAt: new Date().toISOString(),
    nodeID: 'ui-node-1',
  });
  await waitForStatus(running.handle, 'running');
  const expectedIds = workers.map((w) => w.workflowId).sort();
  const query = `HarvesterQueue="${QUEUE}"`;
  // The UI reads the server's visibility store, which trails the workflows a little: wait until
  // the server itself answers the query completely, so a UI failure below is the UI's.
  await eventually(`the server to list the three workers for ${query}`, async () => {
    return JSON.stringify(await listIds(query)) === JSON.stringify(expectedIds);
  });
  await eventually('visibility to show the running worker as running', async () => {
    return (await listIds(`${query} AND HarvesterWorkerStatus="running"`)).includes(running.workflowId);
  });

  browser = await launchChromium();
  const page = await browser.newPage({ viewport: { width: 1600, height: 1000 } });
  page.setDefaultTimeout(UI_TIMEOUT_MS);
  page.setDefaultNavigationTimeout(UI_TIMEOUT_MS);

  // --- 1. the workflow list filtered by the queue: its three workers and nothing else ----------
  await uiStep(page, 'workflows-filtered', async () => {
    const url = workflowListUrl(query);
    const response = await page.goto(url, { waitUntil: 'domcontentloaded' });
    assert.ok(response?.ok(), `GET ${url} answered HTTP ${response?.status()}`);
    const listed = await waitForUi(`the list to show exactly ${expectedIds.join(', ')}`, async () => {
      const ids = await listedWorkflowIds(page);
      return JSON.stringify(ids) === JSON.stringify(expectedIds)
        ? { ok: true, value: ids }
        : { ok: false, seen: `rows ${JSON.stringify(ids)}` };
    });
    assert.ok(!listed.includes(other.workflowId), `${other.workflowId} of ${OTHER_QUEUE} is listed`);
    // The filter the UI applied is the one asked for (shown in the filter bar above the table).
    await waitForUi(`the filter bar to show ${QUEUE}`, async () => {
      const text = await mainText(page);
      return text.includes(`HarvesterQueue = "${QUEUE}"`) || text.includes(`HarvesterQueue="${QUEUE}"`)
        ? { ok: true, value: true }
        : { ok: false, seen: text.slice(0, 300) };
    });
    for (const id of expectedIds) await page.getByRole('link', { name: id, exact: true }).first().waitFor();
    await screenshot(page, '01-workflows-filtered');
  });

  // --- 2. the same page for the other queue finds its worker (the filter, not the UI, left it out)
  await uiStep(page, 'workflows-other-queue', async () => {
    await page.goto(workflowListUrl(`HarvesterQueue="${OTHER_QUEUE}"`), { waitUntil: 'domcontentloaded' });
    await waitForUi(`the list to show only ${other.workflowId}`, async () => {
      const ids = await listedWorkflowIds(page);
      return JSON.stringify(ids) === JSON.stringify([other.workflowId])
        ? { ok: true, value: ids }
        : { ok: false, seen: `rows ${JSON.stringify(ids)}` };
    });
    await screenshot(page, '02-workflows-other-queue');
    await page.goto(workflowListUrl(query), { waitUntil: 'domcontentloaded' });
    await page.getByRole('link', { name: running.workflowId, exact: true }).first().waitFor();
  });

  // --- 3. open the running worker from the list -------------------------------------------------
  await uiStep(page, 'worker-opened', async () => {
    await page.getByRole('link', { name: running.workflowId, exact: true }).first().click();
    await page.waitForURL((u) =>
      u.pathname.includes(`/workflows/${encodeURIComponent(running.workflowId)}/`),
    );
    await waitForUi(`the worker page to show ${running.workflowId} and its type`, async () => {
      const text = await mainText(page);
      return text.includes(running.workflowId) && text.includes('workerLifecycleWorkflow')
        ? { ok: true, value: true }
        : { ok: false, seen: text.slice(0, 300) };
    });
    await screenshot(page, '03-worker-timeline');
  });

  // --- 4. its event history: submitted, then the monitor's status change recorded --------------
  await uiStep(page, 'worker-history', async () => {
    await page.getByRole('tab', { name: /Event History/ }).click();
    await page.waitForURL((u) => u.pathname.endsWith('/history'));
    const ids = await waitForUi('history rows for submitWorker, statusChanged and reportWorker', async () => {
      const submit = await historyEventId(page, 'Activity Task Scheduled', 'submitWorker');
      const signal = await historyEventId(page, 'Workflow Execution Signaled', 'statusChanged');
      // Rows are newest first: the first reportWorker row records and reports the status change.
      // Reports are local activities: the UI lists them as "Local Activity" rows of type reportWorker.
      const record = await historyEventId(page, 'Local Activity', 'reportWorker');
      return submit && signal && record
        ? { ok: true, value: { submit, signal, record } }
        : { ok: false, seen: `submitWorker ${submit}, statusChanged ${signal}, reportWorker ${record}` };
    });
    assert.ok(
      ids.submit < ids.signal && ids.signal < ids.record,
      `history order: submitWorker scheduled at event ${ids.submit}, statusChanged signalled at ` +
        `${ids.signal}, reportWorker recorded at ${ids.record}; expected them in that order`,
    );
    // A window tall enough for the whole history (the table scrolls inside the page, so a full-page
    // screenshot alone would cut it), and the pointer out of the way of tooltips.
    await page.setViewportSize({ width: 1600, height: 2500 });
    await page.mouse.move(0, 0);
    await page.locator('tr').filter({ hasText: 'Workflow Execution Started' }).first().waitFor();
    await screenshot(page, '04-worker-history');
    await page.setViewportSize({ width: 1600, height: 1000 });
  });

  // --- 5. its search attributes: the queue and the status operators filter on ------------------
  await uiStep(page, 'worker-search-attributes', async () => {
    await page.getByRole('tab', { name: /Search Attributes/ }).click();
    await waitForUi(
      'HarvesterQueue and HarvesterWorkerStatus "running" in the search attributes',
      async () => {
        const text = await mainText(page);
        const queueShown = new RegExp(`"HarvesterQueue":\\s*"${QUEUE}"`).test(text);
        const statusShown = /"HarvesterWorkerStatus":\s*"running"/.test(text);
        return queueShown && statusShown
          ? { ok: true, value: true }
          : { ok: false, seen: text.slice(text.indexOf('Search Attributes'), 600) };
      },
    );
    await screenshot(page, '05-worker-search-attributes');
  });

  console.log(`UI test: screenshots in ${screenshotDir()}, ${((Date.now() - started) / 1000).toFixed(1)} s`);
});
