/**
 * The template deployer: deploys synthesized CloudFormation templates into the local cloud's
 * services, in dependency order, and redeploys incrementally (unchanged resources are kept,
 * changed ones updated or replaced, removed ones deleted). Its state survives restarts.
 */
import { createHash, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ACCOUNT_ID, DEFAULT_REGION, type Provisioned, type ResourceProvider } from '../core/aws.js';
import { readAssembly } from './assembly.js';
import { DeployError, ResolveError } from './errors.js';
import { NO_VALUE, evaluateCondition, references, resolve, type ResolveScope, type ResolvedResource } from './intrinsics.js';

/** One output of a deployed stack, as DescribeStacks reports it. */
export interface StackOutput {
  readonly OutputKey: string;
  readonly OutputValue: string;
  readonly Description?: string;
  readonly ExportName?: string;
}

/** A resource as the deployer remembers it between deploys. */
export interface DeployedResource {
  readonly logicalId: string;
  readonly type: string;
  readonly physicalId: string;
  readonly attributes: Record<string, unknown>;
  /** The resolved properties the provider last received. */
  readonly properties: Record<string, any>;
  readonly metadata: Record<string, any>;
  /** Hash of type + resolved properties: equal hash means nothing to do. */
  readonly hash: string;
  /** Logical ids this resource depended on when deployed (for reverse-order deletion). */
  readonly dependsOn: readonly string[];
  readonly deletionPolicy?: string;
  readonly status: 'CREATE_COMPLETE' | 'UPDATE_COMPLETE';
  /** Epoch ms of the last change. */
  readonly timestamp: number;
}

/** Stack statuses the local cloud reports. Failed deploys are not rolled back (as with `--no-rollback`). */
export type StackStatus = 'CREATE_COMPLETE' | 'UPDATE_COMPLETE' | 'CREATE_FAILED' | 'UPDATE_FAILED';

/** A deployed stack. */
export interface DeployedStack {
  readonly stackName: string;
  readonly stackId: string;
  description?: string;
  status: StackStatus;
  statusReason?: string;
  readonly creationTime: number;
  lastUpdatedTime?: number;
  parameters: Record<string, string>;
  outputs: StackOutput[];
  resources: Record<string, DeployedResource>;
}

/** A read-only SSM parameter lookup (for `AWS::SSM::Parameter::Value<...>` parameters). */
export interface ParameterLookup {
  get(name: string): string | undefined;
}

/** How to build a {@link Deployer}. */
export interface DeployerOptions {
  /** Every provider of every service; two providers claiming one type is an error. */
  readonly providers: readonly ResourceProvider[];
  /** Where state is persisted (`<stateDir>/cloudformation/stacks.json`). @default in memory only */
  readonly stateDir?: string;
  /** @default 'us-east-1' */
  readonly region?: string;
  /** Resolves SSM-typed parameters (the CDK bootstrap version). @default none: such parameters fail */
  readonly ssm?: ParameterLookup;
  /** Time source for timestamps. @default Date.now */
  readonly now?: () => number;
  /** Progress lines. @default silent */
  readonly log?: (line: string) => void;
}

/** What to deploy as one stack. */
export interface StackInput {
  readonly stackName: string;
  readonly template: Record<string, any>;
  /** Parameter values overriding defaults. */
  readonly parameters?: Record<string, string>;
  /** The assembly the template came from. @default the current directory */
  readonly assemblyDir?: string;
  /** Maps asset object keys to paths. @default refuses every asset */
  readonly assetPath?: (s3Key: string) => string;
}

const TEMPLATE_SECTIONS = new Set(['AWSTemplateFormatVersion', 'Description', 'Metadata', 'Parameters', 'Rules', 'Mappings', 'Conditions', 'Resources', 'Outputs']);
const RESOURCE_KEYS = new Set(['Type', 'Properties', 'DependsOn', 'Condition', 'Metadata', 'DeletionPolicy', 'UpdateReplacePolicy']);

