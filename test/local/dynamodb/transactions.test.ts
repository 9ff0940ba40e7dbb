import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  GetItemCommand, IdempotentParameterMismatchException, PutItemCommand, TransactGetItemsCommand, TransactWriteItemsCommand,
  TransactionCanceledException, type TransactWriteItem,
} from '@aws-sdk/client-dynamodb';
import { createTable, readStream, startHarness, type Harness } from './harness.js';

let h: Harness;
beforeEach(async () => {
  h = await startHarness();
  await createTable(h, 'Stock', 'NEW_AND_OLD_IMAGES');
  await createTable(h, 'Wallet', 'NEW_AND_OLD_IMAGES');
  await h.client.send(new PutItemCommand({ TableName: 'Stock', Item: { pk: { S: 'sku1' }, available: { N: '5' } } }));
  await h.client.send(new PutItemCommand({ TableName: 'Wallet', Item: { pk: { S: 'c1' }, balance: { N: '100' } } }));
});
afterEach(async () => {
  await h.close();
});

const get = async (table: string, pk: string) => (await h.client.send(new GetItemCommand({ TableName: table, Key: { pk: { S: pk } } }))).Item;

function reserveAndCharge(quantity: number, amount: number): TransactWriteItem[] {
  return [
    { Update: { TableName: 'Stock', Key: { pk: { S: 'sku1' } }, UpdateExpression: 'SET available = available - :q', ConditionExpression: 'available >= :q', ExpressionAttributeValues: { ':q': { N: String(quantity) } } } },
    { Put: { TableName: 'Stock', Item: { pk: { S: 'res-o1' }, quantity: { N: String(quantity) } }, ConditionExpression: 'attribute_not_exists(pk)' } },
    { Update: { TableName: 'Wallet', Key: { pk: { S: 'c1' } }, UpdateExpression: 'SET balance = balance - :a', ConditionExpression: 'balance >= :a', ExpressionAttributeValues: { ':a': { N: String(amount) } }, ReturnValuesOnConditionCheckFailure: 'ALL_OLD' } },
  ];
}

