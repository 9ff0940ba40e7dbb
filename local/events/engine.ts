/**
 * The local EventBridge engine: ingestion (PutEvents), rule matching, asynchronous delivery to
 * targets with retries and dead-letter queues, archives and replays, and the schedulers of
 * schedule rules and EventBridge Scheduler schedules.
 *
 * Local choices (documented here because AWS has no equivalent knob):
 * - retries back off `retryBaseMs * 2^n` real milliseconds (capped at `retryMaxMs`) instead of
 *   AWS's minutes-long exponential backoff; the retry count and event age follow the policy,
 *   the age being measured on the local clock;
 * - a flexible time window fires at its start (the scheduled time);
 * - when the clock jumps, at most `maxCatchUp` occurrences per schedule are fired and the
 *   rest are skipped; occurrences missed while the local cloud was stopped are not fired.
 */
import { randomUUID, createHash } from 'node:crypto';
import { ACCOUNT_ID, AwsError, arn } from '../core/aws.js';
import type { Kernel } from '../core/kernel.js';
import { matchesPattern, parsePattern } from './pattern.js';
import { parseScheduleExpression, type Schedule } from './schedule.js';
import { EventsStore, type ArchiveState, type ReplayState, type RuleState, type ScheduleState, type TargetState } from './store.js';
import { targetPayload, validateTargetInput } from './transform.js';

/** Tuning of the local engine. */
export interface EventsOptions {
  /** First retry delay in real ms. @default 50 */
  readonly retryBaseMs?: number;
  /** Largest retry delay in real ms. @default 2000 */
  readonly retryMaxMs?: number;
  /** Period of the real-time schedule tick in ms; 0 disables it. @default 1000 */
  readonly tickMs?: number;
  /** Occurrences fired per schedule for one clock jump. @default 100 */
  readonly maxCatchUp?: number;
}

/** The kinds of target the local cloud can deliver to. */
export type TargetKind = 'lambda' | 'states' | 'sqs' | 'bus';

/** Classifies a target ARN, refusing any other service by name. */
export function targetKind(targetArn: string, id = ''): TargetKind {
  const m = /^arn:aws[\w-]*:([\w-]+):[^:]*:[^:]*:(.*)$/.exec(String(targetArn));
  const service = m?.[1];
  const resource = m?.[2] ?? '';
  if (service === 'lambda' && resource.startsWith('function:')) return 'lambda';
  if (service === 'states' && resource.startsWith('stateMachine:')) return 'states';
  if (service === 'sqs') {
    if (resource.endsWith('.fifo')) throw new AwsError('ValidationException', `Target ${id}: FIFO queue targets (${targetArn}) are not supported by the local cloud.`);
    return 'sqs';
  }
  if (service === 'events' && resource.startsWith('event-bus/')) return 'bus';
  throw new AwsError('ValidationException', `Target ${id}: ${targetArn} is not a supported target; the local cloud delivers to Lambda functions, Step Functions state machines, SQS queues and event buses.`);
}

/** EventBridge's event time format: ISO 8601 without milliseconds. */
export function isoSeconds(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

/** Seconds or a Date or an ISO string, as SDKs and templates send timestamps, to epoch ms. */
export function toMillis(value: unknown): number | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value === 'number') return value * 1000;
  if (value instanceof Date) return value.getTime();
  const t = Date.parse(String(value));
  return Number.isFinite(t) ? t : undefined;
}

const NON_RETRYABLE = new Set(['ResourceNotFoundException', 'AWS.SimpleQueueService.NonExistentQueue', 'StateMachineDoesNotExist', 'AccessDeniedException', 'ValidationException', 'InvalidParameterValueException']);