function stableStringify(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableStringify).join(',')}]`;
  if (value && typeof value === 'object') {
    return `{${Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${stableStringify((value as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

function hashOf(type: string, properties: unknown): string {
  return createHash('sha256').update(type).update('\0').update(stableStringify(properties)).digest('hex');
}

function wrap(err: unknown, stackName: string, logicalId?: string, type?: string): DeployError {
  if (err instanceof DeployError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new DeployError(message, stackName, logicalId, type);
}

/** Deploys templates through the registered providers and keeps their state. */
export class Deployer {
  private readonly providers = new Map<string, ResourceProvider>();
  private readonly region: string;
  private readonly now: () => number;
  private readonly log: (line: string) => void;
  private readonly stateFile?: string;
  private readonly state: Record<string, DeployedStack>;
  /** Stacks loaded from disk whose kept resources were not yet handed to `restore`. */
  private readonly toRestore = new Set<string>();
  /** Serializes deploys: two deploys at once would interleave state changes. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly options: DeployerOptions) {
    for (const provider of options.providers) {
      for (const type of provider.types) {
        if (this.providers.has(type)) throw new DeployError(`two providers claim the resource type ${type}`);
        this.providers.set(type, provider);
      }
    }
    this.region = options.region ?? DEFAULT_REGION;
    this.now = options.now ?? Date.now;
    this.log = options.log ?? (() => {});
    this.stateFile = options.stateDir ? path.join(options.stateDir, 'cloudformation', 'stacks.json') : undefined;
    this.state = this.stateFile && existsSync(this.stateFile) ? JSON.parse(readFileSync(this.stateFile, 'utf8')) : {};
    for (const name of Object.keys(this.state)) this.toRestore.add(name);
  }

  /** Resource types some provider claims. */
  supportedTypes(): string[] {
    return [...this.providers.keys()].sort();
  }

  /** Every deployed stack, in the order they were first created. */
  stacks(): DeployedStack[] {
    return Object.values(this.state).sort((a, b) => a.creationTime - b.creationTime);
  }

  /** A deployed stack by name or stack id. */
  stack(nameOrId: string): DeployedStack | undefined {
    return this.state[nameOrId] ?? Object.values(this.state).find((s) => s.stackId === nameOrId);
  }

  /** Every export of every stack. */
  exports(): Array<{ name: string; value: string; stackName: string; stackId: string }> {
    return this.stacks().flatMap((s) => s.outputs.filter((o) => o.ExportName).map((o) => ({ name: o.ExportName!, value: o.OutputValue, stackName: s.stackName, stackId: s.stackId })));
  }

  /** Deploys every stack of a cloud assembly, dependencies first. Returns the outputs by stack name. */
  async deployAssembly(assemblyDir: string, parameters: Record<string, Record<string, string>> = {}): Promise<Record<string, Record<string, string>>> {
    const assembly = readAssembly(assemblyDir);
    const outputs: Record<string, Record<string, string>> = {};
    for (const stack of assembly.stacks) {
      const deployed = await this.deployStack({
        stackName: stack.stackName,
        template: stack.template,
        parameters: { ...stack.parameters, ...(parameters[stack.stackName] ?? {}) },
        assemblyDir: assembly.dir,
        assetPath: (key) => assembly.assetPath(key),
      });
      outputs[stack.stackName] = Object.fromEntries(deployed.outputs.map((o) => [o.OutputKey, o.OutputValue]));
    }
    return outputs;
  }

  /** Creates or updates one stack. Throws {@link DeployError} naming what stopped it. */
  deployStack(input: StackInput): Promise<DeployedStack> {
    const run = this.queue.then(() => this.deployNow(input));
    this.queue = run.catch(() => {});
    return run;
  }

  private persist(): void {
    if (!this.stateFile) return;
    mkdirSync(path.dirname(this.stateFile), { recursive: true });
    const tmp = `${this.stateFile}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(this.state, null, 1));
    renameSync(tmp, this.stateFile);
  }

  private async deployNow(input: StackInput): Promise<DeployedStack> {
    const { stackName, template } = input;
    if (!template || typeof template !== 'object' || typeof template.Resources !== 'object') throw new DeployError('the template has no Resources section', stackName);
    for (const key of Object.keys(template)) {
      if (key === 'Transform') throw new DeployError(`template Transform ${JSON.stringify(template.Transform)} is not supported by the local cloud`, stackName);
      if (!TEMPLATE_SECTIONS.has(key)) throw new DeployError(`unknown template section ${key}`, stackName);
    }
    const previous = this.state[stackName];
    const isUpdate = previous !== undefined;
    const stackId = previous?.stackId ?? `arn:aws:cloudformation:${this.region}:${ACCOUNT_ID}:stack/${stackName}/${randomUUID()}`;
    const declared: Record<string, any> = template.Resources;

    // Validate everything that can be validated before touching any resource, as CloudFormation does.
    for (const [logicalId, res] of Object.entries<any>(declared)) {
      if (!res || typeof res.Type !== 'string') throw new DeployError('resource has no Type', stackName, logicalId);
      for (const key of Object.keys(res)) {
        if (!RESOURCE_KEYS.has(key)) throw new DeployError(`resource attribute ${key} is not supported by the local cloud`, stackName, logicalId, res.Type);
      }
      if (!this.providers.has(res.Type)) throw new DeployError(`unsupported resource type ${res.Type}: no local provider (supported: ${this.supportedTypes().join(', ')})`, stackName, logicalId, res.Type);
    }

    const parameters = this.resolveParameters(stackName, template.Parameters ?? {}, input.parameters ?? {});
    const mappings = template.Mappings ?? {};
    const conditionDefs: Record<string, unknown> = template.Conditions ?? {};
    const conditionValues = new Map<string, boolean>();
    const evaluating = new Set<string>();
    const live = new Map<string, ResolvedResource>();
    if (previous) for (const [id, r] of Object.entries(previous.resources)) live.set(id, r);

    const scope: ResolveScope = {
      stackName,
      stackId,
      region: this.region,
      accountId: ACCOUNT_ID,
      parameters: new Map(Object.entries(parameters.values)),
      mappings,
      condition: (name) => {
        const known = conditionValues.get(name);
        if (known !== undefined) return known;
        if (!(name in conditionDefs)) throw new ResolveError(`unresolvable reference: condition ${name} is not declared in Conditions`);
        if (evaluating.has(name)) throw new ResolveError(`condition ${name} refers to itself`);
        evaluating.add(name);
        const value = evaluateCondition(conditionDefs[name], scope);
        evaluating.delete(name);
        conditionValues.set(name, value);
        return value;
      },
      declaredType: (id) => declared[id]?.Type,
      resource: (id) => live.get(id),
      importValue: (name) => {
        const found = this.exports().find((e) => e.name === name && e.stackName !== stackName);
        if (!found) throw new ResolveError(`unresolvable reference: Fn::ImportValue: no export named ${name}`);
        return found.value;
      },
    };

    for (const name of Object.keys(conditionDefs)) {
      try {
        scope.condition(name);
      } catch (err) {
        throw new DeployError(`condition ${name}: ${(err as Error).message}`, stackName);
      }
    }
    this.checkRules(stackName, template.Rules ?? {}, scope);

    // The resources this deploy keeps, with their dependencies among them.
    const active = Object.keys(declared).filter((id) => {
      const cond = declared[id].Condition;
      if (cond === undefined) return true;
      try {
        return scope.condition(cond);
      } catch (err) {
        throw wrap(err, stackName, id, declared[id].Type);
      }
    });
    const activeSet = new Set(active);
    const deps = new Map<string, string[]>();
    for (const id of active) {
      const res = declared[id];
      const named = new Set<string>();
      const dependsOn = res.DependsOn === undefined ? [] : Array.isArray(res.DependsOn) ? res.DependsOn : [res.DependsOn];
      for (const d of dependsOn) {
        if (typeof d !== 'string' || !(d in declared)) throw new DeployError(`DependsOn names ${JSON.stringify(d)}, which is not a resource of the template`, stackName, id, res.Type);
        named.add(d);
      }
      for (const ref of references(res.Properties ?? {})) {
        if (ref in declared) named.add(ref);
        else if (!(ref in parameters.values)) throw new DeployError(`unresolvable reference to ${ref}: no parameter or resource of that name`, stackName, id, res.Type);
      }
      deps.set(id, [...named].filter((d) => activeSet.has(d)));
    }
    this.checkCycles(stackName, active, deps, declared);

    const stack: DeployedStack = previous ?? {
      stackName,
      stackId,
      status: 'CREATE_COMPLETE',
      creationTime: this.now(),
      parameters: {},
      outputs: [],
      resources: {},
    };
    stack.description = typeof template.Description === 'string' ? template.Description : undefined;
    stack.parameters = parameters.shown;
    this.state[stackName] = stack;
    const restoring = this.toRestore.delete(stackName);
    let changed = !isUpdate;

    try {
      // Creates and updates, in waves of resources whose dependencies are all done.
      const done = new Set<string>();
      let pending = [...active];
      while (pending.length > 0) {
        const ready = pending.filter((id) => deps.get(id)!.every((d) => done.has(d)));
        const results = await Promise.allSettled(ready.map((id) => this.applyResource(stack, id, declared[id], deps.get(id)!, scope, input, live, restoring)));
        const failure = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
        results.forEach((r) => r.status === 'fulfilled' && r.value && (changed = true));
        this.persist();
        if (failure) throw failure.reason;
        for (const id of ready) done.add(id);
        pending = pending.filter((id) => !done.has(id));
      }

      // Deletions of resources no longer in the template (or whose condition became false), dependents first.
      const removed = Object.keys(stack.resources).filter((id) => !activeSet.has(id));
      for (const id of this.reverseOrder(removed, stack.resources)) {
        const old = stack.resources[id]!;
        if (old.deletionPolicy !== 'Retain') {
          this.log(`${stackName}: deleting ${id} (${old.type})`);
          try {
            await this.providers.get(old.type)?.delete(old.type, old.physicalId, old.properties);
          } catch (err) {
            throw wrap(new Error(`delete failed: ${(err as Error).message}`), stackName, id, old.type);
          }
        }
        delete stack.resources[id];
        live.delete(id);
        changed = true;
        this.persist();
      }

      const outputs = this.resolveOutputs(stackName, template.Outputs ?? {}, scope);
      if (stableStringify(outputs) !== stableStringify(stack.outputs)) changed = true;
      stack.outputs = outputs;
      if (changed) {
        stack.status = isUpdate ? 'UPDATE_COMPLETE' : 'CREATE_COMPLETE';
        if (isUpdate) stack.lastUpdatedTime = this.now();
      }
      stack.statusReason = undefined;
      this.persist();
      return stack;
    } catch (err) {
      stack.status = isUpdate ? 'UPDATE_FAILED' : 'CREATE_FAILED';
      stack.statusReason = (err as Error).message;
      this.persist();
      throw wrap(err, stackName);
    }
  }

  /** Creates, keeps, updates or replaces one resource. Returns whether anything changed. */
  private async applyResource(
    stack: DeployedStack,
    logicalId: string,
    decl: any,
    dependsOn: string[],
    scope: ResolveScope,
    input: StackInput,
    live: Map<string, ResolvedResource>,
    restoring: boolean,
  ): Promise<boolean> {
    const type: string = decl.Type;
    const provider = this.providers.get(type)!;
    let properties: Record<string, any>;
    try {
      const resolved = resolve(decl.Properties ?? {}, scope);
      properties = resolved === NO_VALUE ? {} : (resolved as Record<string, any>);
    } catch (err) {
      throw wrap(err, stack.stackName, logicalId, type);
    }
    const metadata = decl.Metadata ?? {};
    const hash = hashOf(type, properties);
    const old = stack.resources[logicalId];
    const req = {
      stackName: stack.stackName,
      logicalId,
      type,
      properties,
      metadata,
      assemblyDir: path.resolve(input.assemblyDir ?? '.'),
      assetPath:
        input.assetPath ??
        ((key: string) => {
          throw new Error(`asset ${key}: this deploy has no cloud assembly`);
        }),
    };
    const record = (p: Provisioned, status: DeployedResource['status']): void => {
      const entry: DeployedResource = { logicalId, type, physicalId: p.physicalId, attributes: p.attributes, properties, metadata, hash, dependsOn, deletionPolicy: decl.DeletionPolicy, status, timestamp: this.now() };
      stack.resources[logicalId] = entry;
      live.set(logicalId, entry);
    };
    try {
      if (old && old.type === type && old.hash === hash) {
        if (restoring && provider.restore) {
          const p = await provider.restore(req, { physicalId: old.physicalId, attributes: old.attributes, properties: old.properties });
          if (p) record(p, old.status);
        }
        return false;
      }
      if (old && old.type === type && provider.update) {
        this.log(`${stack.stackName}: updating ${logicalId} (${type})`);
        record(await provider.update(req, { physicalId: old.physicalId, attributes: old.attributes, properties: old.properties }), 'UPDATE_COMPLETE');
        return true;
      }
      if (old) {
        this.log(`${stack.stackName}: replacing ${logicalId} (${type})`);
        await this.providers.get(old.type)?.delete(old.type, old.physicalId, old.properties);
        delete stack.resources[logicalId];
        live.delete(logicalId);
      } else this.log(`${stack.stackName}: creating ${logicalId} (${type})`);
      record(await provider.create(req), 'CREATE_COMPLETE');
      return true;
    } catch (err) {
      throw wrap(err, stack.stackName, logicalId, type);
    }
  }

  private resolveParameters(stackName: string, declared: Record<string, any>, given: Record<string, string>): { values: Record<string, unknown>; shown: Record<string, string> } {
    const values: Record<string, unknown> = {};
    const shown: Record<string, string> = {};
    for (const name of Object.keys(given)) {
      if (!(name in declared)) throw new DeployError(`parameter ${name} is given but not declared by the template`, stackName);
    }
    for (const [name, def] of Object.entries<any>(declared)) {
      const raw = given[name] ?? def.Default;
      if (raw === undefined) throw new DeployError(`parameter ${name} has no value and no Default`, stackName);
      const text = Array.isArray(raw) ? raw.join(',') : String(raw);
      const type: string = def.Type ?? 'String';
      let value: unknown = text;
      const ssm = /^AWS::SSM::Parameter::Value<(.+)>$/.exec(type);
      if (ssm) {
        const found = this.options.ssm?.get(text);
        if (found === undefined) throw new DeployError(`parameter ${name} (${type}) names the SSM parameter ${text}, which does not exist`, stackName);
        value = ssm[1]!.startsWith('List<') || ssm[1] === 'CommaDelimitedList' ? found.split(',') : found;
      } else if (type === 'CommaDelimitedList' || type.startsWith('List<')) {
        value = text === '' ? [] : text.split(',').map((s) => s.trim());
      } else if (type === 'Number' && Number.isNaN(Number(text))) {
        throw new DeployError(`parameter ${name} must be a Number, got ${text}`, stackName);
      } else if (!['String', 'Number', 'AWS::SSM::Parameter::Name'].includes(type) && !type.startsWith('AWS::')) {
        throw new DeployError(`parameter ${name} has the unsupported type ${type}`, stackName);
      }
      if (Array.isArray(def.AllowedValues) && !def.AllowedValues.map(String).includes(text)) throw new DeployError(`parameter ${name} must be one of ${def.AllowedValues.join(', ')}, got ${text}`, stackName);
      if (typeof def.AllowedPattern === 'string' && !new RegExp(`^(?:${def.AllowedPattern})$`).test(text)) throw new DeployError(`parameter ${name} must match ${def.AllowedPattern}`, stackName);
      values[name] = value;
      shown[name] = text;
    }
    return { values, shown };
  }

  private checkRules(stackName: string, rules: Record<string, any>, scope: ResolveScope): void {
    for (const [name, rule] of Object.entries<any>(rules)) {
      try {
        if (rule.RuleCondition !== undefined && !evaluateCondition(rule.RuleCondition, scope)) continue;
        for (const assertion of rule.Assertions ?? []) {
          if (!evaluateCondition(assertion.Assert, scope)) {
            throw new DeployError(`rule ${name} failed: ${assertion.AssertDescription ?? 'assertion is false'}`, stackName);
          }
        }
      } catch (err) {
        if (err instanceof DeployError) throw err;
        throw new DeployError(`rule ${name}: ${(err as Error).message}`, stackName);
      }
    }
  }

  private checkCycles(stackName: string, ids: string[], deps: Map<string, string[]>, declared: Record<string, any>): void {
    const state = new Map<string, 1 | 2>();
    const visit = (id: string, trail: string[]): void => {
      if (state.get(id) === 2) return;
      if (state.get(id) === 1) {
        const cycle = [...trail.slice(trail.indexOf(id)), id];
        throw new DeployError(`circular dependency between resources: ${cycle.join(' -> ')}`, stackName, id, declared[id].Type);
      }
      state.set(id, 1);
      for (const d of deps.get(id) ?? []) visit(d, [...trail, id]);
      state.set(id, 2);
    };
    for (const id of ids) visit(id, []);
  }

  /** Orders ids so that a resource comes before everything it depended on. */
  private reverseOrder(ids: string[], resources: Record<string, DeployedResource>): string[] {
    const set = new Set(ids);
    const out: string[] = [];
    const seen = new Set<string>();
    const visit = (id: string): void => {
      if (seen.has(id)) return;
      seen.add(id);
      for (const d of resources[id]?.dependsOn ?? []) if (set.has(d)) visit(d);
      out.push(id);
    };
    for (const id of ids) visit(id);
    return out.reverse();
  }

  private resolveOutputs(stackName: string, declared: Record<string, any>, scope: ResolveScope): StackOutput[] {
    const outputs: StackOutput[] = [];
    for (const [key, def] of Object.entries<any>(declared)) {
      try {
        if (def.Condition !== undefined && !scope.condition(def.Condition)) continue;
        const value = resolve(def.Value, scope);
        if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') throw new ResolveError(`the value must resolve to a string, got ${JSON.stringify(value === NO_VALUE ? 'AWS::NoValue' : value)}`);
        const exportName = def.Export?.Name === undefined ? undefined : resolve(def.Export.Name, scope);
        if (exportName !== undefined) {
          if (typeof exportName !== 'string') throw new ResolveError(`Export.Name must resolve to a string`);
          const clash = this.exports().find((e) => e.name === exportName && e.stackName !== stackName);
          if (clash) throw new ResolveError(`export ${exportName} is already exported by stack ${clash.stackName}`);
        }
        const description = def.Description === undefined ? undefined : String(resolve(def.Description, scope));
        outputs.push({ OutputKey: key, OutputValue: String(value), ...(description !== undefined ? { Description: description } : {}), ...(exportName !== undefined ? { ExportName: exportName as string } : {}) });
      } catch (err) {
        throw new DeployError(`output ${key}: ${(err as Error).message}`, stackName);
      }
    }
    return outputs;
  }
}
