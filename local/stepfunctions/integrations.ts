/**
 * The Task integrations the local cloud runs: Lambda (optimized `lambda:invoke` and bare
 * function ARNs), DynamoDB item APIs, EventBridge PutEvents and SQS SendMessage. Results and
 * error names follow what Step Functions reports on AWS (`Lambda.TooManyRequestsException`,
 * `DynamoDB.ConditionalCheckFailedException`, `EventBridge.FailedEntry`...).
 */
import { createHash, randomUUID } from 'node:crypto';
import { AwsError } from '../core/aws.js';
import type { Kernel } from '../core/kernel.js';
import type { TaskSpec } from './definition.js';

/** An error a task raises: `name` is the Step Functions error name, `message` its cause. */
export class TaskError extends Error {
  /** Read by aws-local-stepfunctions when matching Retry/Catch. */
  readonly isRetryable: boolean;
  readonly isCatchable: boolean;
  constructor(name: string, cause: string, handleable = true) {
    super(cause);
    this.name = name;
    this.isRetryable = handleable;
    this.isCatchable = handleable;
  }
}

/** `States.Runtime`: a failure that neither Retry nor Catch handles, as on AWS. */
export function runtimeError(cause: string): TaskError {
  return new TaskError('States.Runtime', cause, false);
}

function sdkMetadata(requestId: string, contentType = 'application/x-amz-json-1.0'): Record<string, unknown> {
  const headers = { 'Content-Type': contentType, 'x-amzn-RequestId': requestId, Date: new Date().toUTCString() };
  return {
    SdkHttpMetadata: { AllHttpHeaders: Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, [v]])), HttpHeaders: headers, HttpStatusCode: 200 },
    SdkResponseMetadata: { RequestId: requestId },
  };
}

/** The Cause Step Functions gives a service exception (the AWS Java SDK's message format). */
function serviceCause(service: string, err: AwsError): string {
  return `${err.message} (Service: ${service}; Status Code: ${err.statusCode}; Error Code: ${err.code}; Request ID: ${randomUUID()}; Proxy: null)`;
}

function requireObject(params: unknown, what: string): Record<string, any> {
  if (!params || typeof params !== 'object' || Array.isArray(params)) throw runtimeError(`The ${what} task needs an object of Parameters, got ${JSON.stringify(params)}`);
  return params as Record<string, any>;
}

function parsePayload(payload: string): unknown {
  if (payload === '') return '';
  try {
    return JSON.parse(payload);
  } catch {
    return payload;
  }
}

async function invokeLambda(kernel: Kernel, functionName: string, payload: string, invocationType?: 'RequestResponse' | 'Event' | 'DryRun', qualifier?: string) {
  const name = qualifier ? `${functionName}:${qualifier}` : functionName;
  let result;
  try {
    result = await kernel.lambda.invoke(name, payload, invocationType ? { invocationType } : undefined);
  } catch (err) {
    if (err instanceof AwsError) throw new TaskError(`Lambda.${err.code}`, serviceCause('AWSLambda', err));
    throw new TaskError('Lambda.ServiceException', err instanceof Error ? err.message : String(err));
  }
  if (result.functionError) {
    // On AWS the error is the function's errorType and the cause the whole error document.
    const doc = parsePayload(result.payload) as { errorType?: unknown } | undefined;
    const errorType = doc && typeof doc === 'object' && typeof doc.errorType === 'string' ? doc.errorType : 'Lambda.Unknown';
    throw new TaskError(errorType, result.payload);
  }
  return result;
}

