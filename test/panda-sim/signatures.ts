/**
 * Parameter lists of the v1 functions the simulator serves, and the server's strict checking of them
 * (panda-api.md §1.3): unknown or missing keys → "Argument error: <Python TypeError text>", wrong JSON
 * type → "Type error: '<p>' must be of type <t>, got <t>.". GET values arrive as strings and are
 * coerced the way the server does.
 */

export type ParamType =
  | 'str'
  | 'int'
  | 'float'
  | 'bool'
  | 'list'
  | 'list[int]'
  | 'list[str]'
  | 'dict'
  | 'any';

export interface Param {
  name: string;
  type: ParamType;
  required?: boolean;
  /** The Python default is None, so an explicit null is accepted. */
  nullable?: boolean;
}

export interface Signature {
  fn: string;
  method: 'GET' | 'POST';
  /** Needs an authenticated DN (client cert or valid token). */
  secure: boolean;
  /** Needs the production/pilot role. */
  production: boolean;
  params: Param[];
}

const p = (name: string, type: ParamType, required = false): Param => ({
  name,
  type,
  required,
  nullable: !required,
});

/** Parameters of pilot/update_job, also the allowed keys of each job dict in update_jobs_bulk. */
export const UPDATE_JOB_PARAMS: Param[] = [
  p('job_id', 'any', true),
  p('job_status', 'str', true),
  ...[
    'job_sub_status',
    'site_name',
    'node',
    'scheduler_id',
    'pilot_id',
    'batch_id',
    'start_time',
    'end_time',
  ].map((n) => p(n, 'str')),
  ...['attempt_nr', 'n_events', 'n_input_files', 'core_count', 'cpu_consumption_time', 'trans_exit_code'].map(
    (n) => p(n, 'int'),
  ),
  ...['pilot_error_code', 'exe_error_code', 'timeout'].map((n) => p(n, 'int')),
  p('mean_core_count', 'float'),
  p('cpu_conversion_factor', 'float'),
  ...[
    'cpu_consumption_unit',
    'cpu_architecture_level',
    'pilot_error_diag',
    'exe_error_diag',
    'pilot_timing',
    'job_metrics',
    'corrupted_files',
    'grid',
    'source_site',
    'destination_site',
    'pilot_log',
    'stdout',
    'meta_data',
    'job_output_report',
  ].map((n) => p(n, 'str')),
  ...['max_rss', 'max_vmem', 'max_swap', 'max_pss', 'avg_rss', 'avg_vmem', 'avg_swap', 'avg_pss'].map((n) =>
    p(n, 'float'),
  ),
  ...[
    'tot_rchar',
    'tot_wchar',
    'tot_rbytes',
    'tot_wbytes',
    'rate_rchar',
    'rate_wchar',
    'rate_rbytes',
    'rate_wbytes',
  ].map((n) => p(n, 'float')),
];