interface Delivery {
  readonly kind: TargetKind;
  readonly targetArn: string;
  readonly payload: string;
  readonly maxRetries: number;
  readonly maxAgeSeconds: number;
  readonly dlqArn?: string;
  readonly dlqBody: string;
  readonly since: number;
  readonly dlqAttributes: (err: { code: string; message: string }, retries: number, exhausted?: string) => Record<string, string>;
  /** For bus targets: the envelope forwarded. */
  readonly event?: Record<string, unknown>;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function errorOf(err: unknown): { code: string; message: string } {
  if (err instanceof AwsError) return { code: err.code, message: err.message };
  if (err instanceof Error) return { code: err.name || 'Error', message: err.message };
  return { code: 'Error', message: String(err) };
}

/** A deterministic CloudFormation-style physical name (stable across redeploys). */
export function generatedName(stackName: string, logicalId: string, max = 64): string {
  const suffix = createHash('sha256').update(`${stackName}/${logicalId}`).digest('hex').slice(0, 12).toUpperCase();
  const head = `${stackName}-${logicalId}`.slice(0, max - suffix.length - 1);
  return `${head}-${suffix}`;
}

/** The EventBridge engine shared by the API, the providers and the EventsPort. */
export class EventsEngine {
  readonly store: EventsStore;
  private readonly inflight = new Set<Promise<unknown>>();
  private readonly schedules = new Map<string, Schedule>();
  private timer?: ReturnType<typeof setInterval>;
  private unsubscribe?: () => void;
  private readonly retryBaseMs: number;
  private readonly retryMaxMs: number;
  private readonly maxCatchUp: number;
  private stopped = false;

  constructor(
    private readonly kernel: Kernel,
    private readonly options: EventsOptions = {},
  ) {
    this.store = new EventsStore(kernel.stateDir);
    this.retryBaseMs = options.retryBaseMs ?? 50;
    this.retryMaxMs = options.retryMaxMs ?? 2000;
    this.maxCatchUp = options.maxCatchUp ?? 100;
    if (!this.store.buses.has('default')) this.putBus('default');
  }

  get region(): string {
    return this.kernel.region;
  }

  busArn(name: string): string {
    return arn('events', `event-bus/${name}`, this.region);
  }

  ruleArn(bus: string, name: string): string {
    return arn('events', bus === 'default' ? `rule/${name}` : `rule/${bus}/${name}`, this.region);
  }

  /** A bus name from a name or an ARN. */
  busName(nameOrArn: unknown): string {
    const s = nameOrArn === undefined || nameOrArn === null || nameOrArn === '' ? 'default' : String(nameOrArn);
    const m = /^arn:aws[\w-]*:events:[^:]*:[^:]*:event-bus\/(.+)$/.exec(s);
    return m ? m[1] : s;
  }

  requireBus(nameOrArn: unknown): string {
    const name = this.busName(nameOrArn);
    if (!this.store.buses.has(name)) throw new AwsError('ResourceNotFoundException', `Event bus ${name} does not exist.`);
    return name;
  }

  putBus(name: string, description?: string): void {
    const existing = this.store.buses.get(name);
    this.store.buses.set(name, { name, arn: this.busArn(name), createdAt: existing?.createdAt ?? this.kernel.clock.now(), description, policy: existing?.policy ?? {} });
    this.store.save();
  }

  // ---- rules -------------------------------------------------------------------------

  getRule(nameOrArn: string, busNameOrArn?: unknown): RuleState {
    let bus = this.busName(busNameOrArn);
    let name = String(nameOrArn ?? '');
    const m = /^arn:aws[\w-]*:events:[^:]*:[^:]*:rule\/(.+)$/.exec(name);
    if (m) {
      const parts = m[1].split('/');
      [bus, name] = parts.length === 2 ? [parts[0], parts[1]] : ['default', parts[0]];
    }
    const rule = this.store.rules.get(`${bus}/${name}`);
    if (!rule) throw new AwsError('ResourceNotFoundException', `Rule ${name} does not exist on EventBus ${bus}.`);
    return rule;
  }

