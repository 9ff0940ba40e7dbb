/**
 * The local EventBridge (target prefix `AWSEvents`) and EventBridge Scheduler resources:
 * the API, the CloudFormation providers, and the in-process EventsPort.
 */
import { ACCOUNT_ID, AwsError, arn, type ProvisionRequest, type Provisioned, type ResourceProvider } from '../core/aws.js';
import type { EventsPort, Kernel, LocalService } from '../core/kernel.js';
import { EventsEngine, generatedName, targetKind, toMillis, type EventsOptions } from './engine.js';
import { matchesPattern, parsePattern } from './pattern.js';
import { parseScheduleExpression } from './schedule.js';
import type { ArchiveState, ReplayState, RuleState, ScheduleState, TargetState } from './store.js';

export { matchesPattern, parsePattern } from './pattern.js';
export type { EventsOptions } from './engine.js';

/** The EventsPort of the local cloud, plus what tests and the CLI inspect. */
export type LocalEventsPort = EventsPort & {
  /** Events stored by an archive so far (within retention). */
  archivedCount(archiveName: string): number;
  /** Resolves when every delivery under way, retries included, has finished. */
  idle(): Promise<void>;
};

const secs = (ms: number | undefined) => (ms === undefined ? undefined : ms / 1000);

function page<T>(items: T[], input: { Limit?: number; NextToken?: string }): { items: T[]; NextToken?: string } {
  const start = input.NextToken ? Number(input.NextToken) : 0;
  if (!Number.isInteger(start) || start < 0) throw new AwsError('ValidationException', 'NextToken is not valid.');
  const limit = input.Limit ?? 100;
  const slice = items.slice(start, start + limit);
  return { items: slice, ...(start + limit < items.length ? { NextToken: String(start + limit) } : {}) };
}

function describeRule(r: RuleState): Record<string, unknown> {
  return {
    Name: r.name,
    Arn: r.arn,
    ...(r.eventPattern ? { EventPattern: r.eventPattern } : {}),
    ...(r.scheduleExpression ? { ScheduleExpression: r.scheduleExpression } : {}),
    State: r.state,
    ...(r.description ? { Description: r.description } : {}),
    ...(r.roleArn ? { RoleArn: r.roleArn } : {}),
    EventBusName: r.bus,
    CreatedBy: ACCOUNT_ID,
  };
}

function describeArchive(engine: EventsEngine, a: ArchiveState): Record<string, unknown> {
  const events = engine.archivedEvents(a);
  return {
    ArchiveName: a.name,
    ArchiveArn: a.arn,
    EventSourceArn: a.sourceArn,
    ...(a.description ? { Description: a.description } : {}),
    ...(a.eventPattern ? { EventPattern: a.eventPattern } : {}),
    State: 'ENABLED',
    RetentionDays: a.retentionDays,
    SizeBytes: events.reduce((n, e) => n + Buffer.byteLength(JSON.stringify(e.event)), 0),
    EventCount: events.length,
    CreationTime: secs(a.createdAt),
  };
}

function describeReplay(r: ReplayState): Record<string, unknown> {
  return {
    ReplayName: r.name,
    ReplayArn: r.arn,
    ...(r.description ? { Description: r.description } : {}),
    State: r.state,
    ...(r.stateReason ? { StateReason: r.stateReason } : {}),
    EventSourceArn: r.archiveArn,
    Destination: r.destination,
    EventStartTime: secs(r.eventStartTime),
    EventEndTime: secs(r.eventEndTime),
    ...(r.eventLastReplayedTime !== undefined ? { EventLastReplayedTime: secs(r.eventLastReplayedTime) } : {}),
    ReplayStartTime: secs(r.replayStartTime),
    ...(r.replayEndTime !== undefined ? { ReplayEndTime: secs(r.replayEndTime) } : {}),
  };
}

const TEST_EVENT_FIELDS = ['id', 'account', 'source', 'time', 'region', 'resources', 'detail-type'];

