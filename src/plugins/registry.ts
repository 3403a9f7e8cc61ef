/**
 * Plugin registry: turns a queue-config plugin section `{module, name, ...params}` into a plugin instance,
 * as Harvester's plugin_factory does, but from a table of known factories instead of importing arbitrary
 * modules by name (so a typo fails at config load with a list of what exists, not at run time).
 *
 * A section may name the plugin the Harvester way (`pandaharvester.harvestersubmitter.slurm_submitter` /
 * `SlurmSubmitter`; also the abbreviated `...slurm_submitter`) or with our short back-end names (`slurm` /
 * `SlurmSubmitter`). Lookup uses the last dotted component of the module, so every prefix of a Harvester path
 * works. With a short module and an empty name, the only plugin of that kind in the module is used.
 *
 * Back-ends register themselves: each folder under src/plugins/<backend>/ exports
 * `register(registry: PluginRegistry): void`, and src/plugins/index.ts calls the ones that exist.
 */
import type { PluginContext, PluginFactory, PluginKind, PluginKinds, PluginParams } from './types';

/** Harvester's package per plugin kind; used to catch a module configured under the wrong section. */
const HARVESTER_PACKAGE_KIND: Readonly<Record<string, PluginKind>> = {
  harvestersubmitter: 'submitter',
  harvestermonitor: 'monitor',
  harvestersweeper: 'sweeper',
  harvestermessenger: 'messenger',
  harvesterpreparator: 'preparator',
  harvesterstager: 'stager',
  harvestercredmanager: 'credmanager',
  harvesterworkermaker: 'workerMaker',
  harvesterthrottler: 'throttler',
};

export interface RegisteredPlugin {
  kind: PluginKind;
  /** The module as registered (short name or Harvester module). */
  module: string;
  name: string;
}

/** A config section names a plugin that is not registered (or under the wrong kind). */
export class UnknownPluginError extends Error {
  readonly type = 'unknown_plugin';
  constructor(
    readonly kind: PluginKind,
    readonly module: string,
    readonly pluginName: string,
    readonly known: readonly RegisteredPlugin[],
    hint?: string,
  ) {
    const list =
      known.length === 0 ? '(none registered)' : known.map((p) => `${p.module}/${p.name}`).join(', ');
    super(
      `unknown ${kind} plugin: module "${module}", name "${pluginName}"` +
        (hint ? ` (${hint})` : '') +
        `. Known ${kind} plugins: ${list}`,
    );
    this.name = 'UnknownPluginError';
  }
}

/** Two back-ends claim the same (kind, module, name): refuse rather than let one silently shadow the other. */
export class DuplicatePluginError extends Error {
  readonly type = 'duplicate_plugin';
  constructor(kind: PluginKind, module: string, name: string) {
    super(`${kind} plugin ${module}/${name} is registered twice`);
    this.name = 'DuplicatePluginError';
  }
}

/** `pandaharvester.harvestersubmitter.slurm_submitter` → `slurm_submitter`; `...x` → `x`; `slurm` → `slurm`. */
export function moduleKey(module: string): string {
  const parts = module.split('.').filter((p) => p !== '');
  return parts.length === 0 ? module : parts[parts.length - 1];
}

/** The kind a Harvester module path belongs to, from its package (`harvestermonitor` → monitor), if any. */
export function harvesterModuleKind(module: string): PluginKind | undefined {
  const parts = module.split('.');
  if (parts.length < 3 || parts[0] !== 'pandaharvester') return undefined;
  return HARVESTER_PACKAGE_KIND[parts[1]];
}

interface Entry extends RegisteredPlugin {
  // Stored as the widest factory type; register() ties it to its kind and create() reads it back by kind.
  factory: (params: PluginParams, ctx: PluginContext) => unknown;
}

export class PluginRegistry {
  private readonly entries = new Map<string, Entry>();

  private static key(kind: PluginKind, module: string, name: string): string {
    return `${kind}\u0000${moduleKey(module)}\u0000${name}`;
  }

  /**
   * Registers a factory under one or more module names (e.g. `['slurm', 'slurm_submitter']`, so that both
   * our short name and Harvester's module name resolve to it).
   */
  register<K extends PluginKind>(
    kind: K,
    module: string | readonly string[],
    name: string,
    factory: PluginFactory<K>,
  ): void {
    const modules = typeof module === 'string' ? [module] : module;
    for (const m of modules) {
      const key = PluginRegistry.key(kind, m, name);
      if (this.entries.has(key)) throw new DuplicatePluginError(kind, m, name);
      this.entries.set(key, { kind, module: m, name, factory });
    }
  }

  /** What is registered for a kind, in registration order (for error messages and `harvester plugins`). */
  known(kind: PluginKind): RegisteredPlugin[] {
    return [...this.entries.values()]
      .filter((e) => e.kind === kind)
      .map(({ kind: k, module, name }) => ({ kind: k, module, name }));
  }

  has(kind: PluginKind, module: string, name: string): boolean {
    return this.resolve(kind, module, name) !== undefined;
  }

  /** Builds a plugin for a config section; throws UnknownPluginError naming kind, module, name and the known ones. */
  create<K extends PluginKind>(kind: K, params: PluginParams, ctx: PluginContext): PluginKinds[K] {
    const module = typeof params.module === 'string' ? params.module : '';
    const name = typeof params.name === 'string' ? params.name : '';
    const packageKind = harvesterModuleKind(module);
    if (packageKind !== undefined && packageKind !== kind) {
      throw new UnknownPluginError(kind, module, name, this.known(kind), `that is a ${packageKind} module`);
    }
    const entry = this.resolve(kind, module, name);
    if (entry === undefined) throw new UnknownPluginError(kind, module, name, this.known(kind));
    return entry.factory(params, ctx) as PluginKinds[K];
  }

  private resolve(kind: PluginKind, module: string, name: string): Entry | undefined {
    const exact = this.entries.get(PluginRegistry.key(kind, module, name));
    if (exact !== undefined || name !== '') return exact;
    // No name given: accept the module alone when it holds exactly one plugin of this kind.
    const key = moduleKey(module);
    const candidates = [...this.entries.values()].filter(
      (e) => e.kind === kind && moduleKey(e.module) === key,
    );
    return candidates.length === 1 ? candidates[0] : undefined;
  }
}

/** What each back-end folder exports so index.ts can wire it. */
export type RegisterPlugins = (registry: PluginRegistry) => void;
