/**
 * Function definitions: how an `AWS::Lambda::Function` of the template becomes a local function
 * configuration, with the checks Lambda itself makes (runtime, handler, reserved variables,
 * limits). Anything the local runtime cannot honour is refused by name.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { AwsError, arn, type ProvisionRequest } from '../core/aws.js';

/** Concurrency a function gets when it sets no ReservedConcurrentExecutions. */
export const DEFAULT_CONCURRENCY = 10;

/** A function as the local runtime runs it. */
export interface FunctionConfig {
  readonly name: string;
  readonly arn: string;
  readonly stackName: string;
  readonly logicalId: string;
  readonly runtime: string;
  readonly handler: string;
  /** Directory holding the (unpacked, bundled) code. */
  readonly codeDir: string;
  readonly codeSha256: string;
  readonly timeoutSeconds: number;
  readonly memorySize: number;
  readonly environment: Readonly<Record<string, string>>;
  /** undefined when the function uses the unreserved pool. */
  readonly reservedConcurrency?: number;
  readonly deadLetterTargetArn?: string;
  readonly role?: string;
  readonly description: string;
  readonly logGroup: string;
  readonly logFormat: string;
  readonly architectures: readonly string[];
  readonly tracingMode: string;
  readonly lastModified: string;
}

/** Asynchronous-invocation settings (AWS::Lambda::EventInvokeConfig). */
export interface InvokeConfig {
  readonly id: string;
  readonly functionName: string;
  readonly maximumRetryAttempts: number;
  readonly maximumEventAgeInSeconds: number;
  readonly onFailure?: string;
  readonly onSuccess?: string;
}

/** Variables Lambda sets itself and refuses in a function's Environment. */
export const RESERVED_ENV = new Set([
  '_HANDLER', '_X_AMZN_TRACE_ID', 'AWS_DEFAULT_REGION', 'AWS_REGION', 'AWS_EXECUTION_ENV', 'AWS_LAMBDA_FUNCTION_NAME',
  'AWS_LAMBDA_FUNCTION_MEMORY_SIZE', 'AWS_LAMBDA_FUNCTION_VERSION', 'AWS_LAMBDA_INITIALIZATION_TYPE', 'AWS_LAMBDA_LOG_GROUP_NAME',
  'AWS_LAMBDA_LOG_STREAM_NAME', 'AWS_ACCESS_KEY', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN',
  'AWS_LAMBDA_RUNTIME_API', 'LAMBDA_TASK_ROOT', 'LAMBDA_RUNTIME_DIR',
]);

/** Properties of AWS::Lambda::Function the local runtime honours or records (documented no-ops). */
const FUNCTION_PROPERTIES = new Set([
  'Code', 'Handler', 'Runtime', 'Timeout', 'MemorySize', 'Environment', 'FunctionName', 'ReservedConcurrentExecutions',
  'DeadLetterConfig', 'Role', 'Description', 'Tags', 'Architectures', 'TracingConfig', 'LoggingConfig', 'EphemeralStorage',
  'VpcConfig', 'KmsKeyArn', 'RuntimeManagementConfig', 'PackageType', 'Layers', 'SnapStart', 'CodeSigningConfigArn', 'RecursiveLoop',
]);

/** `InvalidParameterValueException`, Lambda's answer to a bad property. */
export function invalidParameter(message: string): AwsError {
  return new AwsError('InvalidParameterValueException', message);
}

/** Refuses any property outside `known`, naming it and the resource. */
export function refuseUnknownProperties(req: ProvisionRequest, known: ReadonlySet<string>): void {
  for (const key of Object.keys(req.properties)) {
    if (!known.has(key)) throw invalidParameter(`${req.logicalId} (${req.type}): property ${key} is not supported by the local cloud`);
  }
}

function intInRange(value: unknown, name: string, min: number, max: number, fallback: number): number {
  if (value === undefined || value === null) return fallback;
  const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max) {
    throw invalidParameter(`${name} must be an integer between ${min} and ${max}, got ${JSON.stringify(value)}`);
  }
  return n;
}

