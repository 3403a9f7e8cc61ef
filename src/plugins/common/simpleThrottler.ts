/**
 * Harvester's SimpleThrottler: stops submission to a queue when too many workers went `missed` (failed
 * submission) recently. rulesForMissed = [{level: site|pq|ce, timeWindow: minutes, maxMissed}], logicType
 * OR (any rule over its limit throttles; default) or AND (all must be). Counting needs the DB, which the
 * caller supplies as ctx.countMissedWorkers. Without rules it never throttles; Harvester's AND with an
 * empty rule list would throttle for ever, which we do not copy.
 */
import type { MissedWorkerQuery, PluginContext, PluginParams, Throttler } from '../types';
import { optionalString, PluginParamError, stringListParam } from './params';

const PLUGIN = 'SimpleThrottler';

export interface MissedRule {
  level: 'site' | 'pq' | 'ce';
  /** Minutes. */
  timeWindow: number;
  maxMissed: number;
}

function parseRules(value: unknown): MissedRule[] {
  if (value === undefined || value === null) return [];
  const expected = 'a list of {level: site|pq|ce, timeWindow: minutes, maxMissed: number}';
  if (!Array.isArray(value)) throw new PluginParamError(PLUGIN, 'rulesForMissed', expected, value);
  return value.map((rule: unknown) => {
    const r = rule as Record<string, unknown>;
    if (
      typeof rule !== 'object' ||
      rule === null ||
      (r.level !== 'site' && r.level !== 'pq' && r.level !== 'ce') ||
      typeof r.timeWindow !== 'number' ||
      typeof r.maxMissed !== 'number'
    ) {
      throw new PluginParamError(PLUGIN, 'rulesForMissed', expected, value);
    }
    return { level: r.level, timeWindow: r.timeWindow, maxMissed: r.maxMissed };
  });
}

export class SimpleThrottler implements Throttler {
  private readonly rules: MissedRule[];
  private readonly logicType: 'OR' | 'AND';
  private readonly queueName: string;
  private readonly siteName: string;
  private readonly computingElements: string[];
  private readonly ctx: PluginContext;

  constructor(params: PluginParams, ctx: PluginContext) {
    this.rules = parseRules(params.rulesForMissed);
    const logic = optionalString(params, PLUGIN, 'logicType') ?? 'OR';
    if (logic !== 'OR' && logic !== 'AND')
      throw new PluginParamError(PLUGIN, 'logicType', 'OR or AND', logic);
    this.logicType = logic;
    this.queueName = optionalString(params, PLUGIN, 'queueName') ?? ctx.queueName;
    this.siteName = optionalString(params, PLUGIN, 'siteName') ?? this.queueName;
    // Harvester reads the CEs from the submitter section; our config loader copies them here.
    this.computingElements = stringListParam(params, PLUGIN, 'computingElements');
    if (this.rules.length > 0 && ctx.countMissedWorkers === undefined) {
      throw new Error(`${PLUGIN} for queue ${this.queueName}: rulesForMissed needs ctx.countMissedWorkers`);
    }
    this.ctx = ctx;
  }

  private queries(rule: MissedRule, since: string): MissedWorkerQuery[] {
    const base = { queueName: this.queueName, since };
    if (rule.level === 'site') return [{ ...base, siteName: this.siteName }];
    if (rule.level === 'pq') return [{ ...base, computingSite: this.queueName }];
    // A ce rule without CEs configured is skipped, as in Harvester.
    return this.computingElements.map((ce) => ({ ...base, computingElement: ce }));
  }

  async toBeThrottled(): Promise<{ throttled: boolean; message: string }> {
    if (this.rules.length === 0) return { throttled: false, message: 'no rulesForMissed' };
    const count = this.ctx.countMissedWorkers!;
    const now = (this.ctx.now ?? (() => new Date()))();
    for (const rule of this.rules) {
      const since = new Date(now.getTime() - rule.timeWindow * 60_000).toISOString();
      for (const query of this.queries(rule, since)) {
        const nMissed = await count(query);
        const over = nMissed > rule.maxMissed;
        const where = query.computingElement ?? query.computingSite ?? query.siteName;
        if (this.logicType === 'OR' && over) {
          return {
            throttled: true,
            message: `nMissed=${nMissed} > maxMissed=${rule.maxMissed} for ${rule.level}=${where} in the last ${rule.timeWindow} min`,
          };
        }
        if (this.logicType === 'AND' && !over) {
          return {
            throttled: false,
            message: `nMissed=${nMissed} <= maxMissed=${rule.maxMissed} for ${rule.level}=${where} in the last ${rule.timeWindow} min`,
          };
        }
      }
    }
    return this.logicType === 'OR'
      ? { throttled: false, message: 'no rule was satisfied' }
      : { throttled: true, message: 'all rules were satisfied' };
  }
}
