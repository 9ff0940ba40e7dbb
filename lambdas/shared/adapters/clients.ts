/**
 * SDK v3 clients, created once per container. They honour AWS_ENDPOINT_URL, so the same code
 * talks to the local cloud, LocalStack or AWS.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';

/** The low-level DynamoDB client (shared with Powertools idempotency). */
export const dynamodb = new DynamoDBClient({});

/** The document client; `removeUndefinedValues` because optional fields are common in rows. */
export const documents = DynamoDBDocumentClient.from(dynamodb, { marshallOptions: { removeUndefinedValues: true } });

/** The EventBridge client. */
export const eventbridge = new EventBridgeClient({});
