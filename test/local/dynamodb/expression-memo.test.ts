import { mkdtempSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DynaliteBackend } from '../../../local/dynamodb/backend.js';
import { memoizeParser } from '../../../local/dynamodb/expression-memo.mjs';

const requireFromDynalite = createRequire(createRequire(import.meta.url).resolve('dynalite'));
const validations = requireFromDynalite('./validations/index.js') as { validateExpressions: (data: Record<string, unknown>) => string | undefined };
const parsers = ['conditionParser', 'updateParser', 'projectionParser'].map((name) => requireFromDynalite(`./db/${name}`) as { parse: (...args: unknown[]) => unknown });
const originals = parsers.map((p) => p.parse);

type Request = Record<string, unknown>;
const n = (v: number) => ({ N: String(v) });
const s = (v: string) => ({ S: v });

/** Requests as applications send them: each shape twice, with different values. */
const CASES: Array<{ name: string; requests: Request[] }> = [
  {
    name: 'the Powertools idempotency condition',
    requests: [1, 2].map((i) => ({
      ConditionExpression: 'attribute_not_exists(#id) OR #expiry < :now OR (#status = :inprogress AND attribute_exists(#in_progress_expiry) AND #in_progress_expiry < :now_in_millis)',
      ExpressionAttributeNames: { '#id': 'id', '#expiry': 'expiration', '#in_progress_expiry': 'in_progress_expiration', '#status': 'status' },
      ExpressionAttributeValues: { ':now': n(1000 + i), ':now_in_millis': n(1_000_000 + i), ':inprogress': s('INPROGRESS') },
    })),
  },
  {
    name: 'a version guard',
    requests: [3, 1].map((v) => ({ ConditionExpression: 'attribute_not_exists(#v) OR #v < :v', ExpressionAttributeNames: { '#v': 'version' }, ExpressionAttributeValues: { ':v': n(v) } })),
  },
  {
    name: 'an update with a condition sharing its values',
    requests: ['a', 'b'].map((x) => ({
      UpdateExpression: 'SET #d = :d, #s = :s, #e = if_not_exists(#e, :zero) + :one REMOVE #gone ADD #tags :tag',
      ConditionExpression: '#s <> :s AND size(#d) < :max',
      ExpressionAttributeNames: { '#d': 'data', '#s': 'status', '#e': 'count', '#gone': 'old', '#tags': 'tags' },
      ExpressionAttributeValues: { ':d': s(x), ':s': s(`S${x}`), ':zero': n(0), ':one': n(1), ':tag': { SS: [x] }, ':max': n(400) },
    })),
  },
  {
    name: 'list_append, nested paths and IN',
    requests: [1, 2].map((i) => ({
      UpdateExpression: 'SET #l = list_append(#l, :items), #m.#k[0] = :v',
      ConditionExpression: '#st IN (:a, :b) AND begins_with(#m.#k[1], :p) AND contains(#tags, :t)',
      ExpressionAttributeNames: { '#l': 'list', '#m': 'map', '#k': 'key', '#st': 'status', '#tags': 'tags' },
      ExpressionAttributeValues: { ':items': { L: [n(i)] }, ':v': n(i), ':a': s('A'), ':b': s(`B${i}`), ':p': s('x'), ':t': s(`t${i}`) },
    })),
  },
  {
    name: 'a query with a key condition, filter and projection',
    requests: [1, 2].map((i) => ({
      KeyConditionExpression: '#pk = :pk AND begins_with(#sk, :prefix)',
      FilterExpression: '#n > :min',
      ProjectionExpression: '#pk, #sk, #n, #m.#k',
      ExpressionAttributeNames: { '#pk': 'pk', '#sk': 'sk', '#n': 'num', '#m': 'map', '#k': 'key' },
      ExpressionAttributeValues: { ':pk': s(`p${i}`), ':prefix': s('order#'), ':min': n(i) },
    })),
  },
  {
    name: 'BETWEEN, whose bounds are validated by value',
    requests: [
      { ConditionExpression: '#v BETWEEN :lo AND :hi', ExpressionAttributeNames: { '#v': 'v' }, ExpressionAttributeValues: { ':lo': n(1), ':hi': n(5) } },
      { ConditionExpression: '#v BETWEEN :lo AND :hi', ExpressionAttributeNames: { '#v': 'v' }, ExpressionAttributeValues: { ':lo': n(5), ':hi': n(1) } },
    ],
  },
  {
    name: 'attribute_type, whose type name is validated by value',
    requests: [
      { ConditionExpression: 'attribute_type(#v, :t)', ExpressionAttributeNames: { '#v': 'v' }, ExpressionAttributeValues: { ':t': s('N') } },
      { ConditionExpression: 'attribute_type(#v, :t)', ExpressionAttributeNames: { '#v': 'v' }, ExpressionAttributeValues: { ':t': s('NOPE') } },
    ],
  },
  {
    name: 'one shape whose value changes type',
    requests: [
      { UpdateExpression: 'ADD #c :c', ExpressionAttributeNames: { '#c': 'count' }, ExpressionAttributeValues: { ':c': n(1) } },
      { UpdateExpression: 'ADD #c :c', ExpressionAttributeNames: { '#c': 'count' }, ExpressionAttributeValues: { ':c': s('one') } },
      { UpdateExpression: 'ADD #c :c', ExpressionAttributeNames: { '#c': 'count' }, ExpressionAttributeValues: { ':c': n(2) } },
    ],
  },
  {
    name: 'errors: an undefined name, an unused value, a reserved word, syntax, redundant parentheses',
    requests: [
      { ConditionExpression: '#nope = :v', ExpressionAttributeNames: { '#v': 'v' }, ExpressionAttributeValues: { ':v': n(1) } },
      { ConditionExpression: '#v = :v', ExpressionAttributeNames: { '#v': 'v' }, ExpressionAttributeValues: { ':v': n(1), ':extra': n(2) } },
      { ConditionExpression: 'status = :v', ExpressionAttributeValues: { ':v': n(1) } },
      { ConditionExpression: '#v = = :v', ExpressionAttributeNames: { '#v': 'v' }, ExpressionAttributeValues: { ':v': n(1) } },
      { ConditionExpression: '((#v = :v))', ExpressionAttributeNames: { '#v': 'v' }, ExpressionAttributeValues: { ':v': n(1) } },
      { ConditionExpression: '#v = :v', ExpressionAttributeNames: { '#v': 'v' }, ExpressionAttributeValues: { ':v': n(1) } },
      { ConditionExpression: '#v = :v', ExpressionAttributeNames: { '#v': 'v' }, ExpressionAttributeValues: { ':v': n(1), ':extra': n(2) } },
    ],
  },
];