async function handle(engine: EventsEngine, operation: string, input: any): Promise<unknown> {
  input = input ?? {};
  switch (operation) {
    case 'PutEvents':
      return engine.putEvents(input.Entries);
    case 'TestEventPattern': {
      let event: unknown;
      try {
        event = JSON.parse(String(input.Event ?? ''));
      } catch {
        throw new AwsError('ValidationException', 'Parameter Event is not valid: it is not JSON.');
      }
      if (!event || typeof event !== 'object' || Array.isArray(event)) throw new AwsError('ValidationException', 'Parameter Event is not valid: it is not a JSON object.');
      const missing = TEST_EVENT_FIELDS.filter((f) => !(f in (event as object)));
      if (missing.length) throw new AwsError('ValidationException', `Parameter Event is not valid. Reason: Provided Event is missing required fields: ${missing.join(', ')}.`);
      if (typeof input.EventPattern !== 'string') throw new AwsError('ValidationException', 'EventPattern is required.');
      return { Result: matchesPattern(parsePattern(input.EventPattern), event) };
    }
    case 'ListEventBuses': {
      const buses = [...engine.store.buses.values()].filter((b) => !input.NamePrefix || b.name.startsWith(input.NamePrefix)).sort((a, b) => a.name.localeCompare(b.name));
      const p = page(buses, input);
      return { EventBuses: p.items.map((b) => ({ Name: b.name, Arn: b.arn, ...(b.description ? { Description: b.description } : {}), CreationTime: secs(b.createdAt), LastModifiedTime: secs(b.createdAt) })), ...(p.NextToken ? { NextToken: p.NextToken } : {}) };
    }
    case 'DescribeEventBus': {
      const b = engine.store.buses.get(engine.requireBus(input.Name));
      if (!b) throw new AwsError('ResourceNotFoundException', `Event bus ${input.Name} does not exist.`);
      const statements = Object.values(b.policy);
      return { Name: b.name, Arn: b.arn, ...(b.description ? { Description: b.description } : {}), ...(statements.length ? { Policy: JSON.stringify({ Version: '2012-10-17', Statement: statements }) } : {}), CreationTime: secs(b.createdAt), LastModifiedTime: secs(b.createdAt) };
    }
    case 'CreateEventBus': {
      const name = String(input.Name ?? '');
      if (!/^[/.\-_A-Za-z0-9]{1,256}$/.test(name) || name === 'default') throw new AwsError('ValidationException', `Event bus name ${name} is not valid.`);
      if (input.EventSourceName) throw new AwsError('ValidationException', 'Partner event buses (EventSourceName) are not supported by the local cloud.');
      if (engine.store.buses.has(name)) throw new AwsError('ResourceAlreadyExistsException', `Event bus ${name} already exists.`);
      engine.putBus(name, input.Description);
      return { EventBusArn: engine.busArn(name) };
    }
    case 'DeleteEventBus': {
      const name = engine.busName(input.Name);
      if (name === 'default') throw new AwsError('ValidationException', 'Cannot delete event bus default.');
      engine.store.buses.delete(name);
      engine.store.save();
      return {};
    }
    case 'PutRule':
      return { RuleArn: engine.putRule(input).arn };
    case 'DescribeRule':
      return describeRule(engine.getRule(input.Name, input.EventBusName));
    case 'ListRules': {
      const bus = engine.requireBus(input.EventBusName);
      const rules = [...engine.store.rules.values()].filter((r) => r.bus === bus && (!input.NamePrefix || r.name.startsWith(input.NamePrefix))).sort((a, b) => a.name.localeCompare(b.name));
      const p = page(rules, input);
      return { Rules: p.items.map(describeRule), ...(p.NextToken ? { NextToken: p.NextToken } : {}) };
    }
    case 'ListRuleNamesByTarget': {
      const bus = engine.requireBus(input.EventBusName);
      const names = [...engine.store.rules.values()].filter((r) => r.bus === bus && r.targets.some((t) => t.Arn === input.TargetArn)).map((r) => r.name).sort();
      return { RuleNames: names };
    }
    case 'EnableRule':
    case 'DisableRule': {
      const rule = engine.getRule(input.Name, input.EventBusName);
      rule.state = operation === 'EnableRule' ? 'ENABLED' : 'DISABLED';
      engine.store.save();
      return {};
    }
    case 'DeleteRule': {
      const rule = engine.getRule(input.Name, input.EventBusName);
      if (rule.targets.length && !input.Force) throw new AwsError('ValidationException', "Rule can't be deleted since it has targets.");
      engine.deleteRule(rule);
      return {};
    }
    case 'PutTargets': {
      const rule = engine.getRule(input.Rule, input.EventBusName);
      if (!Array.isArray(input.Targets) || input.Targets.length === 0) throw new AwsError('ValidationException', 'Targets must contain at least one target.');
      engine.putTargets(rule, input.Targets as TargetState[]);
      return { FailedEntryCount: 0, FailedEntries: [] };
    }
    case 'RemoveTargets': {
      const rule = engine.getRule(input.Rule, input.EventBusName);
      const ids: string[] = Array.isArray(input.Ids) ? input.Ids : [];
      const failed = ids.filter((id) => !rule.targets.some((t) => t.Id === id)).map((id) => ({ TargetId: id, ErrorCode: 'ResourceNotFoundException', ErrorMessage: `Target ${id} does not exist on rule ${rule.name}.` }));
      rule.targets = rule.targets.filter((t) => !ids.includes(t.Id));
      engine.store.save();
      return { FailedEntryCount: failed.length, FailedEntries: failed };
    }
    case 'ListTargetsByRule': {
      const rule = engine.getRule(input.Rule, input.EventBusName);
      const p = page(rule.targets, input);
      return { Targets: p.items, ...(p.NextToken ? { NextToken: p.NextToken } : {}) };
    }
    case 'CreateArchive': {
      if (engine.store.archives.has(String(input.ArchiveName))) throw new AwsError('ResourceAlreadyExistsException', `Archive ${input.ArchiveName} already exists.`);
      const a = engine.putArchive(input);
      return { ArchiveArn: a.arn, State: 'ENABLED', CreationTime: secs(a.createdAt) };
    }
    case 'DescribeArchive':
      return describeArchive(engine, engine.getArchive(input.ArchiveName));
    case 'ListArchives': {
      const archives = [...engine.store.archives.values()]
        .filter((a) => (!input.NamePrefix || a.name.startsWith(input.NamePrefix)) && (!input.EventSourceArn || a.sourceArn === input.EventSourceArn) && (!input.State || input.State === 'ENABLED'))
        .sort((a, b) => a.name.localeCompare(b.name));
      const p = page(archives, input);
      return {
        Archives: p.items.map((a) => {
          const d = describeArchive(engine, a);
          return { ArchiveName: d.ArchiveName, EventSourceArn: d.EventSourceArn, State: d.State, RetentionDays: d.RetentionDays, SizeBytes: d.SizeBytes, EventCount: d.EventCount, CreationTime: d.CreationTime };
        }),
        ...(p.NextToken ? { NextToken: p.NextToken } : {}),
      };
    }
    case 'DeleteArchive':
      engine.deleteArchive(engine.getArchive(input.ArchiveName));
      return {};
    case 'StartReplay': {
      const r = engine.startReplay(input);
      return { ReplayArn: r.arn, State: r.state, ReplayStartTime: secs(r.replayStartTime) };
    }
    case 'DescribeReplay':
      return describeReplay(engine.getReplay(input.ReplayName));
    case 'ListReplays': {
      const replays = [...engine.store.replays.values()]
        .filter((r) => (!input.NamePrefix || r.name.startsWith(input.NamePrefix)) && (!input.State || r.state === input.State) && (!input.EventSourceArn || r.archiveArn === input.EventSourceArn))
        .sort((a, b) => a.name.localeCompare(b.name));
      const p = page(replays, input);
      return {
        Replays: p.items.map((r) => {
          const d = describeReplay(r);
          delete d.Destination;
          delete d.ReplayArn;
          delete d.Description;
          return d;
        }),
        ...(p.NextToken ? { NextToken: p.NextToken } : {}),
      };
    }
    case 'CancelReplay': {
      const r = engine.getReplay(input.ReplayName);
      if (r.state === 'COMPLETED' || r.state === 'CANCELLED' || r.state === 'FAILED') throw new AwsError('IllegalStatusException', `Replay ${r.name} is ${r.state} and cannot be cancelled.`);
      r.state = 'CANCELLED';
      engine.store.save();
      return { ReplayArn: r.arn, State: 'CANCELLING' };
    }
    default:
      throw new AwsError('UnknownOperationException', `The local EventBridge does not implement ${operation}.`);
  }
}

