/**
 * The persistent state of the local EventBridge: buses, rules and targets, archives (an
 * append-only JSON-lines file each), replays, Scheduler schedules and their last fire times.
 */
import fs from 'node:fs';
import path from 'node:path';

/** A target of a rule, as PutTargets takes it. */
export interface TargetState {
  readonly Id: string;
  readonly Arn: string;
  readonly RoleArn?: string;
  readonly Input?: string;
  readonly InputPath?: string;
  readonly InputTransformer?: { readonly InputPathsMap?: Record<string, string>; readonly InputTemplate: string };
  readonly RetryPolicy?: { readonly MaximumRetryAttempts?: number; readonly MaximumEventAgeInSeconds?: number };
  readonly DeadLetterConfig?: { readonly Arn?: string };
  readonly SqsParameters?: { readonly MessageGroupId?: string };
}

/** An event bus. */
export interface BusState {
  name: string;
  arn: string;
  createdAt: number;
  description?: string;
  /** Policy statements recorded from AWS::Events::EventBusPolicy or the bus's Policy. */
  policy: Record<string, unknown>;
}

/** A rule with its targets. */
export interface RuleState {
  name: string;
  bus: string;
  arn: string;
  eventPattern?: string;
  scheduleExpression?: string;
  state: 'ENABLED' | 'DISABLED' | 'ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS';
  description?: string;
  roleArn?: string;
  targets: TargetState[];
  createdAt: number;
  /** Time of the last scheduled occurrence fired (schedule rules). */
  lastFire?: number;
}

/** An archive's settings (its events live in a JSON-lines file). */
export interface ArchiveState {
  name: string;
  arn: string;
  sourceArn: string;
  eventPattern?: string;
  retentionDays: number;
  description?: string;
  createdAt: number;
}

/** A replay. */
export interface ReplayState {
  name: string;
  arn: string;
  description?: string;
  archiveArn: string;
  destination: { Arn: string; FilterArns?: string[] };
  eventStartTime: number;
  eventEndTime: number;
  state: 'STARTING' | 'RUNNING' | 'COMPLETED' | 'FAILED' | 'CANCELLED';
  stateReason?: string;
  replayStartTime: number;
  replayEndTime?: number;
  eventLastReplayedTime?: number;
  replayedCount: number;
}

/** An EventBridge Scheduler schedule. */
export interface ScheduleState {
  name: string;
  group: string;
  arn: string;
  expression: string;
  timezone: string;
  flexibleTimeWindow: { Mode: 'OFF' | 'FLEXIBLE'; MaximumWindowInMinutes?: number };
  state: 'ENABLED' | 'DISABLED';
  startDate?: number;
  endDate?: number;
  description?: string;
  actionAfterCompletion: 'NONE' | 'DELETE';
  target: {
    Arn: string;
    RoleArn?: string;
    Input?: string;
    RetryPolicy?: { MaximumRetryAttempts?: number; MaximumEventAgeInSeconds?: number };
    DeadLetterConfig?: { Arn?: string };
  };
  createdAt: number;
  lastFire?: number;
}

/** One archived event. */
export interface ArchivedEvent {
  readonly ingestedAt: number;
  readonly event: Record<string, unknown>;
}

interface Snapshot {
  buses: BusState[];
  rules: RuleState[];
  archives: ArchiveState[];
  replays: ReplayState[];
  schedules: ScheduleState[];
  groups: Array<{ name: string; arn: string; createdAt: number }>;
}

/** Loads and saves the state under `<stateDir>/events/`. */
export class EventsStore {
  readonly buses = new Map<string, BusState>();
  /** Keyed by `${bus}/${name}`. */
  readonly rules = new Map<string, RuleState>();
  readonly archives = new Map<string, ArchiveState>();
  readonly replays = new Map<string, ReplayState>();
  /** Keyed by `${group}/${name}`. */
  readonly schedules = new Map<string, ScheduleState>();
  readonly groups = new Map<string, { name: string; arn: string; createdAt: number }>();
  private readonly dir: string;
  private readonly archiveCache = new Map<string, ArchivedEvent[]>();

  constructor(stateDir: string) {
    this.dir = path.join(stateDir, 'events');
    fs.mkdirSync(path.join(this.dir, 'archives'), { recursive: true });
    const file = path.join(this.dir, 'state.json');
    if (fs.existsSync(file)) {
      const snap = JSON.parse(fs.readFileSync(file, 'utf8')) as Partial<Snapshot>;
      for (const b of snap.buses ?? []) this.buses.set(b.name, b);
      for (const r of snap.rules ?? []) this.rules.set(`${r.bus}/${r.name}`, r);
      for (const a of snap.archives ?? []) this.archives.set(a.name, a);
      for (const r of snap.replays ?? []) this.replays.set(r.name, r);
      for (const s of snap.schedules ?? []) this.schedules.set(`${s.group}/${s.name}`, s);
      for (const g of snap.groups ?? []) this.groups.set(g.name, g);
    }
  }

  /** Writes the state atomically (write then rename), so a crash never leaves half a file. */
  save(): void {
    const snap: Snapshot = {
      buses: [...this.buses.values()],
      rules: [...this.rules.values()],
      archives: [...this.archives.values()],
      replays: [...this.replays.values()],
      schedules: [...this.schedules.values()],
      groups: [...this.groups.values()],
    };
    const file = path.join(this.dir, 'state.json');
    fs.writeFileSync(`${file}.tmp`, JSON.stringify(snap));
    fs.renameSync(`${file}.tmp`, file);
  }

  private archiveFile(name: string): string {
    return path.join(this.dir, 'archives', `${encodeURIComponent(name)}.jsonl`);
  }

  /** Every event of an archive, oldest first. */
  archived(name: string): ArchivedEvent[] {
    let events = this.archiveCache.get(name);
    if (!events) {
      const file = this.archiveFile(name);
      events = fs.existsSync(file)
        ? fs
            .readFileSync(file, 'utf8')
            .split('\n')
            .filter((l) => l.trim())
            .map((l) => JSON.parse(l) as ArchivedEvent)
        : [];
      this.archiveCache.set(name, events);
    }
    return events;
  }

  /** Appends an event to an archive (synchronously, so it is on disk when PutEvents returns). */
  appendArchived(name: string, entry: ArchivedEvent): void {
    this.archived(name).push(entry);
    fs.appendFileSync(this.archiveFile(name), `${JSON.stringify(entry)}\n`);
  }

  /** Drops events older than `cutoff` from an archive (retention). */
  prune(name: string, cutoff: number): void {
    const events = this.archived(name);
    const kept = events.filter((e) => e.ingestedAt >= cutoff);
    if (kept.length === events.length) return;
    this.archiveCache.set(name, kept);
    fs.writeFileSync(this.archiveFile(name), kept.map((e) => `${JSON.stringify(e)}\n`).join(''));
  }

  /** Deletes an archive's events. */
  dropArchive(name: string): void {
    this.archiveCache.delete(name);
    fs.rmSync(this.archiveFile(name), { force: true });
  }
}