/** What dynalite's validation makes of a request: its message and every parsed expression. */
function validate(request: Request) {
  const data = structuredClone(request);
  const message = validations.validateExpressions(data);
  const { _condition, _updates, _keyCondition, _filter, _projection } = data;
  return { message, _condition, _updates, _keyCondition, _filter, _projection };
}

describe('memoizeParser', () => {
  afterAll(() => parsers.forEach((p, i) => (p.parse = originals[i]!)));

  it("gives dynalite's validation the same trees, errors and unused-value checks as its parser, for each request of a repeated shape", () => {
    const expected = CASES.map((c) => c.requests.map(validate));
    const stats = parsers.map((p) => memoizeParser(p));
    for (let round = 0; round < 2; round++) {
      CASES.forEach((c, i) => c.requests.forEach((r, j) => expect(validate(r), `${c.name}, request ${j}, round ${round}`).toStrictEqual(expected[i]![j])));
    }
    const [condition, update, projection] = stats;
    expect(condition!.hits).toBeGreaterThan(10);
    expect(update!.hits).toBeGreaterThan(4);
    expect(projection!.hits).toBeGreaterThan(1);
    // BETWEEN and attribute_type always reach the parser: 2 requests each, per round.
    expect(condition!.bypassed).toBe(8);
  });

  it('puts the request\'s own values into a cached tree', () => {
    const parser = { parse: originals[0]! };
    memoizeParser(parser);
    const context = (v: number) => ({ attrNames: { '#v': 'version' }, attrVals: { ':v': n(v) }, unusedAttrNames: { '#v': true }, unusedAttrVals: { ':v': true }, isReserved: () => false, compare: () => false });
    const first = context(3);
    const second = context(7);
    const a = parser.parse('#v < :v', { context: first }) as { expression: { args: unknown[] } };
    const b = parser.parse('#v < :v', { context: second }) as { expression: { args: unknown[] } };
    expect(a.expression.args[1]).toBe(first.attrVals[':v']);
    expect(b.expression.args[1]).toBe(second.attrVals[':v']);
    expect(second.unusedAttrNames).toEqual({});
    expect(second.unusedAttrVals).toEqual({});
  });

  it('keeps at most maxEntries shapes', () => {
    const parser = { parse: originals[0]! };
    const stats = memoizeParser(parser, { maxEntries: 2 });
    const parse = (text: string) => parser.parse(text, { context: { attrNames: { '#a': 'a', '#b': 'b', '#c': 'c' }, attrVals: { ':v': n(1) }, unusedAttrNames: {}, unusedAttrVals: {}, isReserved: () => false, compare: () => false } });
    for (const t of ['#a = :v', '#b = :v', '#c = :v', '#a = :v']) parse(t);
    // '#a = :v' was evicted by '#c = :v', so it is parsed again.
    expect(stats).toMatchObject({ misses: 4, hits: 0 });
    parse('#a = :v');
    expect(stats.hits).toBe(1);
  });
});

describe('DynaliteBackend expressions', () => {
  it('evaluates a repeated condition against each request\'s values', async () => {
    const backend = new DynaliteBackend(join(mkdtempSync(join(tmpdir(), 'converge-dynalite-')), 'leveldb'));
    await backend.start();
    try {
      await backend.call('CreateTable', {
        TableName: 'Guarded', AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }], KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }], BillingMode: 'PAY_PER_REQUEST',
      });
      await new Promise((r) => setTimeout(r, 20));
      const guarded = (version: number) =>
        backend.call('PutItem', {
          TableName: 'Guarded',
          Item: { pk: s('k'), version: n(version) },
          ConditionExpression: 'attribute_not_exists(#v) OR #v < :v',
          ExpressionAttributeNames: { '#v': 'version' },
          ExpressionAttributeValues: { ':v': n(version) },
        });
      await guarded(3);
      await guarded(5);
      await expect(guarded(4)).rejects.toMatchObject({ code: 'ConditionalCheckFailedException' });
      await expect(guarded(5)).rejects.toMatchObject({ code: 'ConditionalCheckFailedException' });
      await guarded(6);
      const update = (add: Record<string, string>) =>
        backend.call('UpdateItem', { TableName: 'Guarded', Key: { pk: s('k') }, UpdateExpression: 'ADD #c :c', ExpressionAttributeNames: { '#c': 'count' }, ExpressionAttributeValues: { ':c': add } });
      await update(n(2));
      await expect(update(s('two'))).rejects.toMatchObject({ code: 'ValidationException', message: expect.stringMatching(/Incorrect operand type/) });
      await update(n(3));
      expect((await backend.call('GetItem', { TableName: 'Guarded', Key: { pk: s('k') } })).Item).toEqual({ pk: s('k'), version: n(6), count: n(5) });
    } finally {
      await backend.stop();
    }
  });
});