  /** Creates or updates a rule (targets kept on update, as PutRule does). */
  putRule(input: { Name: string; EventBusName?: unknown; EventPattern?: unknown; ScheduleExpression?: string; State?: string; Description?: string; RoleArn?: string }): RuleState {
    const name = String(input.Name ?? '');
    if (!/^[.\-_A-Za-z0-9]{1,64}$/.test(name)) throw new AwsError('ValidationException', `Rule name ${name} is not valid: 1 to 64 characters of [.-_A-Za-z0-9].`);
    const bus = this.requireBus(input.EventBusName);
    let eventPattern: string | undefined;
    if (input.EventPattern !== undefined && input.EventPattern !== null && input.EventPattern !== '') {
      const parsed = parsePattern(input.EventPattern as string | object);
      eventPattern = typeof input.EventPattern === 'string' ? input.EventPattern : JSON.stringify(parsed);
    }
    const scheduleExpression = input.ScheduleExpression || undefined;
    if (!eventPattern && !scheduleExpression) throw new AwsError('ValidationException', 'Parameter(s) EventPattern or ScheduleExpression must be specified.');
    if (scheduleExpression) {
      if (bus !== 'default') throw new AwsError('ValidationException', 'ScheduleExpression is supported only on the default event bus.');
      parseScheduleExpression(scheduleExpression);
    }
    const state = (input.State ?? 'ENABLED') as RuleState['state'];
    if (!['ENABLED', 'DISABLED'].includes(state)) throw new AwsError('ValidationException', `State ${state} is not supported by the local cloud (ENABLED or DISABLED).`);
    const key = `${bus}/${name}`;
    const existing = this.store.rules.get(key);
    const now = this.kernel.clock.now();
    const rule: RuleState = {
      name,
      bus,
      arn: this.ruleArn(bus, name),
      eventPattern,
      scheduleExpression,
      state,
      description: input.Description,
      roleArn: input.RoleArn,
      targets: existing?.targets ?? [],
      createdAt: existing?.scheduleExpression === scheduleExpression ? (existing?.createdAt ?? now) : now,
      lastFire: existing?.scheduleExpression === scheduleExpression ? existing?.lastFire : undefined,
    };
    this.store.rules.set(key, rule);
    this.store.save();
    return rule;
  }

  /** Validates targets the way PutTargets does (throws ValidationException). */
  validateTargets(targets: readonly TargetState[]): void {
    for (const t of targets) {
      if (!t || typeof t.Id !== 'string' || !/^[.\-_A-Za-z0-9]{1,64}$/.test(t.Id)) throw new AwsError('ValidationException', `Target Id ${t?.Id} is not valid.`);
      if (typeof t.Arn !== 'string' || !t.Arn) throw new AwsError('ValidationException', `Target ${t.Id}: Arn is required.`);
      const kind = targetKind(t.Arn, t.Id);
      const known = new Set(['Id', 'Arn', 'RoleArn', 'Input', 'InputPath', 'InputTransformer', 'RetryPolicy', 'DeadLetterConfig', 'SqsParameters']);
      for (const k of Object.keys(t)) if (!known.has(k)) throw new AwsError('ValidationException', `Target ${t.Id}: ${k} is not supported by the local cloud.`);
      validateTargetInput(t);
      if (t.SqsParameters && (kind !== 'sqs' || t.SqsParameters.MessageGroupId !== undefined)) throw new AwsError('ValidationException', `Target ${t.Id}: SqsParameters.MessageGroupId applies only to FIFO queues, which the local cloud does not support.`);
      const rp = t.RetryPolicy;
      if (rp?.MaximumRetryAttempts !== undefined && !(Number.isInteger(rp.MaximumRetryAttempts) && rp.MaximumRetryAttempts >= 0 && rp.MaximumRetryAttempts <= 185)) throw new AwsError('ValidationException', `Target ${t.Id}: RetryPolicy.MaximumRetryAttempts must be between 0 and 185.`);
      if (rp?.MaximumEventAgeInSeconds !== undefined && !(Number.isInteger(rp.MaximumEventAgeInSeconds) && rp.MaximumEventAgeInSeconds >= 60 && rp.MaximumEventAgeInSeconds <= 86400)) throw new AwsError('ValidationException', `Target ${t.Id}: RetryPolicy.MaximumEventAgeInSeconds must be between 60 and 86400.`);
      if (t.DeadLetterConfig?.Arn && !/^arn:aws[\w-]*:sqs:/.test(t.DeadLetterConfig.Arn)) throw new AwsError('ValidationException', `Target ${t.Id}: DeadLetterConfig.Arn must be an SQS queue ARN.`);
    }
  }

  putTargets(rule: RuleState, targets: readonly TargetState[]): void {
    this.validateTargets(targets);
    const byId = new Map(rule.targets.map((t) => [t.Id, t]));
    for (const t of targets) byId.set(t.Id, { ...t });
    if (byId.size > 5) throw new AwsError('LimitExceededException', `The requested resource exceeds the maximum number allowed: a rule has at most 5 targets.`);
    rule.targets = [...byId.values()];
    this.store.save();
  }

  deleteRule(rule: RuleState): void {
    this.store.rules.delete(`${rule.bus}/${rule.name}`);
    this.store.save();
  }

