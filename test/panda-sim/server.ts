/**
 * HTTP face of the PanDA simulator: /api/v1/<module>/<method> (and /api/latest/...), the server's
 * transport quirks (envelope with HTTP 200, text/plain content type, 403 text bodies, 500 on bad
 * JSON, gzip request bodies), bearer-token / client-cert auth with the real messages, per-endpoint
 * fault injection, and operator controls both as functions and as POST /sim/<control>.
 */
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { gunzipSync, gzipSync } from 'node:zlib';
import { ManualClock, type SimClock, systemClock } from './clock';
import { checkJsonArgs, checkQueryArgs, SIGNATURES } from './signatures';
import {
  DEFAULT_TIMERS,
  type Envelope,
  type JobFault,
  type NewJob,
  type SimCommand,
  type SimJob,
  type SimQueue,
  SimState,
  type SimTimers,
} from './state';

export type FaultKind = 'http500' | 'http403' | 'slow' | 'reset' | 'malformed' | 'rejected';

export interface Fault {
  kind: FaultKind;
  /** slow: wait this long (real time) before answering normally. Default 5000. */
  delayMs?: number;
  /** rejected: the envelope message. Default "database error in the PanDA server". */
  message?: string;
  /** http500: status to use instead of 500 (e.g. 502, 503). */
  status?: number;
  /** Let this many matching calls through untouched first (e.g. fail the 2nd chunk of a bulk). */
  skip?: number;
}

interface PendingFault extends Fault {
  endpoint: string;
  remaining: number;
}

/** Who a token (or a client certificate) belongs to. */
export interface SimIdentity {
  dn: string;
  /** Has the production/pilot role (FQAN /<vo>/Role=production). Default true. */
  production?: boolean;
}

export interface SimOptions {
  port?: number;
  host?: string;
  clock?: SimClock;
  /**
   * Accepted bearer tokens. Absent = auth disabled (every caller is a production DN, like
   * panda-compose's dev setup). A string list gives each token a production identity.
   */
  tokens?: string[] | Record<string, SimIdentity>;
  /** Require an Origin header with bearer tokens (the real server needs it to pick the VO). Default true. */
  requireOrigin?: boolean;
  /** Serve HTTPS; with requestCert, an authorised client certificate is an identity. */
  tls?: {
    key: string | Buffer;
    cert: string | Buffer;
    ca?: string | Buffer;
    requestCert?: boolean;
    certIdentity?: SimIdentity;
  };
  timers?: Partial<SimTimers>;
  /** Gzip replies when the client accepts it (the real app does not; off by default). */
  gzipResponses?: boolean;
}

/** One request as the simulator saw it (never includes credentials). */
export interface SimCall {
  seq: number;
  at: number;
  endpoint: string;
  method: string;
  args: Record<string, unknown>;
  httpStatus: number;
  success?: boolean;
  message?: string;
  fault?: FaultKind;
  authenticated: boolean;
  gzipped: boolean;
}

export interface SimControl {
  addQueue(name: string, opts?: Partial<Omit<SimQueue, 'name'>>): SimQueue;
  addJob(job: NewJob): SimJob;
  addJobs(n: number, template: NewJob): SimJob[];
  addCommand(harvesterId: string, command: string, params?: unknown, ackRequested?: boolean): SimCommand;
  setInstanceConfig(harvesterId: string, config: unknown): void;
  killJobs(pandaIds: number[], code?: number): boolean[];
  setJobCommand(pandaId: number, command: string): boolean;
  bumpAttemptNr(pandaId: number): number;
  archiveJob(pandaId: number, status?: 'finished' | 'failed' | 'cancelled' | 'closed'): void;
  /** What the pilot would report via pilot/update_worker_status. */
  setPilotStatus(harvesterId: string, workerId: number, status: 'started' | 'finished'): void;
  addSweepCommand(queue: string, statusList?: string[]): void;
  addEventRanges(pandaId: number, ranges: Record<string, unknown>[]): void;
  /** The next `count` calls to `endpoint` ('*' = any) misbehave. */
  injectFault(endpoint: string, fault: Fault, count?: number): void;
  injectJobFault(pandaId: number, fault: Omit<JobFault, 'remaining'>, count?: number): void;
  clearFaults(): void;
  /** Move the injected ManualClock forward (throws with a real clock) and run the daemons. */
  advance(ms: number): void;
  /** Run Adder/Watcher/worker-sync now; `force` ignores the Watcher period. */
  runDaemons(force?: boolean): void;
  callsTo(endpoint: string): SimCall[];
}