export const SIGNATURES: Record<string, Signature> = {
  'system/is_alive': { fn: 'is_alive', method: 'GET', secure: false, production: false, params: [] },
  'harvester/heartbeat': {
    fn: 'heartbeat',
    method: 'POST',
    secure: true,
    production: false,
    params: [p('harvester_id', 'str', true), p('data', 'dict')],
  },
  'pilot/acquire_jobs': {
    fn: 'acquire_jobs',
    method: 'POST',
    // The role check depends on prod_source_label, so it is done in the handler.
    secure: true,
    production: false,
    params: [
      p('site_name', 'str', true),
      ...['timeout', 'memory', 'disk_space', 'task_id', 'n_jobs', 'worker_id', 'remaining_time'].map((n) =>
        p(n, 'int'),
      ),
      ...[
        'prod_source_label',
        'node',
        'computing_element',
        'prod_user_id',
        'resource_type',
        'harvester_id',
        'scheduler_id',
        'job_type',
      ].map((n) => p(n, 'str')),
      ...['get_proxy_key', 'background', 'via_topic'].map((n) => p(n, 'bool')),
    ],
  },
  'pilot/update_jobs_bulk': {
    fn: 'update_jobs_bulk',
    method: 'POST',
    secure: true,
    production: true,
    params: [p('job_list', 'list', true), p('harvester_id', 'str')],
  },
  'pilot/update_job': {
    fn: 'update_job',
    method: 'POST',
    secure: true,
    production: true,
    params: UPDATE_JOB_PARAMS,
  },
  'pilot/update_worker_status': {
    fn: 'update_worker_status',
    method: 'POST',
    secure: true,
    production: true,
    params: [
      p('worker_id', 'int', true),
      p('harvester_id', 'str', true),
      p('status', 'str', true),
      p('timeout', 'int'),
      p('node_id', 'str'),
    ],
  },
  'job/get_status': {
    fn: 'get_status',
    method: 'GET',
    secure: true,
    production: false,
    params: [p('job_ids', 'list[int]', true), p('timeout', 'int')],
  },
  'job/kill': {
    fn: 'kill',
    method: 'POST',
    secure: true,
    production: false,
    params: [p('job_ids', 'list[int]', true), p('code', 'int'), p('kill_options', 'list[str]')],
  },
  'job/set_command': {
    fn: 'set_command',
    method: 'POST',
    secure: true,
    production: true,
    params: [p('job_id', 'int', true), p('command', 'str', true)],
  },
  'harvester/update_workers': {
    fn: 'update_workers',
    method: 'POST',
    secure: true,
    production: false,
    params: [p('harvester_id', 'str', true), p('workers', 'list', true)],
  },
  'harvester/report_worker_statistics': {
    fn: 'report_worker_statistics',
    method: 'POST',
    secure: true,
    production: false,
    params: [p('harvester_id', 'str', true), p('panda_queue', 'str', true), p('statistics', 'str', true)],
  },
  'harvester/get_worker_statistics': {
    fn: 'get_worker_statistics',
    method: 'GET',
    secure: true,
    production: false,
    params: [],
  },
  'harvester/acquire_commands': {
    fn: 'acquire_commands',
    method: 'POST',
    secure: true,
    production: true,
    params: [p('harvester_id', 'str', true), p('n_commands', 'int', true), p('timeout', 'int')],
  },
  'harvester/acknowledge_commands': {
    fn: 'acknowledge_commands',
    method: 'POST',
    secure: true,
    production: true,
    params: [p('command_ids', 'list[int]', true), p('timeout', 'int')],
  },
  'harvester/update_service_metrics': {
    fn: 'update_service_metrics',
    method: 'POST',
    secure: true,
    production: false,
    params: [p('harvester_id', 'str', true), p('metrics', 'list', true)],
  },
  'harvester/add_dialogs': {
    fn: 'add_dialogs',
    method: 'POST',
    secure: true,
    production: false,
    params: [p('harvester_id', 'str', true), p('dialogs', 'list', true)],
  },
  'harvester/get_current_worker_id': {
    fn: 'get_current_worker_id',
    method: 'GET',
    secure: true,
    production: false,
    params: [p('harvester_id', 'str', true)],
  },
  'harvester/add_sweep_command': {
    fn: 'add_sweep_command',
    method: 'POST',
    secure: true,
    production: true,
    params: [
      p('panda_queue', 'str', true),
      p('status_list', 'list'),
      p('ce_list', 'list'),
      p('submission_host_list', 'list'),
    ],
  },
  'event/acquire_event_ranges': {
    fn: 'acquire_event_ranges',
    method: 'POST',
    secure: true,
    production: true,
    params: [
      p('job_id', 'int', true),
      p('jobset_id', 'int', true),
      p('task_id', 'int'),
      p('n_ranges', 'int'),
      p('timeout', 'int'),
      p('scattered', 'bool'),
      p('segment_id', 'int'),
    ],
  },
  'event/update_event_ranges': {
    fn: 'update_event_ranges',
    method: 'POST',
    secure: true,
    production: true,
    params: [p('event_ranges', 'str', true), p('timeout', 'int'), p('version', 'int')],
  },
  'event/get_available_event_range_count': {
    fn: 'get_available_event_range_count',
    method: 'GET',
    secure: true,
    production: true,
    params: [p('job_id', 'int', true), p('jobset_id', 'int', true), p('task_id', 'int'), p('timeout', 'int')],
  },
  'metaconfig/get_resource_types': {
    fn: 'get_resource_types',
    method: 'GET',
    secure: true,
    production: false,
    params: [],
  },
  'statistics/active_job_stats_by_site': {
    fn: 'active_job_stats_by_site',
    method: 'GET',
    secure: false,
    production: false,
    params: [],
  },
};

/** Python's name for the type of a decoded JSON value. */
export function pyType(v: unknown): string {
  if (v === null || v === undefined) return 'NoneType';
  if (typeof v === 'string') return 'str';
  if (typeof v === 'boolean') return 'bool';
  if (typeof v === 'number') return Number.isInteger(v) ? 'int' : 'float';
  if (Array.isArray(v)) return 'list';
  return 'dict';
}

const TYPE_LABEL: Record<ParamType, string> = {
  str: 'str',
  int: 'int',
  float: 'float',
  bool: 'bool',
  list: 'list',
  'list[int]': 'List[int]',
  'list[str]': 'List[str]',
  dict: 'dict',
  any: 'any',
};