  // ---- ingestion ---------------------------------------------------------------------

  /**
   * PutEvents: faults, request validation, then per-entry validation and ingestion. Delivery
   * happens after this returns.
   */
  async putEvents(entries: unknown): Promise<{ FailedEntryCount: number; Entries: Array<Record<string, unknown>> }> {
    let duplicate = false;
    let reorder = false;
    for (const effect of this.kernel.faults.decide({ service: 'events', operation: 'PutEvents' })) {
      if (effect.kind === 'latency') await sleep(effect.latencyMs ?? 100);
      else if (effect.kind === 'duplicate') duplicate = true;
      else if (effect.kind === 'reorder') reorder = true;
      else if (effect.kind === 'timeout') throw new AwsError(effect.errorName ?? 'RequestTimeout', effect.errorMessage ?? 'request timed out', 500);
      // 400 so that SDK clients don't silently retry past an injected error.
      else throw new AwsError(effect.errorName ?? 'InjectedFault', effect.errorMessage ?? 'fault injected', 400);
    }
    if (!Array.isArray(entries) || entries.length === 0) throw new AwsError('ValidationException', "1 validation error detected: Value at 'entries' failed to satisfy constraint: Member must have length greater than or equal to 1");
    if (entries.length > 10) throw new AwsError('ValidationException', `1 validation error detected: Value at 'entries' failed to satisfy constraint: Member must have length less than or equal to 10`);
    const size = entries.reduce((n: number, e) => n + Buffer.byteLength(JSON.stringify(e ?? {}), 'utf8'), 0);
    if (size > 256 * 1024) throw new AwsError('ValidationException', 'Total size of the entries in the request is over the limit.');
    const results: Array<Record<string, unknown>> = [];
    const accepted: Array<{ bus: string; event: Record<string, unknown> }> = [];
    for (const raw of entries) {
      const outcome = this.validateEntry(raw);
      if ('ErrorCode' in outcome) results.push(outcome);
      else {
        results.push({ EventId: outcome.event.id });
        accepted.push(outcome);
      }
    }
    if (reorder) accepted.reverse();
    for (const { bus, event } of accepted) this.ingest(bus, event, { copies: duplicate ? 2 : 1 });
    return { FailedEntryCount: results.filter((r) => 'ErrorCode' in r).length, Entries: results };
  }

  private validateEntry(raw: unknown): { ErrorCode: string; ErrorMessage: string } | { bus: string; event: Record<string, unknown> } {
    const e = (raw && typeof raw === 'object' ? raw : {}) as Record<string, unknown>;
    const missing = (p: string) => ({ ErrorCode: 'InvalidArgument', ErrorMessage: `Parameter ${p} is not valid. Reason: ${p} is a required argument.` });
    if (typeof e.Source !== 'string' || !e.Source) return missing('Source');
    if (typeof e.DetailType !== 'string' || !e.DetailType) return missing('DetailType');
    if (e.Detail === undefined || e.Detail === null || e.Detail === '') return missing('Detail');
    let detail: unknown;
    try {
      detail = typeof e.Detail === 'string' ? JSON.parse(e.Detail) : undefined;
    } catch {
      detail = undefined;
    }
    if (!detail || typeof detail !== 'object' || Array.isArray(detail)) return { ErrorCode: 'MalformedDetail', ErrorMessage: 'Detail is malformed.' };
    if (e.Resources !== undefined && !(Array.isArray(e.Resources) && e.Resources.every((r) => typeof r === 'string'))) return { ErrorCode: 'InvalidArgument', ErrorMessage: 'Parameter Resources is not valid. Reason: Resources must be a list of strings.' };
    const bus = this.busName(e.EventBusName);
    // AWS accepts events for a bus that does not exist and drops them; the local cloud says so.
    if (!this.store.buses.has(bus)) return { ErrorCode: 'InvalidArgument', ErrorMessage: `Event bus ${bus} does not exist.` };
    const time = toMillis(e.Time) ?? this.kernel.clock.now();
    const event: Record<string, unknown> = {
      version: '0',
      id: randomUUID(),
      'detail-type': e.DetailType,
      source: e.Source,
      account: ACCOUNT_ID,
      time: isoSeconds(time),
      region: this.region,
      resources: (e.Resources as string[] | undefined) ?? [],
      detail,
    };
    return { bus, event };
  }