/** Same name CloudFormation would generate (`<stack>-<logicalId>-<suffix>`), stable across deploys. */
export function generatedFunctionName(stackName: string, logicalId: string): string {
  const suffix = createHash('sha256').update(`${stackName}/${logicalId}`).digest('hex').slice(0, 12).toUpperCase();
  const base = `${stackName}-${logicalId}`.slice(0, 64 - suffix.length - 1);
  return `${base}-${suffix}`;
}

/** `arn:aws:lambda:<region>:<account>:function:<name>`. */
export function functionArn(name: string, region: string): string {
  return arn('lambda', `function:${name}`, region);
}

function hashDir(dir: string, handler: string): string {
  return createHash('sha256').update(`${dir}\n${handler}`).digest('base64');
}

/**
 * Builds a function configuration from resolved template properties, or throws
 * `InvalidParameterValueException` naming what the local runtime does not support.
 * @param inlineDir where `Code.ZipFile` sources are written
 */
export function parseFunction(req: ProvisionRequest, region: string, inlineDir: string): FunctionConfig {
  const p = req.properties;
  refuseUnknownProperties(req, FUNCTION_PROPERTIES);
  const where = `${req.logicalId} (AWS::Lambda::Function)`;
  if (p.PackageType !== undefined && p.PackageType !== 'Zip') throw invalidParameter(`${where}: PackageType ${p.PackageType} is not supported by the local cloud (only Zip)`);
  if (Array.isArray(p.Layers) && p.Layers.length > 0) throw invalidParameter(`${where}: Layers are not supported by the local cloud`);
  if (p.SnapStart && p.SnapStart.ApplyOn && p.SnapStart.ApplyOn !== 'None') throw invalidParameter(`${where}: SnapStart ${p.SnapStart.ApplyOn} is not supported by the local cloud`);
  const runtime = p.Runtime;
  if (typeof runtime !== 'string') throw invalidParameter(`${where}: Runtime is required`);
  if (!/^nodejs\d+\.x$/.test(runtime)) throw invalidParameter(`${where}: Runtime ${runtime} is not supported by the local cloud (only nodejs*)`);
  const handler = p.Handler;
  if (typeof handler !== 'string' || !/^[^\s]+\.[^\s.]+$/.test(handler)) throw invalidParameter(`${where}: Handler must look like file.export, got ${JSON.stringify(handler)}`);

  const name: string = p.FunctionName ?? generatedFunctionName(req.stackName, req.logicalId);
  if (!/^[a-zA-Z0-9-_]{1,64}$/.test(name)) throw invalidParameter(`${where}: FunctionName ${JSON.stringify(name)} is not a valid function name`);

  const code = p.Code ?? {};
  let codeDir: string;
  for (const key of Object.keys(code)) {
    if (!['S3Bucket', 'S3Key', 'ZipFile', 'S3ObjectVersion'].includes(key)) throw invalidParameter(`${where}: Code.${key} is not supported by the local cloud`);
  }
  if (typeof code.ZipFile === 'string') {
    // Lambda stores inline nodejs code as index.js in the deployment package.
    codeDir = path.join(inlineDir, name);
    mkdirSync(codeDir, { recursive: true });
    writeFileSync(path.join(codeDir, 'index.js'), code.ZipFile);
  } else if (typeof code.S3Key === 'string') {
    codeDir = req.assetPath(code.S3Key);
  } else {
    throw invalidParameter(`${where}: Code needs S3Bucket/S3Key (a cdk.out asset) or ZipFile`);
  }

  const variables: Record<string, string> = {};
  for (const [k, v] of Object.entries((p.Environment?.Variables ?? {}) as Record<string, unknown>)) {
    if (RESERVED_ENV.has(k)) {
      throw invalidParameter(`${where}: Lambda was unable to configure your environment variables because the environment variables you have provided contains reserved keys that are currently not supported for modification. Reserved keys used in this request: ${k}`);
    }
    variables[k] = typeof v === 'string' ? v : JSON.stringify(v);
  }
  const reserved = p.ReservedConcurrentExecutions === undefined ? undefined : intInRange(p.ReservedConcurrentExecutions, `${where}: ReservedConcurrentExecutions`, 0, 1000, 0);
  const tracingMode = p.TracingConfig?.Mode ?? 'PassThrough';
  if (!['PassThrough', 'Active'].includes(tracingMode)) throw invalidParameter(`${where}: TracingConfig.Mode ${tracingMode} is not valid`);
  const logFormat = p.LoggingConfig?.LogFormat ?? 'Text';
  if (logFormat !== 'Text') throw invalidParameter(`${where}: LoggingConfig.LogFormat ${logFormat} is not supported by the local cloud (only Text)`);

  return {
    name,
    arn: functionArn(name, region),
    stackName: req.stackName,
    logicalId: req.logicalId,
    runtime,
    handler,
    codeDir,
    codeSha256: hashDir(codeDir, handler),
    timeoutSeconds: intInRange(p.Timeout, `${where}: Timeout`, 1, 900, 3),
    memorySize: intInRange(p.MemorySize, `${where}: MemorySize`, 128, 10240, 128),
    environment: variables,
    reservedConcurrency: reserved,
    deadLetterTargetArn: p.DeadLetterConfig?.TargetArn,
    role: p.Role,
    description: p.Description ?? '',
    logGroup: p.LoggingConfig?.LogGroup ?? `/aws/lambda/${name}`,
    logFormat,
    architectures: p.Architectures ?? ['x86_64'],
    tracingMode,
    lastModified: new Date().toISOString().replace('Z', '+0000'),
  };
}

