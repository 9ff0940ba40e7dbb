/**
 * dynalite in memory on an ephemeral port, with a low-level client that counts the requests it
 * sends by command, for the sync's adapter tests.
 */
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import type http from 'node:http';
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';

const require = createRequire(import.meta.url);

/** A running dynalite with a counting client. */
export interface TestDynamo {
  readonly client: DynamoDBClient;
  /** Requests sent, by command name (e.g. `PutItemCommand`). */
  readonly sent: Record<string, number>;
  createTable(name: string, key: string): Promise<void>;
  stop(): Promise<void>;
}

export async function startDynalite(): Promise<TestDynamo> {
  const dynalite = require('dynalite') as (o: Record<string, unknown>) => http.Server;
  const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const client = new DynamoDBClient({ endpoint: `http://127.0.0.1:${port}`, region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
  const sent: Record<string, number> = {};
  client.middlewareStack.add(
    (next, context) => async (args) => {
      sent[context.commandName as string] = (sent[context.commandName as string] ?? 0) + 1;
      return next(args);
    },
    { step: 'initialize', name: 'countRequests' },
  );
  return {
    client,
    sent,
    async createTable(name, key) {
      await client.send(new CreateTableCommand({ TableName: name, BillingMode: 'PAY_PER_REQUEST', AttributeDefinitions: [{ AttributeName: key, AttributeType: 'S' }], KeySchema: [{ AttributeName: key, KeyType: 'HASH' }] }));
      delete sent.CreateTableCommand;
    },
    async stop() {
      client.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