  /** Routes an event on a bus: archives it (unless replayed) and delivers it to matching rules. */
  ingest(bus: string, event: Record<string, unknown>, opts: { copies?: number; replayName?: string; filterArns?: readonly string[] } = {}): number {
    const now = this.kernel.clock.now();
    if (!opts.replayName) {
      const busArn = this.busArn(bus);
      for (const archive of this.store.archives.values()) {
        if (archive.sourceArn !== busArn) continue;
        if (archive.eventPattern && !matchesPattern(archive.eventPattern, event)) continue;
        this.store.appendArchived(archive.name, { ingestedAt: now, event });
      }
    }
    const routed = opts.replayName ? { ...event, 'replay-name': opts.replayName } : event;
    let matched = 0;
    for (const rule of this.store.rules.values()) {
      if (rule.bus !== bus || rule.state !== 'ENABLED' || !rule.eventPattern) continue;
      if (opts.filterArns?.length && !opts.filterArns.includes(rule.arn)) continue;
      let ok = false;
      try {
        ok = matchesPattern(rule.eventPattern, routed);
      } catch {
        ok = false;
      }
      if (!ok) continue;
      matched++;
      for (const target of rule.targets) for (let i = 0; i < (opts.copies ?? 1); i++) this.deliverRuleTarget(rule, target, routed, now);
    }
    return matched;
  }

  private deliverRuleTarget(rule: RuleState, target: TargetState, event: Record<string, unknown>, ingestedAt: number): void {
    let kind: TargetKind;
    let payload: string;
    try {
      kind = targetKind(target.Arn, target.Id);
      payload = targetPayload(target, event, { ruleArn: rule.arn, ruleName: rule.name, ingestionTime: isoSeconds(ingestedAt) });
    } catch (err) {
      console.error(`[events] rule ${rule.name} target ${target.Id}: ${errorOf(err).message}`);
      return;
    }
    this.track(
      this.attempt(
        {
          kind,
          targetArn: target.Arn,
          payload,
          event,
          maxRetries: target.RetryPolicy?.MaximumRetryAttempts ?? 185,
          maxAgeSeconds: target.RetryPolicy?.MaximumEventAgeInSeconds ?? 86400,
          dlqArn: target.DeadLetterConfig?.Arn,
          dlqBody: JSON.stringify(event),
          since: ingestedAt,
          dlqAttributes: (err, retries, exhausted) => ({
            RULE_ARN: rule.arn,
            TARGET_ARN: target.Arn,
            ERROR_CODE: err.code,
            ERROR_MESSAGE: err.message,
            RETRY_ATTEMPTS: String(retries),
            ...(exhausted ? { EXHAUSTED_RETRY_CONDITION: exhausted } : {}),
          }),
        },
        0,
      ),
    );
  }

  private track(p: Promise<unknown>): void {
    this.inflight.add(p);
    void p.finally(() => this.inflight.delete(p));
  }

  /** Resolves once every delivery under way (retries included) has finished. */
  async idle(): Promise<void> {
    while (this.inflight.size) await Promise.allSettled([...this.inflight]);
  }

  private async send(d: Delivery): Promise<void> {
    switch (d.kind) {
      case 'lambda':
        await this.kernel.lambda.invoke(d.targetArn, d.payload, { invocationType: 'Event' });
        return;
      case 'states':
        // A generated name: duplicate events start duplicate executions, as on AWS.
        await this.kernel.states.startExecution({ stateMachineArn: d.targetArn, input: d.payload, name: randomUUID() });
        return;
      case 'sqs':
        await this.kernel.sqs.sendMessage(d.targetArn, d.payload);
        return;
      case 'bus': {
        const bus = this.requireBus(d.targetArn);
        this.ingest(bus, d.event ?? JSON.parse(d.payload));
        return;
      }
    }
  }

  private async attempt(d: Delivery, retries: number): Promise<void> {
    await new Promise((r) => setImmediate(r));
    try {
      await this.send(d);
      return;
    } catch (err) {
      const e = errorOf(err);
      if (NON_RETRYABLE.has(e.code)) return this.deadLetter(d, e, retries);
      if (retries >= d.maxRetries) return this.deadLetter(d, e, retries, 'MaximumRetryAttempts');
      if (this.kernel.clock.now() - d.since >= d.maxAgeSeconds * 1000) return this.deadLetter(d, e, retries, 'MaximumEventAgeInSeconds');
      await sleep(Math.min(this.retryMaxMs, this.retryBaseMs * 2 ** retries));
      // Stopping abandons pending retries rather than holding shutdown for up to 185 of them.
      if (this.stopped) {
        console.error(`[events] delivery to ${d.targetArn} abandoned at shutdown after ${retries + 1} attempts: ${e.code}`);
        return;
      }
      return this.attempt(d, retries + 1);
    }
  }