const INVOKE_CONFIG_PROPERTIES = new Set(['FunctionName', 'Qualifier', 'MaximumRetryAttempts', 'MaximumEventAgeInSeconds', 'DestinationConfig']);

/** Parses an AWS::Lambda::EventInvokeConfig. Destinations may be SQS queues, Lambda functions or EventBridge buses. */
export function parseInvokeConfig(req: ProvisionRequest, id: string): InvokeConfig {
  const p = req.properties;
  refuseUnknownProperties(req, INVOKE_CONFIG_PROPERTIES);
  const where = `${req.logicalId} (AWS::Lambda::EventInvokeConfig)`;
  if (typeof p.FunctionName !== 'string') throw invalidParameter(`${where}: FunctionName is required`);
  if (p.Qualifier !== undefined && p.Qualifier !== '$LATEST') throw invalidParameter(`${where}: Qualifier ${p.Qualifier} is not supported by the local cloud (only $LATEST)`);
  const destination = (kind: 'OnFailure' | 'OnSuccess'): string | undefined => {
    const d = p.DestinationConfig?.[kind]?.Destination;
    if (d === undefined) return undefined;
    if (typeof d !== 'string' || !/^arn:aws:(sqs|lambda|events):/.test(d)) throw invalidParameter(`${where}: ${kind} destination ${JSON.stringify(d)} is not supported by the local cloud (SQS, Lambda or EventBridge only)`);
    return d;
  };
  for (const key of Object.keys(p.DestinationConfig ?? {})) {
    if (key !== 'OnFailure' && key !== 'OnSuccess') throw invalidParameter(`${where}: DestinationConfig.${key} is not supported`);
  }
  return {
    id,
    functionName: p.FunctionName,
    maximumRetryAttempts: intInRange(p.MaximumRetryAttempts, `${where}: MaximumRetryAttempts`, 0, 2, 2),
    maximumEventAgeInSeconds: intInRange(p.MaximumEventAgeInSeconds, `${where}: MaximumEventAgeInSeconds`, 60, 21600, 21600),
    onFailure: destination('OnFailure'),
    onSuccess: destination('OnSuccess'),
  };
}

/** Splits `name`, `name:qualifier`, `account:function:name[:q]` or a full ARN into name and qualifier. */
export function parseFunctionRef(ref: string): { name: string; qualifier?: string } {
  const parts = ref.split(':');
  if (ref.startsWith('arn:')) {
    // arn:aws:lambda:region:account:function:name[:qualifier]
    if (parts.length < 7 || parts[2] !== 'lambda' || parts[5] !== 'function') return { name: ref };
    return { name: parts[6], qualifier: parts[7] };
  }
  if (parts.length >= 3 && parts[1] === 'function') return { name: parts[2], qualifier: parts[3] };
  return { name: parts[0], qualifier: parts[1] };
}
