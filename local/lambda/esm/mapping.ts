/**
 * Event-source mapping definitions (`AWS::Lambda::EventSourceMapping`) for DynamoDB streams,
 * validated with Lambda's documented ranges. Other sources and unsupported features are refused by name.
 */
import { AwsError, arn, type ProvisionRequest } from '../../core/aws.js';
import { parsePattern } from '../../events/pattern.js';
import { invalidParameter, refuseUnknownProperties } from '../functions.js';

/** A DynamoDB-stream mapping as the poller runs it. */
export interface MappingConfig {
  readonly uuid: string;
  readonly stackName: string;
  readonly logicalId: string;
  readonly eventSourceArn: string;
  /** Physical name of the target function. */
  readonly functionName: string;
  readonly functionArn: string;
  readonly batchSize: number;
  /** Batches of the shard processed at once, each item's records always in one of them. @default 1 */
  readonly parallelizationFactor?: number;
  readonly maximumBatchingWindowInSeconds: number;
  readonly startingPosition: 'TRIM_HORIZON' | 'LATEST';
  readonly enabled: boolean;
  readonly bisectBatchOnFunctionError: boolean;
  /** -1: until the record expires. */
  readonly maximumRetryAttempts: number;
  /** -1: no age limit. */
  readonly maximumRecordAgeInSeconds: number;
  readonly functionResponseTypes: readonly string[];
  /** FilterCriteria.Filters[].Pattern, as given (JSON strings). */
  readonly filterPatterns: readonly string[];
  readonly onFailure?: string;
  readonly lastModified: number;
}

const PROPERTIES = new Set([
  'EventSourceArn', 'FunctionName', 'BatchSize', 'MaximumBatchingWindowInSeconds', 'StartingPosition', 'StartingPositionTimestamp',
  'Enabled', 'BisectBatchOnFunctionError', 'MaximumRetryAttempts', 'MaximumRecordAgeInSeconds', 'ParallelizationFactor',
  'TumblingWindowInSeconds', 'FunctionResponseTypes', 'FilterCriteria', 'DestinationConfig', 'Tags', 'KmsKeyArn', 'MetricsConfig',
]);

const STREAM_ARN = /^arn:aws[a-z-]*:dynamodb:[^:]*:\d{12}:table\/[^/]+\/stream\/.+$/;

/** `arn:aws:lambda:<region>:<account>:event-source-mapping:<uuid>`. */
export function mappingArn(uuid: string, region: string): string {
  return arn('lambda', `event-source-mapping:${uuid}`, region);
}

function int(value: unknown, name: string, min: number, max: number, fallback: number): number {
  if (value === undefined || value === null) return fallback;
  const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max) throw invalidParameter(`${name} must be an integer between ${min} and ${max}, got ${JSON.stringify(value)}`);
  return n;
}

function bool(value: unknown, name: string, fallback: boolean): boolean {
  if (value === undefined || value === null) return fallback;
  if (value === true || value === 'true') return true;
  if (value === false || value === 'false') return false;
  throw invalidParameter(`${name} must be a boolean, got ${JSON.stringify(value)}`);
}

/**
 * Validates a mapping's resolved properties.
 * @param resolveFunction maps FunctionName (name or ARN) to the deployed function, or throws ResourceNotFoundException
 */
