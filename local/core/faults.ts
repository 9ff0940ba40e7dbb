/**
 * Fault plans: a declared list of faults the local cloud injects into calls, per function,
 * state, table or service. Given the same plan and seed, the same calls fail the same way.
 */
import { z } from 'zod';

/** The kinds of fault a rule can inject. */
export const FaultKind = z.enum(['error', 'timeout', 'throttle', 'latency', 'duplicate', 'reorder']);
export type FaultKind = z.infer<typeof FaultKind>;

/** One rule of a plan. Name filters are globs (`*` matches any run of characters). */
export const FaultRule = z
  .object({
    /** Optional label, reported in stats. */
    id: z.string().optional(),
    /** Service the call goes to. @default any */
    service: z.enum(['lambda', 'dynamodb', 'streams', 'states', 'events', 'sqs']).optional(),
    /** Function name or logical id glob (Lambda invocations, including those by Step Functions and stream mappings). */
    function: z.string().optional(),
    /** State name glob (a Step Functions Task state). */
    state: z.string().optional(),
    /** Table name glob (DynamoDB calls and stream deliveries). */
    table: z.string().optional(),
    /** API operation glob, e.g. `PutItem`. */
    operation: z.string().optional(),
    kind: FaultKind,
    /** For `error`: the error name raised (becomes `errorType` / the SDK exception name). @default 'InjectedFault' */
    errorName: z.string().optional(),
    errorMessage: z.string().optional(),
    /** For `latency`: milliseconds added. @default 100 */
    latencyMs: z.number().int().nonnegative().optional(),
    /** Matching calls to let pass before the rule starts firing. @default 0 */
    after: z.number().int().nonnegative().optional(),
    /** Fire on at most this many matching calls. @default unlimited */
    times: z.number().int().positive().optional(),
    /** Probability of firing on a matching call, drawn from the plan's seeded generator. @default 1 */
    probability: z.number().min(0).max(1).optional(),
  })
  .strict();
export type FaultRule = z.infer<typeof FaultRule>;

type Service = NonNullable<FaultRule['service']>;

/** Which kinds of fault mean something at each service's call sites. */
export const KINDS_BY_SERVICE: Readonly<Record<Service, readonly FaultKind[]>> = {
  lambda: ['error', 'timeout', 'throttle', 'latency'],
  dynamodb: ['error', 'throttle', 'latency'],
  // A batch delivery: duplicate/reorder act on the batch; the others are passed to its invocation.
  streams: ['error', 'timeout', 'throttle', 'latency', 'duplicate', 'reorder'],
  states: ['error', 'timeout', 'throttle', 'latency'],
  events: ['error', 'latency', 'duplicate', 'reorder'],
  sqs: ['error', 'throttle', 'latency'],
};

/**
 * The services a rule applies to. A rule that names no service applies where its filters and
 * kind point: a `state` filter means Step Functions; a `function` filter means the invocation
 * (or, for duplicate/reorder, the stream batch delivered to it); a `table` filter means the
 * DynamoDB API (or its stream). So one rule is counted at exactly one call site per call.
 */
export function servicesOf(rule: FaultRule): readonly Service[] {
  if (rule.service) return [rule.service];
  const delivery = rule.kind === 'duplicate' || rule.kind === 'reorder';
  if (rule.state) return ['states'];
  if (rule.function) return [delivery ? 'streams' : 'lambda'];
  if (rule.table) return [delivery ? 'streams' : 'dynamodb'];
  return (Object.keys(KINDS_BY_SERVICE) as Service[]).filter((svc) => KINDS_BY_SERVICE[svc].includes(rule.kind));
}

