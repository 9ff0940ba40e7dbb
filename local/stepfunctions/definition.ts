/**
 * Compiles an Amazon States Language definition for the local runtime: validates it with
 * asl-validator, refuses by state name every feature aws-local-stepfunctions cannot run
 * faithfully, and rewrites it into the "runnable" form the runner hands to the library
 * (Task retries, timeouts and Wait states are run by this service on the local clock).
 */
import { createRequire } from 'node:module';
import { AwsError } from '../core/aws.js';
import { parseSimplePath } from './util.js';

const require = createRequire(import.meta.url);
type AslValidator = (definition: unknown, options?: { checkPaths?: boolean; checkArn?: boolean }) => { isValid: boolean; errorsText: (sep?: string) => string };
const aslValidator = require('asl-validator') as AslValidator;

/** Placeholder written at deploy where a definition references `$$.Task.Token`; the task fills in a fresh token. */
export const TASK_TOKEN_PLACEHOLDER = '__converge_task_token_placeholder__';
/** Resource of the Task states that stand in for Wait states. */
const WAIT_RESOURCE = 'arn:aws:states:us-east-1:000000000000:activity:converge-local-wait';
/** A task timeout the library keeps below setTimeout's 2^31 ms limit; real timeouts are ours. */
const LIBRARY_TASK_TIMEOUT_SECONDS = 2_000_000;

/** One retrier of a `Retry` field. */
export interface Retrier {
  readonly ErrorEquals: string[];
  readonly IntervalSeconds?: number;
  readonly MaxAttempts?: number;
  readonly BackoffRate?: number;
  readonly MaxDelaySeconds?: number;
  readonly JitterStrategy?: 'FULL' | 'NONE';
}

/** The integration a Task state calls. */
export interface TaskSpec {
  readonly resource: string;
  /** `lambda-arn` is a bare function ARN as Resource (the legacy form: output is the payload). */
  readonly kind: 'lambda-invoke' | 'lambda-arn' | 'dynamodb' | 'events' | 'sqs';
  /** The API action, e.g. `invoke`, `putItem`, `putEvents`, `sendMessage`. */
  readonly action: string;
  readonly waitForTaskToken: boolean;
  /** `resourceType`/`resource` as history events show them, e.g. `lambda` / `invoke.waitForTaskToken`. */
  readonly resourceType: string;
  readonly resourceName: string;
  readonly timeoutSeconds?: number;
  readonly timeoutSecondsPath?: string;
  readonly heartbeatSeconds?: number;
  readonly heartbeatSecondsPath?: string;
  readonly retry: readonly Retrier[];
}

/** What the runner knows about one state (names are unique across the whole machine). */
export interface StateInfo {
  readonly name: string;
  /** The type in the original definition (a Wait stays `Wait` though it runs as a Task). */
  readonly type: string;
  readonly topLevel: boolean;
  readonly definition: Record<string, any>;
  readonly task?: TaskSpec;
}

/** A definition ready to run. */
export interface CompiledDefinition {
  readonly text: string;
  readonly definition: Record<string, any>;
  readonly runnable: Record<string, any>;
  readonly states: ReadonlyMap<string, StateInfo>;
  readonly timeoutSeconds?: number;
}

function invalid(message: string): AwsError {
  return new AwsError('InvalidDefinition', `Invalid State Machine Definition: ${message}`);
}

const DYNAMO_ACTIONS = new Set(['putItem', 'getItem', 'updateItem', 'deleteItem']);

/** Parses a Task `Resource`; throws naming the state when it is not supported locally. */
export function parseResource(stateName: string, resource: unknown): Omit<TaskSpec, 'timeoutSeconds' | 'timeoutSecondsPath' | 'heartbeatSeconds' | 'heartbeatSecondsPath' | 'retry'> {
  if (typeof resource !== 'string') throw invalid(`state '${stateName}': Resource must be a string`);
  if (/^arn:aws[\w-]*:lambda:[^:]+:\d{12}:function:[^:]+(:[^:]+)?$/.test(resource)) {
    return { resource, kind: 'lambda-arn', action: 'invoke', waitForTaskToken: false, resourceType: 'lambda', resourceName: resource };
  }
  const m = /^arn:aws[\w-]*:states:[^:]*:[^:]*:([a-z0-9-]+):([A-Za-z0-9]+)(\.waitForTaskToken|\.sync(?::2)?)?$/.exec(resource);
  if (m) {
    const [, service, action, pattern] = m;
    const wait = pattern === '.waitForTaskToken';
    if (pattern && !wait) throw invalid(`state '${stateName}': the local cloud does not support the ${pattern} integration pattern (${resource})`);
    let kind: TaskSpec['kind'] | undefined;
    if (service === 'lambda' && action === 'invoke') kind = 'lambda-invoke';
    else if (service === 'dynamodb' && DYNAMO_ACTIONS.has(action) && !wait) kind = 'dynamodb';
    else if (service === 'events' && action === 'putEvents') kind = 'events';
    else if (service === 'sqs' && action === 'sendMessage') kind = 'sqs';
    if (kind) return { resource, kind, action, waitForTaskToken: wait, resourceType: service, resourceName: wait ? `${action}.waitForTaskToken` : action };
  }
  throw invalid(`state '${stateName}': unsupported Task Resource '${resource}' (the local cloud runs lambda:invoke, Lambda function ARNs, dynamodb:putItem/getItem/updateItem/deleteItem, events:putEvents and sqs:sendMessage, with .waitForTaskToken for lambda, events and sqs)`);
}