export function parseMapping(
  req: ProvisionRequest,
  uuid: string,
  resolveFunction: (ref: string) => { name: string; arn: string },
): MappingConfig {
  const p = req.properties;
  const where = `${req.logicalId} (AWS::Lambda::EventSourceMapping)`;
  refuseUnknownProperties(req, PROPERTIES);
  const source = p.EventSourceArn;
  if (typeof source !== 'string') throw invalidParameter(`${where}: EventSourceArn is required (the local cloud supports DynamoDB streams only)`);
  if (!STREAM_ARN.test(source)) {
    const kind = source.split(':')[2] ?? 'unknown';
    throw invalidParameter(`${where}: event source ${source} (${kind}) is not supported by the local cloud: only DynamoDB streams`);
  }
  if (typeof p.FunctionName !== 'string') throw invalidParameter(`${where}: FunctionName is required`);
  const fn = resolveFunction(p.FunctionName);

  if (p.StartingPosition === undefined) throw invalidParameter(`${where}: StartingPosition is required for a DynamoDB stream`);
  if (p.StartingPosition !== 'TRIM_HORIZON' && p.StartingPosition !== 'LATEST') {
    throw invalidParameter(`${where}: StartingPosition ${p.StartingPosition} is not valid for a DynamoDB stream (TRIM_HORIZON or LATEST)`);
  }
  if (p.StartingPositionTimestamp !== undefined) throw invalidParameter(`${where}: StartingPositionTimestamp is not valid for a DynamoDB stream`);
  if (p.TumblingWindowInSeconds !== undefined && Number(p.TumblingWindowInSeconds) !== 0) {
    throw invalidParameter(`${where}: TumblingWindowInSeconds is not supported by the local cloud`);
  }
  const parallelization = int(p.ParallelizationFactor, `${where}: ParallelizationFactor`, 1, 10, 1);

  const responseTypes: string[] = p.FunctionResponseTypes ?? [];
  if (!Array.isArray(responseTypes)) throw invalidParameter(`${where}: FunctionResponseTypes must be a list`);
  for (const t of responseTypes) if (t !== 'ReportBatchItemFailures') throw invalidParameter(`${where}: FunctionResponseTypes value ${JSON.stringify(t)} is not valid (ReportBatchItemFailures)`);

  const filters: unknown[] = p.FilterCriteria?.Filters ?? [];
  if (!Array.isArray(filters)) throw invalidParameter(`${where}: FilterCriteria.Filters must be a list`);
  if (filters.length > 5) throw invalidParameter(`${where}: FilterCriteria allows at most 5 filters`);
  const filterPatterns = filters.map((f, i) => {
    const pattern = (f as { Pattern?: unknown })?.Pattern;
    if (typeof pattern !== 'string') throw invalidParameter(`${where}: FilterCriteria.Filters[${i}].Pattern must be a JSON string`);
    try {
      parsePattern(pattern);
    } catch (err) {
      throw invalidParameter(`${where}: Invalid filter pattern definition. ${err instanceof AwsError ? err.message : String(err)}`);
    }
    return pattern;
  });

  for (const key of Object.keys(p.DestinationConfig ?? {})) {
    if (key !== 'OnFailure') throw invalidParameter(`${where}: DestinationConfig.${key} is not supported for a DynamoDB stream`);
  }
  const onFailure = p.DestinationConfig?.OnFailure?.Destination;
  if (onFailure !== undefined && (typeof onFailure !== 'string' || !onFailure.startsWith('arn:aws:sqs:'))) {
    throw invalidParameter(`${where}: on-failure destination ${JSON.stringify(onFailure)} is not supported by the local cloud (SQS queues only)`);
  }

  const maxAge = int(p.MaximumRecordAgeInSeconds, `${where}: MaximumRecordAgeInSeconds`, -1, 604800, -1);
  if (maxAge !== -1 && maxAge < 60) throw invalidParameter(`${where}: MaximumRecordAgeInSeconds must be -1 or between 60 and 604800, got ${maxAge}`);

  return {
    uuid,
    stackName: req.stackName,
    logicalId: req.logicalId,
    eventSourceArn: source,
    functionName: fn.name,
    functionArn: fn.arn,
    batchSize: int(p.BatchSize, `${where}: BatchSize`, 1, 10000, 100),
    parallelizationFactor: parallelization,
    maximumBatchingWindowInSeconds: int(p.MaximumBatchingWindowInSeconds, `${where}: MaximumBatchingWindowInSeconds`, 0, 300, 0),
    startingPosition: p.StartingPosition,
    enabled: bool(p.Enabled, `${where}: Enabled`, true),
    bisectBatchOnFunctionError: bool(p.BisectBatchOnFunctionError, `${where}: BisectBatchOnFunctionError`, false),
    maximumRetryAttempts: int(p.MaximumRetryAttempts, `${where}: MaximumRetryAttempts`, -1, 10000, -1),
    maximumRecordAgeInSeconds: maxAge,
    functionResponseTypes: responseTypes,
    filterPatterns,
    onFailure,
    lastModified: Date.now(),
  };
}

/** The EventSourceMappingConfiguration shape of the Lambda API. */
export function describeMapping(m: MappingConfig, region: string, state: string): Record<string, unknown> {
  return {
    UUID: m.uuid,
    EventSourceMappingArn: mappingArn(m.uuid, region),
    StartingPosition: m.startingPosition,
    BatchSize: m.batchSize,
    MaximumBatchingWindowInSeconds: m.maximumBatchingWindowInSeconds,
    ParallelizationFactor: m.parallelizationFactor ?? 1,
    EventSourceArn: m.eventSourceArn,
    FunctionArn: m.functionArn,
    LastModified: m.lastModified / 1000,
    LastProcessingResult: 'No records processed',
    State: state,
    StateTransitionReason: 'User action',
    DestinationConfig: { OnFailure: m.onFailure ? { Destination: m.onFailure } : {} },
    ...(m.filterPatterns.length ? { FilterCriteria: { Filters: m.filterPatterns.map((Pattern) => ({ Pattern })) } } : {}),
    MaximumRecordAgeInSeconds: m.maximumRecordAgeInSeconds,
    BisectBatchOnFunctionError: m.bisectBatchOnFunctionError,
    MaximumRetryAttempts: m.maximumRetryAttempts,
    FunctionResponseTypes: [...m.functionResponseTypes],
  };
}