function typeOk(t: ParamType, v: unknown): boolean {
  switch (t) {
    case 'any':
      return true;
    case 'str':
      return typeof v === 'string';
    case 'int':
      return typeof v === 'number' && Number.isInteger(v);
    case 'float':
      return typeof v === 'number';
    case 'bool':
      return typeof v === 'boolean';
    case 'list':
      return Array.isArray(v);
    case 'list[int]':
      return Array.isArray(v) && v.every((x) => typeof x === 'number' && Number.isInteger(x));
    case 'list[str]':
      return Array.isArray(v) && v.every((x) => typeof x === 'string');
    case 'dict':
      return typeof v === 'object' && v !== null && !Array.isArray(v);
  }
}

/** "'a'", "'a' and 'b'", "'a', 'b', and 'c'" — Python's listing in "missing N required ..." */
function pyList(names: string[]): string {
  const q = names.map((n) => `'${n}'`);
  if (q.length <= 1) return q.join('');
  if (q.length === 2) return `${q[0]} and ${q[1]}`;
  return `${q.slice(0, -1).join(', ')}, and ${q[q.length - 1]}`;
}

export type CheckResult = { ok: true; args: Record<string, unknown> } | { ok: false; message: string };

/** The TypeError Python raises when calling `fn(**args)` with unknown or missing keyword arguments. */
export function argumentError(
  fn: string,
  params: Param[],
  args: Record<string, unknown>,
): string | undefined {
  const known = new Set(params.map((x) => x.name));
  const unknown = Object.keys(args).find((k) => !known.has(k));
  if (unknown !== undefined) return `${fn}() got an unexpected keyword argument '${unknown}'`;
  const missing = params.filter((x) => x.required && !(x.name in args)).map((x) => x.name);
  if (missing.length > 0) {
    const noun = missing.length === 1 ? 'argument' : 'arguments';
    return `${fn}() missing ${missing.length} required positional ${noun}: ${pyList(missing)}`;
  }
  return undefined;
}

/** Checks a decoded JSON body against the signature. */
export function checkJsonArgs(sig: Signature, body: Record<string, unknown>): CheckResult {
  const argErr = argumentError(sig.fn, sig.params, body);
  if (argErr) return { ok: false, message: `Argument error: ${argErr}` };
  for (const param of sig.params) {
    if (!(param.name in body)) continue;
    const v = body[param.name];
    if (v === null && param.nullable) continue;
    if (!typeOk(param.type, v)) {
      return {
        ok: false,
        message: `Type error: '${param.name}' must be of type ${TYPE_LABEL[param.type]}, got ${pyType(v)}.`,
      };
    }
  }
  return { ok: true, args: body };
}

/** Coerces query-string values (always strings, possibly repeated) the way the server does. */
export function checkQueryArgs(sig: Signature, query: URLSearchParams): CheckResult {
  const raw: Record<string, string[]> = {};
  for (const [k, v] of query) {
    const list = raw[k] ?? [];
    list.push(v);
    raw[k] = list;
  }
  const argErr = argumentError(sig.fn, sig.params, raw);
  if (argErr) return { ok: false, message: `Argument error: ${argErr}` };
  const args: Record<string, unknown> = {};
  for (const param of sig.params) {
    const values = raw[param.name];
    if (!values) continue;
    const last = values[values.length - 1];
    if (last === 'None' && param.nullable) {
      args[param.name] = null;
      continue;
    }
    const toInt = (s: string): number | undefined => {
      const f = Number(s);
      return s.trim() !== '' && Number.isFinite(f) ? Math.trunc(f) : undefined;
    };
    const bad = {
      ok: false as const,
      message: `Type error: '${param.name}' must be of type ${TYPE_LABEL[param.type]}, got str.`,
    };
    switch (param.type) {
      case 'int': {
        const n = toInt(last);
        if (n === undefined) return bad;
        args[param.name] = n;
        break;
      }
      case 'float': {
        const n = Number(last);
        if (!Number.isFinite(n)) return bad;
        args[param.name] = n;
        break;
      }
      case 'bool':
        args[param.name] = last === 'true' || last === '1' || last === 'True';
        break;
      case 'list[int]': {
        const ns = values.map(toInt);
        if (ns.some((n) => n === undefined)) return bad;
        args[param.name] = ns;
        break;
      }
      case 'list':
      case 'list[str]':
        args[param.name] = values;
        break;
      default:
        args[param.name] = last;
    }
  }
  return { ok: true, args };
}
