/**
 * The functions' SDK clients, against dynalite over HTTP: the low-level client's cached
 * middleware still sends each command's own input, and the document client (which must not
 * share that cache: its handlers are bound to their first command) stores what it is given.
 */
import type http from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CreateTableCommand, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';

const require = createRequire(import.meta.url);
let server: http.Server;
let clients: typeof import('../../../../lambdas/shared/adapters/clients.js');

beforeAll(async () => {
  const dynalite = require('dynalite') as (options: Record<string, unknown>) => http.Server;
  server = dynalite({ createTableMs: 0 });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  // The clients are module-scope singletons configured from the environment, as in a function.
  Object.assign(process.env, { AWS_ENDPOINT_URL: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test' });
  clients = await import('../../../../lambdas/shared/adapters/clients.js');
  await clients.dynamodb.send(new CreateTableCommand({ TableName: 'Things', AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }], KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }], BillingMode: 'PAY_PER_REQUEST' }));
});

afterAll(async () => {
  delete process.env.AWS_ENDPOINT_URL;
  await new Promise((r) => server.close(r));
});

describe('clients', () => {
  it('caches the middleware of the low-level clients only', () => {
    expect(clients.dynamodb.config.cacheMiddleware).toBe(true);
    expect(clients.eventbridge.config.cacheMiddleware).toBe(true);
    expect(clients.documents.config.cacheMiddleware).not.toBe(true);
  });

  it('sends each low-level command with its own input', async () => {
    for (const i of [1, 2, 3]) await clients.dynamodb.send(new PutItemCommand({ TableName: 'Things', Item: { pk: { S: `low-${i}` }, n: { N: String(i) } } }));
    for (const i of [1, 2, 3]) {
      const out = await clients.dynamodb.send(new GetItemCommand({ TableName: 'Things', Key: { pk: { S: `low-${i}` } } }));
      expect(out.Item).toEqual({ pk: { S: `low-${i}` }, n: { N: String(i) } });
    }
  });

  it('stores what each document command is given', async () => {
    for (const i of [1, 2, 3]) await clients.documents.send(new PutCommand({ TableName: 'Things', Item: { pk: `doc-${i}`, n: i, note: undefined } }));
    for (const i of [1, 2, 3]) {
      const out = await clients.documents.send(new GetCommand({ TableName: 'Things', Key: { pk: `doc-${i}` } }));
      expect(out.Item).toEqual({ pk: `doc-${i}`, n: i });
    }
  });
});