export interface PandaSim {
  /** Base URL of the API, e.g. http://127.0.0.1:41234/api/v1 */
  url: string;
  /** Server root, e.g. http://127.0.0.1:41234 */
  origin: string;
  port: number;
  /** Where the simulated cache server serves an instance's queue config (set_instance_config). */
  queueConfigUrl(harvesterId: string): string;
  state: SimState;
  calls: SimCall[];
  control: SimControl;
  close(): Promise<void>;
}

const JSON_503 = 'ERROR : service unavailable';

export async function startPandaSim(opts: SimOptions = {}): Promise<PandaSim> {
  const clock = opts.clock ?? systemClock;
  const state = new SimState(clock, { ...DEFAULT_TIMERS, ...opts.timers });
  const calls: SimCall[] = [];
  const faults: PendingFault[] = [];
  const identities = normaliseTokens(opts.tokens);
  const requireOrigin = opts.requireOrigin ?? true;

  const control: SimControl = {
    addQueue: (name, o) => state.addQueue(name, o),
    addJob: (job) => state.addJob(job),
    addJobs: (n, template) => state.addJobs(n, template),
    addCommand: (hid, command, params, ack) => state.addCommand(hid, command, params, ack),
    setInstanceConfig: (hid, config) => state.setInstanceConfig(hid, config),
    killJobs: (ids, code) => state.killJobs(ids, code),
    setJobCommand: (id, command) => state.setJobCommand(id, command),
    bumpAttemptNr: (id) => state.bumpAttemptNr(id),
    archiveJob: (id, status) => state.archiveJob(id, status),
    setPilotStatus: (hid, wid, status) => {
      const env = state.updateWorkerPilotStatus(hid, wid, status);
      if (!env.success) throw new Error(env.message);
    },
    addSweepCommand: (queue, statusList) => {
      state.addSweepCommand(queue, statusList);
    },
    addEventRanges: (id, ranges) => state.addEventRanges(id, ranges),
    injectFault: (endpoint, fault, count = 1) => {
      faults.push({ ...fault, endpoint, remaining: count });
    },
    injectJobFault: (id, fault, count) => state.injectJobFault(id, fault, count),
    clearFaults: () => {
      faults.length = 0;
      state.jobFaults.clear();
    },
    advance: (ms) => {
      if (!(clock instanceof ManualClock)) throw new Error('advance() needs a ManualClock');
      clock.advance(ms);
      state.runDaemons();
    },
    runDaemons: (force) => state.runDaemons(force),
    callsTo: (endpoint) => calls.filter((c) => c.endpoint === endpoint),
  };

  const takeFault = (endpoint: string): PendingFault | undefined => {
    const i = faults.findIndex((f) => f.endpoint === endpoint || f.endpoint === '*');
    if (i < 0) return undefined;
    const f = faults[i];
    if ((f.skip ?? 0) > 0) {
      f.skip = (f.skip ?? 0) - 1;
      return undefined;
    }
    f.remaining -= 1;
    if (f.remaining <= 0) faults.splice(i, 1);
    return f;
  };

  const handler = (req: IncomingMessage, res: ServerResponse) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) sendText(res, 500, `ERROR : ${err instanceof Error ? err.message : String(err)}`);
      else res.destroy();
    });
  };

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://sim');
    const parts = url.pathname.split('/').filter((s) => s !== '');
    let rawBody = await readBody(req);
    const gzipped = (req.headers['content-encoding'] ?? '').toLowerCase() === 'gzip';
    if (gzipped) {
      try {
        rawBody = gunzipSync(rawBody);
      } catch {
        sendText(res, 500, 'ERROR : received invalid gzip body');
        return;
      }
    }
    if (parts[0] === 'sim') {
      await handleSimControl(parts.slice(1).join('/'), req.method ?? 'GET', url, rawBody, res);
      return;
    }
    if (parts[0] === 'cache') {
      await handleCacheFile(parts.slice(1), req, res);
      return;
    }
    // URL grammar: /api/<version>/<module>/<method>, exactly 4 segments.
    if (parts.length !== 4 || parts[0] !== 'api' || (parts[1] !== 'v1' && parts[1] !== 'latest')) {
      sendText(res, 403, `ERROR : method ${parts[parts.length - 1] ?? ''} is forbidden`);
      return;
    }
    const endpoint = `${parts[2]}/${parts[3]}`;
    const call: SimCall = {
      seq: state.nextSeq(),
      at: clock.now(),
      endpoint,
      method: req.method ?? 'GET',
      args: {},
      httpStatus: 200,
      authenticated: false,
      gzipped,
    };
    calls.push(call);
    const sig = SIGNATURES[endpoint];
    if (!sig) {
      call.httpStatus = 403;
      sendText(res, 403, `ERROR : method ${parts[3]} is forbidden`);
      return;
    }

    const fault = takeFault(endpoint);
    if (fault) call.fault = fault.kind;
    if (fault?.kind === 'reset') {
      call.httpStatus = 0;
      req.socket.destroy();
      return;
    }
    if (fault?.kind === 'http500') {
      call.httpStatus = fault.status ?? 500;
      sendText(
        res,
        call.httpStatus,
        call.httpStatus === 503 ? JSON_503 : 'ERROR : internal server error (injected)',
      );
      return;
    }
    if (fault?.kind === 'http403') {
      call.httpStatus = 403;
      sendText(res, 403, 'ERROR : Token authentication failed. injected fault');
      return;
    }
    if (fault?.kind === 'slow') await new Promise((r) => setTimeout(r, fault.delayMs ?? 5000));

    // Authentication: a bad token is refused before the method runs.
    const ident = authenticate(req);
    if (ident === 'bad-token' || ident === 'no-origin') {
      call.httpStatus = 403;
      sendText(
        res,
        403,
        ident === 'bad-token'
          ? 'ERROR : Token authentication failed. Invalid token'
          : 'ERROR : Token authentication failed. Origin header is missing',
      );
      return;
    }
    call.authenticated = ident !== undefined;

    let env: Envelope;
    const method = req.method ?? 'GET';
    if (method !== sig.method) {
      env = { success: false, message: `expecting ${sig.method}, received ${method}`, data: null };
    } else {
      let check: ReturnType<typeof checkJsonArgs>;
      if (method === 'GET') check = checkQueryArgs(sig, url.searchParams);
      else {
        let body: unknown;
        try {
          body = rawBody.length === 0 ? {} : JSON.parse(rawBody.toString('utf8'));
        } catch (err) {
          call.httpStatus = 500;
          sendText(res, 500, `ERROR : received invalid JSON : ${err instanceof Error ? err.message : ''}`);
          return;
        }
        if (typeof body !== 'object' || body === null || Array.isArray(body)) {
          check = { ok: false, message: 'Argument error: body must be a JSON object' };
        } else check = checkJsonArgs(sig, body as Record<string, unknown>);
      }
      if (!check.ok) env = { success: false, message: check.message, data: null };
      else {
        call.args = check.args;
        if (sig.secure && !ident)
          env = { success: false, message: 'SSL secure connection is required', data: null };
        else if (sig.production && !ident?.production) {
          env = { success: false, message: 'production or pilot role required', data: null };
        } else if (fault?.kind === 'rejected') {
          // A failed DB transaction changes nothing.
          env = {
            success: false,
            message: fault.message ?? 'database error in the PanDA server',
            data: null,
          };
        } else {
          state.runDaemons();
          env = dispatch(endpoint, check.args, ident ?? { dn: 'anonymous', production: false });
        }
      }
    }
    call.success = env.success;
    call.message = env.message;
    if (fault?.kind === 'malformed') {
      // Cut the JSON in half, as a broken proxy would.
      const text = JSON.stringify(env);
      sendText(res, 200, text.slice(0, Math.max(1, Math.floor(text.length / 2))));
      return;
    }
    sendEnvelope(req, res, env);
  }

  function dispatch(endpoint: string, a: Record<string, unknown>, ident: SimIdentity): Envelope {
    const hid = a.harvester_id as string;
    switch (endpoint) {
      case 'system/is_alive':
        return { success: true, message: '', data: null };
      case 'harvester/heartbeat':
        return state.heartbeat(hid, (a.data as Record<string, unknown> | null | undefined) ?? null, ident.dn);
      case 'pilot/acquire_jobs':
        return state.acquireJobs(a, { production: ident.production !== false });
      case 'pilot/update_jobs_bulk':
        return state.updateJobsBulk((a.harvester_id as string | undefined) ?? null, a.job_list as unknown[]);
      case 'pilot/update_job': {
        const env = state.updateJobsBulk(null, [a]);
        return (env.data as Envelope[])[0];
      }
      case 'pilot/update_worker_status':
        return state.updateWorkerPilotStatus(
          hid,
          a.worker_id as number,
          a.status as string,
          a.node_id as string,
        );
      case 'job/get_status':
        return state.getStatus(a.job_ids as number[]);
      case 'job/kill':
        return {
          success: true,
          message: '',
          data: state.killJobs(a.job_ids as number[], a.code as number | undefined),
        };
      case 'job/set_command': {
        const done = state.setJobCommand(a.job_id as number, a.command as string);
        return done
          ? { success: true, message: '', data: null }
          : { success: false, message: 'job not found', data: null };
      }
      case 'harvester/update_workers':
        return state.updateWorkers(hid, a.workers as unknown[]);
      case 'harvester/report_worker_statistics':
        return state.reportWorkerStatistics(hid, a.panda_queue as string, a.statistics as string);
      case 'harvester/get_worker_statistics':
        return state.getWorkerStatistics();
      case 'harvester/acquire_commands':
        return state.acquireCommands(hid, a.n_commands as number);
      case 'harvester/acknowledge_commands':
        return state.acknowledgeCommands(a.command_ids as number[]);
      case 'harvester/update_service_metrics':
        state.serviceMetrics.push({ at: clock.now(), harvesterId: hid, metrics: a.metrics as unknown[] });
        return { success: true, message: '', data: [true] };
      case 'harvester/add_dialogs':
        for (const dialog of a.dialogs as unknown[])
          state.dialogs.push({ at: clock.now(), harvesterId: hid, dialog });
        return { success: true, message: '', data: null };
      case 'harvester/get_current_worker_id':
        return state.getCurrentWorkerId(hid);
      case 'harvester/add_sweep_command':
        return state.addSweepCommand(
          a.panda_queue as string,
          a.status_list as unknown[] | undefined,
          a.ce_list as unknown[] | undefined,
          a.submission_host_list as unknown[] | undefined,
        );
      case 'event/acquire_event_ranges':
        return state.acquireEventRanges(a.job_id as number, (a.n_ranges as number | undefined) ?? 10);
      case 'event/update_event_ranges':
        return state.updateEventRanges(a.event_ranges as string);
      case 'event/get_available_event_range_count':
        return state.availableEventRangeCount(a.job_id as number);
      case 'metaconfig/get_resource_types':
        return { success: true, message: '', data: state.resourceTypes };
      case 'statistics/active_job_stats_by_site':
        return state.activeJobStatsBySite();
      default:
        return { success: false, message: `no simulator handler for ${endpoint}`, data: null };
    }
  }

  /**
   * The files PanDA's cache server hands out; here the instance configs set by operators:
   * GET /cache/harvester_configs/<harvester_id>.json (the remote queue config Harvester's cacher
   * downloads). Anonymous reads are allowed; a bad token is refused. Faults are injected under
   * the endpoint name `cache/harvester_configs`.
   */
  async function handleCacheFile(path: string[], req: IncomingMessage, res: ServerResponse): Promise<void> {
    const m = path.length === 2 && path[0] === 'harvester_configs' ? /^(.+)\.json$/.exec(path[1]) : null;
    const endpoint = m ? 'cache/harvester_configs' : `cache/${path.join('/')}`;
    const call: SimCall = {
      seq: state.nextSeq(),
      at: clock.now(),
      endpoint,
      method: req.method ?? 'GET',
      args: m ? { harvester_id: decodeURIComponent(m[1]) } : {},
      httpStatus: 200,
      authenticated: false,
      gzipped: false,
    };
    calls.push(call);
    const fail = (status: number, text: string) => {
      call.httpStatus = status;
      sendText(res, status, text);
    };
    if (!m || req.method !== 'GET') return fail(404, `ERROR : no such file /cache/${path.join('/')}`);
    const fault = takeFault(endpoint);
    if (fault) call.fault = fault.kind;
    if (fault?.kind === 'reset') {
      call.httpStatus = 0;
      req.socket.destroy();
      return;
    }
    if (fault?.kind === 'http500') {
      const status = fault.status ?? 500;
      return fail(status, status === 503 ? JSON_503 : 'ERROR : internal server error (injected)');
    }
    if (fault?.kind === 'http403') return fail(403, 'ERROR : Token authentication failed. injected fault');
    if (fault?.kind === 'rejected')
      return fail(404, `ERROR : ${fault.message ?? 'file not found (injected)'}`);
    if (fault?.kind === 'slow') await new Promise((r) => setTimeout(r, fault.delayMs ?? 5000));
    const ident = authenticate(req);
    if (ident === 'bad-token' || ident === 'no-origin') {
      return fail(403, 'ERROR : Token authentication failed. Invalid token');
    }
    call.authenticated = ident !== undefined;
    const config = state.instanceConfigs.get(call.args.harvester_id as string);
    if (config === undefined) return fail(404, `ERROR : no such file /cache/${path.join('/')}`);
    const text = JSON.stringify(config);
    call.success = true;
    // A proxy cutting the reply in half.
    const body = fault?.kind === 'malformed' ? text.slice(0, Math.max(1, Math.floor(text.length / 2))) : text;
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  }

  /** undefined = anonymous; 'bad-token' / 'no-origin' = refuse with 403. */
  function authenticate(req: IncomingMessage): SimIdentity | undefined | 'bad-token' | 'no-origin' {
    const authz = req.headers.authorization;
    if (authz !== undefined) {
      if (!identities) return { dn: '/CN=dev', production: true };
      const m = /^Bearer\s+(.+)$/i.exec(authz);
      const ident = m ? identities.get(m[1].trim()) : undefined;
      if (!ident) return 'bad-token';
      if (requireOrigin && !req.headers.origin) return 'no-origin';
      return ident;
    }
    const socket = req.socket as TLSSocket;
    if (opts.tls && typeof socket.getPeerCertificate === 'function' && socket.authorized) {
      const cert = socket.getPeerCertificate();
      if (cert && Object.keys(cert).length > 0) {
        const base = opts.tls.certIdentity ?? { dn: '', production: true };
        const subject = cert.subject as unknown as Record<string, string> | undefined;
        return { dn: base.dn || `/CN=${subject?.CN ?? 'client'}`, production: base.production ?? true };
      }
    }
    // Dev mode: no auth configured at all → everyone is a production user.
    if (!identities && !opts.tls?.requestCert) return { dn: '/CN=dev', production: true };
    return undefined;
  }

  async function handleSimControl(name: string, method: string, url: URL, body: Buffer, res: ServerResponse) {
    let args: Record<string, unknown> = {};
    if (body.length > 0) {
      try {
        args = JSON.parse(body.toString('utf8')) as Record<string, unknown>;
      } catch {
        sendJson(res, 400, { error: 'bad JSON' });
        return;
      }
    }
    try {
      let result: unknown = null;
      switch (`${method} ${name}`) {
        case 'GET state':
          result = snapshot();
          break;
        case 'GET calls':
          result = calls;
          break;
        case 'GET instance_config':
          result = state.instanceConfigs.get(url.searchParams.get('harvester_id') ?? '') ?? null;
          break;
        case 'POST add_queue':
          result = control.addQueue(String(args.name), args as Partial<SimQueue>);
          break;
        case 'POST add_job':
          result = control.addJob(args as unknown as NewJob);
          break;
        case 'POST add_jobs':
          result = control.addJobs(Number(args.n), args.template as NewJob);
          break;
        case 'POST add_command':
          result = control.addCommand(
            String(args.harvester_id),
            String(args.command),
            args.params ?? null,
            Boolean(args.ack_requested),
          );
          break;
        case 'POST set_instance_config':
          control.setInstanceConfig(String(args.harvester_id), args.config);
          break;
        case 'POST kill_jobs':
          result = control.killJobs(args.job_ids as number[], args.code as number | undefined);
          break;
        case 'POST set_job_command':
          result = control.setJobCommand(Number(args.job_id), String(args.command));
          break;
        case 'POST set_pilot_status':
          control.setPilotStatus(String(args.harvester_id), Number(args.worker_id), args.status as 'started');
          break;
        case 'POST inject_fault':
          control.injectFault(String(args.endpoint), args.fault as Fault, args.count as number | undefined);
          break;
        case 'POST inject_job_fault':
          control.injectJobFault(
            Number(args.job_id),
            args.fault as JobFault,
            args.count as number | undefined,
          );
          break;
        case 'POST clear_faults':
          control.clearFaults();
          break;
        case 'POST advance_clock':
          control.advance(Number(args.ms));
          break;
        case 'POST run_daemons':
          control.runDaemons(Boolean(args.force));
          break;
        default:
          sendJson(res, 404, { error: `unknown control ${method} /sim/${name}` });
          return;
      }
      sendJson(res, 200, { ok: true, result });
    } catch (err) {
      sendJson(res, 400, { ok: false, error: err instanceof Error ? err.message : String(err) });
    }
  }

  function snapshot(): Record<string, unknown> {
    return {
      now: clock.now(),
      queues: [...state.queues.values()],
      jobs: [...state.jobs.values()],
      workers: [...state.workers.values()],
      commands: state.commands,
      instances: [...state.instances.values()],
      jobUpdates: state.jobUpdates,
      workerUpdates: state.workerUpdates,
      heartbeats: state.heartbeats,
      watcherLog: state.watcherLog,
    };
  }

  function sendEnvelope(req: IncomingMessage, res: ServerResponse, env: Envelope): void {
    let payload = Buffer.from(JSON.stringify(env), 'utf8');
    // The real server labels its JSON envelopes text/plain; clients must parse regardless.
    const headers: Record<string, string> = { 'content-type': 'text/plain; charset=utf-8' };
    if (opts.gzipResponses && /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''))) {
      payload = gzipSync(payload);
      headers['content-encoding'] = 'gzip';
    }
    headers['content-length'] = String(payload.length);
    res.writeHead(200, headers);
    res.end(payload);
  }

  const server: Server = opts.tls
    ? createHttpsServer(
        {
          key: opts.tls.key,
          cert: opts.tls.cert,
          ca: opts.tls.ca,
          requestCert: opts.tls.requestCert ?? false,
          rejectUnauthorized: false,
        },
        handler,
      )
    : createHttpServer(handler);
  const host = opts.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const origin = `${opts.tls ? 'https' : 'http'}://${host}:${port}`;
  return {
    url: `${origin}/api/v1`,
    origin,
    port,
    queueConfigUrl: (harvesterId) =>
      `${origin}/cache/harvester_configs/${encodeURIComponent(harvesterId)}.json`,
    state,
    calls,
    control,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function normaliseTokens(tokens: SimOptions['tokens']): Map<string, SimIdentity> | undefined {
  if (tokens === undefined) return undefined;
  const map = new Map<string, SimIdentity>();
  if (Array.isArray(tokens)) {
    tokens.forEach((t, i) => {
      map.set(t, { dn: `/DC=ch/DC=cern/OU=Users/CN=sim-user-${i}`, production: true });
    });
  } else {
    for (const [t, ident] of Object.entries(tokens)) map.set(t, { production: true, ...ident });
  }
  return map;
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function sendText(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, {
    'content-type': 'text/plain; charset=utf-8',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

function sendJson(res: ServerResponse, status: number, value: unknown): void {
  const text = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}