/** Runs one attempt of a Task integration with its resolved Parameters (or input); returns the task result. */
export async function runIntegration(kernel: Kernel, spec: TaskSpec, params: unknown): Promise<unknown> {
  switch (spec.kind) {
    case 'lambda-arn': {
      const result = await invokeLambda(kernel, spec.resource, JSON.stringify(params ?? null));
      return parsePayload(result.payload);
    }
    case 'lambda-invoke': {
      const p = requireObject(params, 'lambda:invoke');
      if (typeof p.FunctionName !== 'string' || !p.FunctionName) throw runtimeError("The field 'FunctionName' is required by lambda:invoke");
      const invocationType = p.InvocationType as 'RequestResponse' | 'Event' | 'DryRun' | undefined;
      if (invocationType !== undefined && !['RequestResponse', 'Event', 'DryRun'].includes(invocationType)) throw runtimeError(`Unknown InvocationType '${String(invocationType)}'`);
      const payload = p.Payload === undefined ? '{}' : typeof p.Payload === 'string' ? p.Payload : JSON.stringify(p.Payload);
      const result = await invokeLambda(kernel, p.FunctionName, payload, invocationType, p.Qualifier);
      return {
        ExecutedVersion: result.executedVersion,
        Payload: parsePayload(result.payload),
        ...sdkMetadata(result.requestId, 'application/json'),
        StatusCode: result.statusCode,
      };
    }
    case 'dynamodb': {
      const p = requireObject(params, `dynamodb:${spec.action}`);
      const operation = spec.action[0].toUpperCase() + spec.action.slice(1);
      try {
        const out = await kernel.dynamodb.call(operation, p);
        return { ...(out ?? {}), ...sdkMetadata(randomUUID()) };
      } catch (err) {
        if (err instanceof AwsError) throw new TaskError(`DynamoDB.${err.code}`, serviceCause('AmazonDynamoDBv2', err));
        throw new TaskError('DynamoDB.AmazonDynamoDBException', err instanceof Error ? err.message : String(err));
      }
    }
    case 'events': {
      const p = requireObject(params, 'events:putEvents');
      if (!Array.isArray(p.Entries)) throw runtimeError("The field 'Entries' is required by events:putEvents");
      // Step Functions serializes a JSON Detail for the caller; EventBridge wants a string.
      const entries = p.Entries.map((e: Record<string, unknown>) => (e && typeof e === 'object' && e.Detail !== undefined && typeof e.Detail !== 'string' ? { ...e, Detail: JSON.stringify(e.Detail) } : e));
      let out;
      try {
        out = await kernel.events.putEvents(entries);
      } catch (err) {
        if (err instanceof AwsError) throw new TaskError(`EventBridge.${err.code}`, serviceCause('AmazonEventBridge', err));
        throw new TaskError('EventBridge.AmazonEventBridgeException', err instanceof Error ? err.message : String(err));
      }
      if (out.FailedEntryCount > 0) throw new TaskError('EventBridge.FailedEntry', JSON.stringify(out));
      return out;
    }
    case 'sqs': {
      const p = requireObject(params, 'sqs:sendMessage');
      if (typeof p.QueueUrl !== 'string') throw runtimeError("The field 'QueueUrl' is required by sqs:sendMessage");
      if (p.MessageBody === undefined) throw runtimeError("The field 'MessageBody' is required by sqs:sendMessage");
      const body = typeof p.MessageBody === 'string' ? p.MessageBody : JSON.stringify(p.MessageBody);
      const attributes = p.MessageAttributes as Record<string, { DataType: string; StringValue?: string }> | undefined;
      try {
        const out = await kernel.sqs.sendMessage(p.QueueUrl, body, attributes);
        return { MD5OfMessageBody: createHash('md5').update(body).digest('hex'), MessageId: out.MessageId, ...sdkMetadata(randomUUID(), 'text/xml') };
      } catch (err) {
        if (err instanceof AwsError) {
          const code = err.code === 'AWS.SimpleQueueService.NonExistentQueue' ? 'QueueDoesNotExistException' : err.code;
          throw new TaskError(`SQS.${code}`, serviceCause('AmazonSQS', new AwsError(code, err.message, err.statusCode)));
        }
        throw new TaskError('SQS.AmazonSQSException', err instanceof Error ? err.message : String(err));
      }
    }
  }
}