  private async deadLetter(d: Delivery, err: { code: string; message: string }, retries: number, exhausted?: string): Promise<void> {
    if (!d.dlqArn) {
      console.error(`[events] delivery to ${d.targetArn} dropped after ${retries} retries: ${err.code}: ${err.message}`);
      return;
    }
    const attrs = Object.fromEntries(Object.entries(d.dlqAttributes(err, retries, exhausted)).map(([k, v]) => [k, { DataType: 'String', StringValue: v }]));
    try {
      await this.kernel.sqs.sendMessage(d.dlqArn, d.dlqBody, attrs);
    } catch (dlqErr) {
      console.error(`[events] dead-letter queue ${d.dlqArn} refused the event for ${d.targetArn}: ${errorOf(dlqErr).message}`);
    }
  }

  // ---- archives and replays ----------------------------------------------------------

  archiveArn(name: string): string {
    return arn('events', `archive/${name}`, this.region);
  }

  putArchive(input: { ArchiveName: string; EventSourceArn: string; EventPattern?: unknown; RetentionDays?: number; Description?: string }): ArchiveState {
    const name = String(input.ArchiveName ?? '');
    if (!/^[.\-_A-Za-z0-9]{1,48}$/.test(name)) throw new AwsError('ValidationException', `Archive name ${name} is not valid: 1 to 48 characters of [.-_A-Za-z0-9].`);
    const bus = this.requireBus(input.EventSourceArn);
    let eventPattern: string | undefined;
    if (input.EventPattern !== undefined && input.EventPattern !== null && input.EventPattern !== '') {
      const parsed = parsePattern(input.EventPattern as string | object);
      eventPattern = typeof input.EventPattern === 'string' ? input.EventPattern : JSON.stringify(parsed);
    }
    const retentionDays = Number(input.RetentionDays ?? 0);
    if (!Number.isInteger(retentionDays) || retentionDays < 0) throw new AwsError('ValidationException', 'RetentionDays must be a non-negative integer.');
    const existing = this.store.archives.get(name);
    const archive: ArchiveState = { name, arn: this.archiveArn(name), sourceArn: this.busArn(bus), eventPattern, retentionDays, description: input.Description, createdAt: existing?.createdAt ?? this.kernel.clock.now() };
    this.store.archives.set(name, archive);
    this.store.save();
    return archive;
  }

