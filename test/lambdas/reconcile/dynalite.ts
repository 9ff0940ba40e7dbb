/**
 * An in-memory dynalite on an ephemeral port, with SDK v3 clients, for the reconciliation
 * adapters' tests (real DynamoDB semantics, no mocks).
 */
import { createRequire } from 'node:module';
import type http from 'node:http';
import type { AddressInfo } from 'node:net';
import { CreateTableCommand, DynamoDBClient, type KeySchemaElement } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

const require = createRequire(import.meta.url);

export interface Dynalite {
  readonly client: DynamoDBClient;
  readonly documents: DynamoDBDocumentClient;
  createTable(name: string, hash: string, range?: string): Promise<void>;
  stop(): Promise<void>;
}

export async function startDynalite(): Promise<Dynalite> {
  const dynalite = require('dynalite') as (o: Record<string, unknown>) => http.Server;
  const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as AddressInfo;
  const client = new DynamoDBClient({ endpoint: `http://127.0.0.1:${port}`, region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
  const documents = DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
  return {
    client,
    documents,
    async createTable(name, hash, range) {
      const KeySchema: KeySchemaElement[] = [{ AttributeName: hash, KeyType: 'HASH' }, ...(range ? [{ AttributeName: range, KeyType: 'RANGE' as const }] : [])];
      await client.send(
        new CreateTableCommand({
          TableName: name,
          KeySchema,
          AttributeDefinitions: KeySchema.map((k) => ({ AttributeName: k.AttributeName!, AttributeType: 'S' })),
          BillingMode: 'PAY_PER_REQUEST',
        }),
      );
    },
    async stop() {
      client.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