describe('TransactWriteItems', () => {
  it('applies every write atomically and records each on its stream', async () => {
    await h.client.send(new TransactWriteItemsCommand({ TransactItems: reserveAndCharge(2, 30) }));
    expect(await get('Stock', 'sku1')).toEqual({ pk: { S: 'sku1' }, available: { N: '3' } });
    expect(await get('Stock', 'res-o1')).toEqual({ pk: { S: 'res-o1' }, quantity: { N: '2' } });
    expect(await get('Wallet', 'c1')).toEqual({ pk: { S: 'c1' }, balance: { N: '70' } });
    const stock = await readStream(h, 'Stock');
    expect(stock.map((r) => [r.eventName, r.dynamodb!.Keys!.pk.S, r.dynamodb!.OldImage?.available?.N, r.dynamodb!.NewImage?.available?.N])).toEqual([
      ['INSERT', 'sku1', undefined, '5'], ['MODIFY', 'sku1', '5', '3'], ['INSERT', 'res-o1', undefined, undefined],
    ]);
    const wallet = await readStream(h, 'Wallet');
    expect(wallet.at(-1)!.dynamodb).toMatchObject({ OldImage: { balance: { N: '100' } }, NewImage: { balance: { N: '70' } } });
    expect(h.ddb.dynamodb.counters()).toMatchObject({ TransactWriteItems: 1, writeRequests: 5 });
  });

  it('a transaction cancelled half-way writes nothing and returns one reason per item', async () => {
    const err = await h.client.send(new TransactWriteItemsCommand({ TransactItems: reserveAndCharge(2, 500) })).catch((e) => e);
    expect(err).toBeInstanceOf(TransactionCanceledException);
    expect(err.message).toBe('Transaction cancelled, please refer cancellation reasons for specific reasons [None, None, ConditionalCheckFailed]');
    expect(err.CancellationReasons).toEqual([
      { Code: 'None' },
      { Code: 'None' },
      { Code: 'ConditionalCheckFailed', Message: 'The conditional request failed', Item: { pk: { S: 'c1' }, balance: { N: '100' } } },
    ]);
    expect(await get('Stock', 'sku1')).toEqual({ pk: { S: 'sku1' }, available: { N: '5' } });
    expect(await get('Stock', 'res-o1')).toBeUndefined();
    expect((await readStream(h, 'Stock')).length).toBe(1);
  });

  it('restores what was applied when a later write fails on the data', async () => {
    await h.client.send(new PutItemCommand({ TableName: 'Wallet', Item: { pk: { S: 'c2' }, balance: { S: 'not a number' } } }));
    const err = await h.client.send(new TransactWriteItemsCommand({
      TransactItems: [
        { Put: { TableName: 'Stock', Item: { pk: { S: 'new' } } } },
        { Delete: { TableName: 'Stock', Key: { pk: { S: 'sku1' } } } },
        { Update: { TableName: 'Wallet', Key: { pk: { S: 'c2' } }, UpdateExpression: 'SET balance = balance - :a', ExpressionAttributeValues: { ':a': { N: '1' } } } },
      ],
    })).catch((e) => e);
    expect(err).toBeInstanceOf(TransactionCanceledException);
    expect(err.CancellationReasons.map((r: any) => r.Code)).toEqual(['None', 'None', 'ValidationError']);
    expect(await get('Stock', 'new')).toBeUndefined();
    expect(await get('Stock', 'sku1')).toEqual({ pk: { S: 'sku1' }, available: { N: '5' } });
    expect((await readStream(h, 'Stock')).length).toBe(1);
  });

  it('evaluates ConditionCheck items without writing them', async () => {
    const check = (min: number): TransactWriteItem => ({ ConditionCheck: { TableName: 'Wallet', Key: { pk: { S: 'c1' } }, ConditionExpression: 'balance >= :m', ExpressionAttributeValues: { ':m': { N: String(min) } } } });
    await h.client.send(new TransactWriteItemsCommand({ TransactItems: [check(50), { Put: { TableName: 'Stock', Item: { pk: { S: 'x1' } } } }] }));
    const err = await h.client.send(new TransactWriteItemsCommand({ TransactItems: [check(500), { Put: { TableName: 'Stock', Item: { pk: { S: 'x2' } } } }] })).catch((e) => e);
    expect(err.CancellationReasons).toEqual([{ Code: 'ConditionalCheckFailed', Message: 'The conditional request failed' }, { Code: 'None' }]);
    expect(await get('Stock', 'x1')).toBeDefined();
    expect(await get('Stock', 'x2')).toBeUndefined();
    expect((await readStream(h, 'Wallet')).length).toBe(1);
  });

  it('refuses the same item twice, more than 100 items, and unknown tables', async () => {
    const put = (pk: string): TransactWriteItem => ({ Put: { TableName: 'Stock', Item: { pk: { S: pk } } } });
    await expect(h.client.send(new TransactWriteItemsCommand({ TransactItems: [put('a'), put('a')] })))
      .rejects.toMatchObject({ name: 'ValidationException', message: 'Transaction request cannot include multiple operations on one item' });
    await expect(h.client.send(new TransactWriteItemsCommand({ TransactItems: Array.from({ length: 101 }, (_, i) => put(`p${i}`)) })))
      .rejects.toMatchObject({ name: 'ValidationException' });
    await expect(h.client.send(new TransactWriteItemsCommand({ TransactItems: [{ Put: { TableName: 'Nope', Item: { pk: { S: 'a' } } } }] })))
      .rejects.toMatchObject({ name: 'ResourceNotFoundException' });
    const hundred = await h.client.send(new TransactWriteItemsCommand({ TransactItems: Array.from({ length: 100 }, (_, i) => put(`p${i}`)) }));
    expect(hundred.$metadata.httpStatusCode).toBe(200);
  });

  it('is idempotent by ClientRequestToken for 10 minutes of clock', async () => {
    const input = { TransactItems: reserveAndCharge(1, 10), ClientRequestToken: 'token-1' };
    await h.client.send(new TransactWriteItemsCommand(input));
    await h.client.send(new TransactWriteItemsCommand(input));
    expect(await get('Wallet', 'c1')).toEqual({ pk: { S: 'c1' }, balance: { N: '90' } });
    await expect(h.client.send(new TransactWriteItemsCommand({ TransactItems: reserveAndCharge(1, 20), ClientRequestToken: 'token-1' })))
      .rejects.toBeInstanceOf(IdempotentParameterMismatchException);
    await h.kernel.clock.advance(11 * 60 * 1000);
    // After the window the token is forgotten: the same request runs again (its Put condition now fails).
    const again = await h.client.send(new TransactWriteItemsCommand(input)).catch((e) => e);
    expect(again).toBeInstanceOf(TransactionCanceledException);
  });
});

describe('TransactGetItems', () => {
  it('reads a consistent set, with projections and missing items', async () => {
    const out = await h.client.send(new TransactGetItemsCommand({
      TransactItems: [
        { Get: { TableName: 'Stock', Key: { pk: { S: 'sku1' } }, ProjectionExpression: '#a', ExpressionAttributeNames: { '#a': 'available' } } },
        { Get: { TableName: 'Wallet', Key: { pk: { S: 'c1' } } } },
        { Get: { TableName: 'Wallet', Key: { pk: { S: 'ghost' } } } },
      ],
    }));
    expect(out.Responses).toEqual([{ Item: { available: { N: '5' } } }, { Item: { pk: { S: 'c1' }, balance: { N: '100' } } }, {}]);
    await expect(h.client.send(new TransactGetItemsCommand({
      TransactItems: [{ Get: { TableName: 'Wallet', Key: { pk: { S: 'c1' } } } }, { Get: { TableName: 'Wallet', Key: { pk: { S: 'c1' } } } }],
    }))).rejects.toMatchObject({ name: 'ValidationException' });
  });
});
