/**
 * SDK v3 clients, created once per container. They honour AWS_ENDPOINT_URL, so the same code
 * talks to the local cloud, LocalStack or AWS.
 *
 * The low-level clients cache their resolved middleware stack per command class
 * (`cacheMiddleware`): a stream batch sends hundreds of the same few commands, and rebuilding
 * the stack for each one is a measurable share of the sync function's CPU. The document client
 * gets a base client of its own without it: lib-dynamodb's commands resolve a handler bound to
 * their own input, so lib-dynamodb refuses a base client that caches handlers.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';

/** The low-level DynamoDB client (shared with Powertools idempotency). */
export const dynamodb = new DynamoDBClient({ cacheMiddleware: true });

/** The document client; `removeUndefinedValues` because optional fields are common in rows. */
export const documents = DynamoDBDocumentClient.from(new DynamoDBClient({}), { marshallOptions: { removeUndefinedValues: true } });

/** The EventBridge client. */
export const eventbridge = new EventBridgeClient({ cacheMiddleware: true });