/** A fault plan, as given in a JSON file to `npm start -- --faults FILE` or through the admin API. */
export const FaultPlan = z
  .object({ seed: z.number().int().optional(), rules: z.array(FaultRule) })
  .strict()
  .superRefine((plan, ctx) => {
    plan.rules.forEach((rule, i) => {
      // Refuse rules that could never fire, rather than carrying them silently.
      for (const svc of servicesOf(rule)) {
        if (!KINDS_BY_SERVICE[svc].includes(rule.kind)) {
          ctx.addIssue({ code: 'custom', path: ['rules', i, 'kind'], message: `fault kind '${rule.kind}' does not apply to service '${svc}' (it supports ${KINDS_BY_SERVICE[svc].join(', ')})` });
        }
      }
      if (rule.state && rule.service && rule.service !== 'states') {
        ctx.addIssue({ code: 'custom', path: ['rules', i, 'state'], message: `a state filter only applies to service 'states', not '${rule.service}'` });
      }
    });
  });
export type FaultPlan = z.infer<typeof FaultPlan>;

/** Where a call is going. `names` holds every name the target answers to (physical name, logical id...). */
export interface FaultSite {
  readonly service: NonNullable<FaultRule['service']>;
  readonly functionNames?: readonly string[];
  readonly stateName?: string;
  readonly tableName?: string;
  readonly operation?: string;
}

/** What a call must suffer. */
export interface FaultEffect {
  readonly rule: string;
  readonly kind: FaultKind;
  readonly errorName?: string;
  readonly errorMessage?: string;
  readonly latencyMs?: number;
}

function globToRegExp(glob: string): RegExp {
  const escaped = glob.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*');
  return new RegExp(`^${escaped}$`);
}

/** mulberry32: tiny, fast and deterministic; the same seed gives the same draws. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface RuleState {
  readonly rule: FaultRule;
  readonly label: string;
  matched: number;
  fired: number;
}

/** Evaluates a plan against calls and counts what fired. */
export class FaultInjector {
  private rules: RuleState[] = [];
  private random: () => number = seededRandom(0);

  constructor(plan?: FaultPlan) {
    this.load(plan ?? { rules: [] });
  }

  /** Replaces the plan (validated) and resets every counter and the generator. */
  load(plan: unknown): void {
    const parsed = FaultPlan.parse(plan);
    this.random = seededRandom(parsed.seed ?? 0);
    this.rules = parsed.rules.map((rule, i) => ({ rule, label: rule.id ?? `rule-${i}`, matched: 0, fired: 0 }));
  }

  /** Removes every rule. */
  clear(): void {
    this.load({ rules: [] });
  }

  /** The effects of every rule that fires for this call, in plan order. Counts the call. */
  decide(site: FaultSite): FaultEffect[] {
    const effects: FaultEffect[] = [];
    for (const state of this.rules) {
      if (!matches(state.rule, site)) continue;
      state.matched += 1;
      const { rule } = state;
      if (state.matched <= (rule.after ?? 0)) continue;
      if (rule.times !== undefined && state.fired >= rule.times) continue;
      if (rule.probability !== undefined && this.random() >= rule.probability) continue;
      state.fired += 1;
      effects.push({
        rule: state.label,
        kind: rule.kind,
        errorName: rule.kind === 'throttle' ? 'TooManyRequestsException' : (rule.errorName ?? (rule.kind === 'error' ? 'InjectedFault' : undefined)),
        errorMessage: rule.errorMessage ?? `fault injected by ${state.label}`,
        latencyMs: rule.kind === 'latency' ? (rule.latencyMs ?? 100) : undefined,
      });
    }
    return effects;
  }

  /** How often each rule matched and fired. */
  stats(): Array<{ rule: string; matched: number; fired: number }> {
    return this.rules.map((s) => ({ rule: s.label, matched: s.matched, fired: s.fired }));
  }
}

function matches(rule: FaultRule, site: FaultSite): boolean {
  if (!servicesOf(rule).includes(site.service)) return false;
  if (rule.function) {
    const re = globToRegExp(rule.function);
    if (!site.functionNames?.some((n) => re.test(n))) return false;
  }
  if (rule.state && !(site.stateName && globToRegExp(rule.state).test(site.stateName))) return false;
  if (rule.table && !(site.tableName && globToRegExp(rule.table).test(site.tableName))) return false;
  if (rule.operation && !(site.operation && globToRegExp(rule.operation).test(site.operation))) return false;
  return true;
}