function quoteIntrinsic(s: string): string {
  return `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/**
 * Rewrites the context references the library cannot resolve in a payload template:
 * `$$.State.Name` becomes the literal name, and (for callback tasks) `$$.Task.Token` the placeholder.
 */
function rewriteTemplate(template: unknown, stateName: string, allowToken: boolean): unknown {
  if (Array.isArray(template)) return template.map((v) => rewriteTemplate(v, stateName, allowToken));
  if (!template || typeof template !== 'object') return template;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(template)) {
    if (key.endsWith('.$') && typeof value === 'string') {
      const bare = key.slice(0, -2);
      if (value === '$$.State.Name') {
        out[bare] = stateName;
        continue;
      }
      if (allowToken && value === '$$.Task.Token') {
        out[bare] = TASK_TOKEN_PLACEHOLDER;
        continue;
      }
      if (!value.startsWith('$')) {
        let v = value.split('$$.State.Name').join(quoteIntrinsic(stateName));
        if (allowToken) v = v.split('$$.Task.Token').join(quoteIntrinsic(TASK_TOKEN_PLACEHOLDER));
        out[key] = v;
        continue;
      }
      out[key] = value;
      continue;
    }
    out[key] = rewriteTemplate(value, stateName, allowToken);
  }
  return out;
}

/** Fields that only exist with JSONata or Variables. */
const JSONATA_FIELDS = ['Arguments', 'Output'];

interface Walk {
  readonly states: Map<string, StateInfo>;
}

function compileMachine(machine: Record<string, any>, where: string, topLevel: boolean, walk: Walk, inheritedLanguage: string): Record<string, any> {
  const language = machine.QueryLanguage ?? inheritedLanguage;
  if (language === 'JSONata') throw invalid(`${where}: QueryLanguage JSONata is not supported by the local cloud (aws-local-stepfunctions runs JSONPath only)`);
  if (!machine.States || typeof machine.States !== 'object') throw invalid(`${where}: missing States`);
  const runnable: Record<string, any> = { ...machine, States: {} };
  delete runnable.QueryLanguage;
  for (const [name, raw] of Object.entries<Record<string, any>>(machine.States)) {
    if (!raw || typeof raw !== 'object') throw invalid(`state '${name}' is not an object`);
    if (walk.states.has(name)) throw invalid(`state name '${name}' is used more than once (state names must be unique across the state machine)`);
    const state = raw;
    if ((state.QueryLanguage ?? language) === 'JSONata') throw invalid(`state '${name}': QueryLanguage JSONata is not supported by the local cloud`);
    if ('Assign' in state) throw invalid(`state '${name}': Assign (workflow variables) is not supported by the local cloud`);
    for (const f of JSONATA_FIELDS) if (f in state) throw invalid(`state '${name}': the JSONata field ${f} is not supported by the local cloud`);
    if ('Credentials' in state) throw invalid(`state '${name}': Credentials (cross-account tasks) is not supported by the local cloud`);
    const Catch = Array.isArray(state.Catch) ? state.Catch : [];
    for (const c of [...Catch, ...(Array.isArray(state.Retry) ? state.Retry : [])]) {
      if (c && 'Assign' in c) throw invalid(`state '${name}': Assign in Retry/Catch is not supported by the local cloud`);
    }
    let out: Record<string, any> = { ...state };
    delete out.QueryLanguage;
    let task: TaskSpec | undefined;
    switch (state.Type) {
      case 'Task': {
        const parsed = parseResource(name, state.Resource);
        const retry = Array.isArray(state.Retry) ? (state.Retry as Retrier[]) : [];
        task = {
          ...parsed,
          timeoutSeconds: state.TimeoutSeconds,
          timeoutSecondsPath: state.TimeoutSecondsPath,
          heartbeatSeconds: state.HeartbeatSeconds,
          heartbeatSecondsPath: state.HeartbeatSecondsPath,
          retry,
        };
        for (const p of [state.TimeoutSecondsPath, state.HeartbeatSecondsPath]) {
          if (p !== undefined && !parseSimplePath(p)) throw invalid(`state '${name}': only simple reference paths are supported in TimeoutSecondsPath/HeartbeatSecondsPath, got '${p}'`);
        }
        if ('Parameters' in state) out.Parameters = rewriteTemplate(state.Parameters, name, parsed.waitForTaskToken);
        // Retries and timeouts run in this service, on the local clock; the library only sees one attempt.
        delete out.Retry;
        delete out.TimeoutSecondsPath;
        delete out.HeartbeatSeconds;
        delete out.HeartbeatSecondsPath;
        out.TimeoutSeconds = LIBRARY_TASK_TIMEOUT_SECONDS;
        break;
      }
      case 'Wait': {
        for (const p of [state.SecondsPath, state.TimestampPath]) {
          if (p !== undefined && !parseSimplePath(p)) throw invalid(`state '${name}': only simple reference paths are supported in SecondsPath/TimestampPath, got '${p}'`);
        }
        // A Wait runs as a Task whose local handler sleeps on the controllable clock.
        out = { Type: 'Task', Resource: WAIT_RESOURCE, TimeoutSeconds: LIBRARY_TASK_TIMEOUT_SECONDS };
        for (const k of ['Comment', 'InputPath', 'OutputPath', 'Next', 'End']) if (k in state) out[k] = state[k];
        break;
      }
      case 'Parallel': {
        if (!Array.isArray(state.Branches)) throw invalid(`state '${name}': Branches must be an array`);
        out.Branches = state.Branches.map((b: Record<string, any>, i: number) => compileMachine(b, `state '${name}' branch ${i}`, false, walk, language));
        if ('Parameters' in state) out.Parameters = rewriteTemplate(state.Parameters, name, false);
        break;
      }
      case 'Map': {
        for (const f of ['ItemReader', 'ItemBatcher', 'ResultWriter', 'ToleratedFailureCount', 'ToleratedFailureCountPath', 'ToleratedFailurePercentage', 'ToleratedFailurePercentagePath', 'Label']) {
          if (f in state) throw invalid(`state '${name}': Map ${f} (Distributed Map) is not supported by the local cloud; use an inline Map`);
        }
        const processor = state.ItemProcessor ?? state.Iterator;
        if (!processor || typeof processor !== 'object') throw invalid(`state '${name}': Map needs an ItemProcessor`);
        if (processor.ProcessorConfig?.Mode === 'DISTRIBUTED') throw invalid(`state '${name}': ProcessorConfig.Mode DISTRIBUTED (Distributed Map) is not supported by the local cloud; use INLINE`);
        if (processor.ProcessorConfig?.Mode !== undefined && processor.ProcessorConfig.Mode !== 'INLINE') throw invalid(`state '${name}': unknown ProcessorConfig.Mode '${processor.ProcessorConfig.Mode}'`);
        const { ProcessorConfig: _pc, ...inner } = processor;
        const compiled = compileMachine(inner, `state '${name}' ItemProcessor`, false, walk, language);
        delete out.Iterator;
        out.ItemProcessor = compiled;
        for (const f of ['ItemSelector', 'Parameters']) if (f in state) out[f] = rewriteTemplate(state[f], name, false);
        break;
      }
      case 'Pass':
        if ('Parameters' in state) out.Parameters = rewriteTemplate(state.Parameters, name, false);
        break;
      case 'Choice':
      case 'Succeed':
      case 'Fail':
        break;
      default:
        throw invalid(`state '${name}': unknown state Type '${String(state.Type)}'`);
    }
    if ('ResultSelector' in state) out.ResultSelector = rewriteTemplate(state.ResultSelector, name, false);
    // Anything still pointing at the parts of the context object the library lacks is refused.
    const own = { ...out, Branches: undefined, ItemProcessor: undefined };
    const leftover = /\$\$\.(Task\.Token|Task|State\.[A-Za-z]+)/.exec(JSON.stringify(own));
    if (leftover) throw invalid(`state '${name}': the context reference $$.${leftover[1]} is not supported here by the local cloud (only $$.State.Name anywhere, and $$.Task.Token in the Parameters of a .waitForTaskToken task)`);
    walk.states.set(name, { name, type: state.Type, topLevel, definition: state, task });
    runnable.States[name] = out;
  }
  return runnable;
}

/** Validates and compiles a definition; throws `InvalidDefinition` naming the offending state. */
export function compileDefinition(text: string): CompiledDefinition {
  let definition: Record<string, any>;
  try {
    definition = JSON.parse(text);
  } catch (err) {
    throw invalid(`the definition is not valid JSON (${(err as Error).message})`);
  }
  if (!definition || typeof definition !== 'object' || Array.isArray(definition)) throw invalid('the definition must be a JSON object');
  const walk: Walk = { states: new Map() };
  // Our own refusals first: they name the state and the feature, which the schema errors don't.
  const runnable = compileMachine(definition, 'the state machine', true, walk, 'JSONPath');
  // asl-validator annotates what it validates, so it gets its own copy.
  const result = aslValidator(structuredClone(definition), { checkArn: true, checkPaths: true });
  if (!result.isValid) throw invalid(result.errorsText('; '));
  const timeoutSeconds = typeof definition.TimeoutSeconds === 'number' ? definition.TimeoutSeconds : undefined;
  // The execution timeout runs on the local clock, not on the library's timer.
  delete runnable.TimeoutSeconds;
  return { text, definition, runnable, states: walk.states, timeoutSeconds };
}