  getArchive(nameOrArn: string): ArchiveState {
    const name = String(nameOrArn ?? '').replace(/^arn:aws[\w-]*:events:[^:]*:[^:]*:archive\//, '');
    const a = this.store.archives.get(name);
    if (!a) throw new AwsError('ResourceNotFoundException', `Archive ${name} does not exist.`);
    return a;
  }

  /** The archive's events within retention. */
  archivedEvents(a: ArchiveState): Array<{ ingestedAt: number; event: Record<string, unknown> }> {
    if (a.retentionDays > 0) this.store.prune(a.name, this.kernel.clock.now() - a.retentionDays * 86_400_000);
    return this.store.archived(a.name);
  }

  deleteArchive(a: ArchiveState): void {
    this.store.archives.delete(a.name);
    this.store.dropArchive(a.name);
    this.store.save();
  }

  startReplay(input: { ReplayName: string; Description?: string; EventSourceArn: string; EventStartTime: unknown; EventEndTime: unknown; Destination?: { Arn?: string; FilterArns?: string[] } }): ReplayState {
    const name = String(input.ReplayName ?? '');
    if (!/^[.\-_A-Za-z0-9]{1,64}$/.test(name)) throw new AwsError('ValidationException', `Replay name ${name} is not valid.`);
    if (this.store.replays.has(name)) throw new AwsError('ResourceAlreadyExistsException', `Replay ${name} already exists.`);
    const archive = this.getArchive(input.EventSourceArn);
    const start = toMillis(input.EventStartTime);
    const end = toMillis(input.EventEndTime);
    if (start === undefined || end === undefined) throw new AwsError('ValidationException', 'EventStartTime and EventEndTime are required.');
    if (start >= end) throw new AwsError('ValidationException', 'EventStartTime must be before EventEndTime.');
    if (end > this.kernel.clock.now() + 1000) throw new AwsError('ValidationException', 'EventEndTime must not be in the future.');
    const destination = input.Destination;
    if (!destination?.Arn) throw new AwsError('ValidationException', 'Destination.Arn is required.');
    if (destination.Arn !== archive.sourceArn) throw new AwsError('ValidationException', `Destination ${destination.Arn} must be the event bus the archive ${archive.name} comes from (${archive.sourceArn}).`);
    const bus = this.requireBus(destination.Arn);
    for (const f of destination.FilterArns ?? []) {
      const rule = this.getRule(f);
      if (rule.bus !== bus) throw new AwsError('ValidationException', `FilterArn ${f} is not a rule of ${destination.Arn}.`);
    }
    const replay: ReplayState = {
      name,
      arn: arn('events', `replay/${name}`, this.region),
      description: input.Description,
      archiveArn: archive.arn,
      destination: { Arn: destination.Arn, ...(destination.FilterArns?.length ? { FilterArns: [...destination.FilterArns] } : {}) },
      eventStartTime: start,
      eventEndTime: end,
      state: 'STARTING',
      replayStartTime: this.kernel.clock.now(),
      replayedCount: 0,
    };
    this.store.replays.set(name, replay);
    this.store.save();
    this.track(this.runReplay(replay, archive, bus));
    return replay;
  }

  private async runReplay(replay: ReplayState, archive: ArchiveState, bus: string): Promise<void> {
    await new Promise((r) => setImmediate(r));
    replay.state = 'RUNNING';
    this.store.save();
    // The window applies to when the archive received the event, which is what it indexes by.
    for (const { ingestedAt, event } of this.archivedEvents(archive)) {
      if (ingestedAt < replay.eventStartTime || ingestedAt >= replay.eventEndTime) continue;
      if ((replay.state as string) === 'CANCELLED') return;
      this.ingest(bus, event, { replayName: replay.name, filterArns: replay.destination.FilterArns });
      replay.replayedCount++;
      replay.eventLastReplayedTime = ingestedAt;
    }
    replay.state = 'COMPLETED';
    replay.replayEndTime = this.kernel.clock.now();
    this.store.save();
  }

  getReplay(name: string): ReplayState {
    const r = this.store.replays.get(String(name ?? ''));
    if (!r) throw new AwsError('ResourceNotFoundException', `Replay ${name} does not exist.`);
    return r;
  }

  // ---- schedules ---------------------------------------------------------------------

  scheduleArn(group: string, name: string): string {
    return arn('scheduler', `schedule/${group}/${name}`, this.region);
  }

  putSchedule(s: ScheduleState): void {
    const key = `${s.group}/${s.name}`;
    const existing = this.store.schedules.get(key);
    if (existing && existing.expression === s.expression) {
      s.createdAt = existing.createdAt;
      s.lastFire = existing.lastFire;
    }
    this.schedules.delete(key);
    this.store.schedules.set(key, s);
    this.store.save();
  }

  private parsed(key: string, expression: string, allowAt: boolean): Schedule {
    let s = this.schedules.get(key);
    if (!s || s.expression !== expression) {
      s = parseScheduleExpression(expression, allowAt);
      this.schedules.set(key, s);
    }
    return s;
  }

  /** Starts the real-time tick and listens to clock jumps. */
  start(): void {
    this.stopped = false;
    const now = this.kernel.clock.now();
    // Occurrences missed while stopped are not fired; the persisted cursor prevents refiring.
    for (const r of this.store.rules.values()) if (r.scheduleExpression) r.lastFire = Math.max(r.lastFire ?? r.createdAt, now);
    for (const s of this.store.schedules.values()) s.lastFire = Math.max(s.lastFire ?? s.createdAt, now);
    this.store.save();
    this.unsubscribe = this.kernel.clock.onAdvance((t) => this.fireDue(t));
    const tick = this.options.tickMs ?? 1000;
    if (tick > 0) {
      this.timer = setInterval(() => void this.fireDue(this.kernel.clock.now()).catch((err) => console.error('[events] schedule tick failed:', err)), tick);
      this.timer.unref();
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.unsubscribe?.();
    await this.idle();
    this.store.save();
  }

  private firing = Promise.resolve();

  /** Fires every occurrence due by `now` (serialized, so a tick and a jump never double-fire). */
  fireDue(now: number): Promise<void> {
    this.firing = this.firing.then(() => this.fireDueNow(now)).catch((err) => console.error('[events] firing schedules failed:', err));
    return this.firing;
  }

  private fireDueNow(now: number): void {
    let changed = false;
    for (const rule of this.store.rules.values()) {
      if (!rule.scheduleExpression) continue;
      const sched = this.parsed(`rule:${rule.arn}`, rule.scheduleExpression, false);
      const cursor = rule.lastFire ?? rule.createdAt;
      const due = this.dueTimes(sched, cursor, now, rule.createdAt);
      if (!due.length) continue;
      rule.lastFire = due.last;
      changed = true;
      if (rule.state !== 'ENABLED') continue;
      for (const at of due.times) {
        const event = { version: '0', id: randomUUID(), 'detail-type': 'Scheduled Event', source: 'aws.events', account: ACCOUNT_ID, time: isoSeconds(at), region: this.region, resources: [rule.arn], detail: {} };
        for (const target of rule.targets) this.deliverRuleTarget(rule, target, event, at);
      }
    }
    for (const [key, s] of this.store.schedules) {
      const sched = this.parsed(`schedule:${key}`, s.expression, true);
      const anchor = s.startDate ?? s.createdAt;
      const cursor = Math.max(s.lastFire ?? s.createdAt, s.startDate !== undefined ? s.startDate - 1 : -Infinity);
      const limit = s.endDate !== undefined ? Math.min(now, s.endDate) : now;
      const due = this.dueTimes(sched, cursor, limit, anchor);
      if (!due.length) continue;
      s.lastFire = due.last;
      changed = true;
      if (s.state === 'ENABLED') for (const at of due.times) this.deliverSchedule(s, at);
      if (sched.kind === 'at' && s.actionAfterCompletion === 'DELETE') this.store.schedules.delete(key);
    }
    if (changed) this.store.save();
  }

  private dueTimes(sched: Schedule, cursor: number, now: number, anchor: number): { times: number[]; last: number; length: number } {
    const times: number[] = [];
    let last = cursor;
    let t = sched.next(cursor, anchor);
    while (t !== undefined && t <= now) {
      if (times.length < this.maxCatchUp) times.push(t);
      last = t;
      // Past the cap only the cursor moves; a rate schedule jumps straight to the last due occurrence.
      if (times.length >= this.maxCatchUp && sched.kind === 'rate') {
        const step = (sched.next(t, anchor) as number) - t;
        last = t + Math.floor((now - t) / step) * step;
        break;
      }
      t = sched.next(t, anchor);
    }
    return { times, last, length: times.length };
  }

  private deliverSchedule(s: ScheduleState, at: number): void {
    let kind: TargetKind;
    try {
      kind = targetKind(s.target.Arn, s.name);
    } catch (err) {
      console.error(`[events] schedule ${s.name}: ${errorOf(err).message}`);
      return;
    }
    const payload = s.target.Input ?? '{}';
    const executionId = randomUUID();
    this.track(
      this.attempt(
        {
          kind,
          targetArn: s.target.Arn,
          payload,
          maxRetries: s.target.RetryPolicy?.MaximumRetryAttempts ?? 185,
          maxAgeSeconds: s.target.RetryPolicy?.MaximumEventAgeInSeconds ?? 86400,
          dlqArn: s.target.DeadLetterConfig?.Arn,
          dlqBody: payload,
          since: at,
          dlqAttributes: (err, retries, exhausted) => ({
            ERROR_CODE: err.code,
            ERROR_MESSAGE: err.message,
            EXECUTION_ID: executionId,
            IS_PAYLOAD_TRUNCATED: 'false',
            RETRY_ATTEMPTS: String(retries),
            SCHEDULED_TIME: isoSeconds(at),
            SCHEDULE_ARN: s.arn,
            TARGET_ARN: s.target.Arn,
            ...(exhausted ? { EXHAUSTED_RETRY_CONDITION: exhausted } : {}),
          }),
        },
        0,
      ),
    );
  }
}