function refuseUnknown(req: ProvisionRequest, known: readonly string[]): void {
  for (const k of Object.keys(req.properties)) {
    if (!known.includes(k)) throw new AwsError('ValidationException', `${req.logicalId} (${req.type}): property ${k} is not supported by the local cloud.`);
  }
}

const asArray = <T>(v: T | T[] | undefined): T[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

function scheduleFromProps(engine: EventsEngine, req: ProvisionRequest, now: number): ScheduleState {
  const p = req.properties;
  refuseUnknown(req, ['Name', 'GroupName', 'Description', 'ScheduleExpression', 'ScheduleExpressionTimezone', 'FlexibleTimeWindow', 'State', 'StartDate', 'EndDate', 'Target', 'KmsKeyArn', 'ActionAfterCompletion']);
  if (p.KmsKeyArn) throw new AwsError('ValidationException', `${req.logicalId}: KmsKeyArn is not supported by the local cloud.`);
  const name = p.Name ?? generatedName(req.stackName, req.logicalId);
  const group = p.GroupName ?? 'default';
  if (group !== 'default' && !engine.store.groups.has(group)) throw new AwsError('ResourceNotFoundException', `Schedule group ${group} does not exist.`);
  parseScheduleExpression(p.ScheduleExpression, true);
  const tz = p.ScheduleExpressionTimezone ?? 'UTC';
  if (!['UTC', 'Etc/UTC', 'GMT', 'Etc/GMT'].includes(tz)) throw new AwsError('ValidationException', `${req.logicalId}: ScheduleExpressionTimezone ${tz} is not supported by the local cloud (UTC only).`);
  const ftw = p.FlexibleTimeWindow ?? {};
  if (ftw.Mode !== 'OFF' && ftw.Mode !== 'FLEXIBLE') throw new AwsError('ValidationException', `${req.logicalId}: FlexibleTimeWindow.Mode must be OFF or FLEXIBLE.`);
  if (ftw.Mode === 'FLEXIBLE' && !(Number.isInteger(Number(ftw.MaximumWindowInMinutes)) && Number(ftw.MaximumWindowInMinutes) >= 1 && Number(ftw.MaximumWindowInMinutes) <= 1440)) throw new AwsError('ValidationException', `${req.logicalId}: FlexibleTimeWindow.MaximumWindowInMinutes must be 1 to 1440 when Mode is FLEXIBLE.`);
  const t = p.Target ?? {};
  const knownTarget = ['Arn', 'RoleArn', 'Input', 'RetryPolicy', 'DeadLetterConfig'];
  for (const k of Object.keys(t)) if (!knownTarget.includes(k)) throw new AwsError('ValidationException', `${req.logicalId}: Target.${k} is not supported by the local cloud.`);
  if (typeof t.Arn !== 'string') throw new AwsError('ValidationException', `${req.logicalId}: Target.Arn is required.`);
  if (t.Arn.startsWith('arn:aws:scheduler:::aws-sdk:')) throw new AwsError('ValidationException', `${req.logicalId}: universal targets (${t.Arn}) are not supported by the local cloud.`);
  const kind = targetKind(t.Arn, req.logicalId);
  if (kind === 'bus') throw new AwsError('ValidationException', `${req.logicalId}: event bus targets of schedules (EventBridgeParameters) are not supported by the local cloud.`);
  const state = p.State ?? 'ENABLED';
  if (state !== 'ENABLED' && state !== 'DISABLED') throw new AwsError('ValidationException', `${req.logicalId}: State ${state} is not valid.`);
  const action = p.ActionAfterCompletion ?? 'NONE';
  if (action !== 'NONE' && action !== 'DELETE') throw new AwsError('ValidationException', `${req.logicalId}: ActionAfterCompletion ${action} is not valid.`);
  return {
    name,
    group,
    arn: engine.scheduleArn(group, name),
    expression: p.ScheduleExpression,
    timezone: tz,
    flexibleTimeWindow: ftw.Mode === 'FLEXIBLE' ? { Mode: 'FLEXIBLE', MaximumWindowInMinutes: Number(ftw.MaximumWindowInMinutes) } : { Mode: 'OFF' },
    state,
    startDate: toMillis(p.StartDate),
    endDate: toMillis(p.EndDate),
    description: p.Description,
    actionAfterCompletion: action,
    target: { Arn: t.Arn, RoleArn: t.RoleArn, Input: t.Input, RetryPolicy: t.RetryPolicy ? { MaximumRetryAttempts: t.RetryPolicy.MaximumRetryAttempts === undefined ? undefined : Number(t.RetryPolicy.MaximumRetryAttempts), MaximumEventAgeInSeconds: t.RetryPolicy.MaximumEventAgeInSeconds === undefined ? undefined : Number(t.RetryPolicy.MaximumEventAgeInSeconds) } : undefined, DeadLetterConfig: t.DeadLetterConfig },
    createdAt: now,
  };
}

function providers(engine: EventsEngine, kernel: Kernel): ResourceProvider[] {
  const bus: ResourceProvider = {
    types: ['AWS::Events::EventBus'],
    async create(req) {
      refuseUnknown(req, ['Name', 'Description', 'Tags', 'Policy']);
      const name = String(req.properties.Name ?? '');
      if (!name || name === 'default') throw new AwsError('ValidationException', `${req.logicalId}: Name is required and cannot be default.`);
      engine.putBus(name, req.properties.Description);
      if (req.properties.Policy) {
        const b = engine.store.buses.get(name);
        if (b) b.policy = { template: req.properties.Policy };
        engine.store.save();
      }
      return { physicalId: name, attributes: { Arn: engine.busArn(name), Name: name, ...(req.properties.Policy ? { Policy: JSON.stringify(req.properties.Policy) } : {}) } };
    },
    async delete(_type, physicalId) {
      engine.store.buses.delete(physicalId);
      engine.store.save();
    },
  };
  const rule: ResourceProvider = {
    types: ['AWS::Events::Rule'],
    async create(req) {
      const p = req.properties;
      refuseUnknown(req, ['Name', 'Description', 'EventBusName', 'EventPattern', 'ScheduleExpression', 'State', 'RoleArn', 'Targets']);
      const name = p.Name ?? generatedName(req.stackName, req.logicalId);
      const targets = asArray<TargetState>(p.Targets).map((t) => normalizeTarget(t));
      engine.validateTargets(targets);
      const r = engine.putRule({ Name: name, EventBusName: p.EventBusName, EventPattern: p.EventPattern, ScheduleExpression: p.ScheduleExpression, State: p.State, Description: p.Description, RoleArn: p.RoleArn });
      r.targets = [];
      if (targets.length) engine.putTargets(r, targets);
      else engine.store.save();
      return { physicalId: r.bus === 'default' ? r.name : `${r.bus}|${r.name}`, attributes: { Arn: r.arn } };
    },
    async delete(_type, physicalId) {
      const [busName, name] = physicalId.includes('|') ? physicalId.split('|') : ['default', physicalId];
      engine.store.rules.delete(`${busName}/${name}`);
      engine.store.save();
    },
  };
  const archive: ResourceProvider = {
    types: ['AWS::Events::Archive'],
    async create(req) {
      const p = req.properties;
      refuseUnknown(req, ['ArchiveName', 'SourceArn', 'Description', 'EventPattern', 'RetentionDays', 'KmsKeyIdentifier']);
      if (p.KmsKeyIdentifier) throw new AwsError('ValidationException', `${req.logicalId}: KmsKeyIdentifier is not supported by the local cloud.`);
      const a = engine.putArchive({ ArchiveName: p.ArchiveName ?? generatedName(req.stackName, req.logicalId, 48), EventSourceArn: p.SourceArn, EventPattern: p.EventPattern, RetentionDays: p.RetentionDays === undefined ? undefined : Number(p.RetentionDays), Description: p.Description });
      return { physicalId: a.name, attributes: { Arn: a.arn, ArchiveName: a.name } };
    },
    async delete(_type, physicalId) {
      const a = engine.store.archives.get(physicalId);
      if (a) engine.deleteArchive(a);
    },
  };
  const policy: ResourceProvider = {
    types: ['AWS::Events::EventBusPolicy'],
    async create(req) {
      const p = req.properties;
      refuseUnknown(req, ['EventBusName', 'StatementId', 'Statement', 'Action', 'Principal', 'Condition']);
      const busName = engine.requireBus(p.EventBusName);
      const sid = String(p.StatementId ?? req.logicalId);
      const b = engine.store.buses.get(busName);
      if (b) b.policy[sid] = p.Statement ?? { Sid: sid, Effect: 'Allow', Action: p.Action, Principal: p.Principal, Condition: p.Condition };
      engine.store.save();
      return { physicalId: `${busName}|${sid}`, attributes: {} };
    },
    async delete(_type, physicalId) {
      const [busName, sid] = physicalId.split('|');
      const b = engine.store.buses.get(busName);
      if (b) delete b.policy[sid];
      engine.store.save();
    },
  };
  const group: ResourceProvider = {
    types: ['AWS::Scheduler::ScheduleGroup'],
    async create(req) {
      refuseUnknown(req, ['Name', 'Tags']);
      const name = req.properties.Name ?? generatedName(req.stackName, req.logicalId);
      const groupArn = arn('scheduler', `schedule-group/${name}`, kernel.region);
      engine.store.groups.set(name, { name, arn: groupArn, createdAt: kernel.clock.now() });
      engine.store.save();
      return { physicalId: name, attributes: { Arn: groupArn, CreationDate: new Date(kernel.clock.now()).toISOString(), LastModificationDate: new Date(kernel.clock.now()).toISOString(), State: 'ACTIVE' } };
    },
    async delete(_type, physicalId) {
      engine.store.groups.delete(physicalId);
      for (const [key, s] of engine.store.schedules) if (s.group === physicalId) engine.store.schedules.delete(key);
      engine.store.save();
    },
  };
  const schedule: ResourceProvider = {
    types: ['AWS::Scheduler::Schedule'],
    async create(req): Promise<Provisioned> {
      const s = scheduleFromProps(engine, req, kernel.clock.now());
      engine.putSchedule(s);
      return { physicalId: s.name, attributes: { Arn: s.arn } };
    },
    async delete(_type, physicalId, properties) {
      engine.store.schedules.delete(`${properties.GroupName ?? 'default'}/${physicalId}`);
      engine.store.save();
    },
  };
  // Updates happen in place, so archived events and schedule cursors survive a redeploy; a
  // renamed resource is created anew and the old one removed.
  for (const provider of [rule, archive, schedule]) {
    provider.update = async (req, previous) => {
      const next = await provider.create(req);
      if (next.physicalId !== previous.physicalId) await provider.delete(req.type, previous.physicalId, previous.properties);
      return next;
    };
  }
  return [bus, rule, archive, policy, group, schedule];
}

/** Template targets carry numbers as strings sometimes; the API takes numbers. */
function normalizeTarget(t: any): TargetState {
  const out: any = { ...t };
  if (out.RetryPolicy) {
    out.RetryPolicy = { ...out.RetryPolicy };
    for (const k of ['MaximumRetryAttempts', 'MaximumEventAgeInSeconds']) if (out.RetryPolicy[k] !== undefined) out.RetryPolicy[k] = Number(out.RetryPolicy[k]);
  }
  return out;
}

/**
 * Creates the local EventBridge: its API service (`AWSEvents`), its CloudFormation providers
 * (buses, rules, archives, bus policies, Scheduler schedules and groups) and its EventsPort.
 */
export function createEvents(kernel: Kernel, options: EventsOptions = {}): { service: LocalService; events: LocalEventsPort } {
  const engine = new EventsEngine(kernel, options);
  const events: LocalEventsPort = {
    putEvents: (entries) => engine.putEvents(entries),
    archivedCount: (name) => {
      const a = engine.store.archives.get(name);
      return a ? engine.archivedEvents(a).length : 0;
    },
    idle: () => engine.idle(),
  };
  const service: LocalService = {
    name: 'events',
    json: {
      targetPrefixes: ['AWSEvents'],
      handle: (operation, input) => handle(engine, operation, input),
    },
    providers: providers(engine, kernel),
    start: async () => engine.start(),
    stop: () => engine.stop(),
  };
  return { service, events };
}
