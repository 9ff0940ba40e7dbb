import { describe, expect, it } from 'vitest';
import { bucketOf, canonicalize, digestValue, itemHash, keyString, normalizeNumber } from '../../../../lambdas/reconcile/domain/canonical.js';

const order = {
  orderId: { S: 'o-1' },
  version: { N: '3' },
  amount: { N: '1250' },
  items: { L: [{ M: { sku: { S: 'a' }, quantity: { N: '2' } } }] },
  tags: { SS: ['x', 'y'] },
  updatedAt: { S: '2026-01-01T00:00:00Z' },
};

describe('canonical hash', () => {
  it('is stable under attribute order, set order and number spelling', () => {
    const reordered = {
      tags: { SS: ['y', 'x'] },
      updatedAt: { S: '2026-01-01T00:00:00Z' },
      items: { L: [{ M: { quantity: { N: '2.0' }, sku: { S: 'a' } } }] },
      amount: { N: '1250.00' },
      version: { N: '03' },
      orderId: { S: 'o-1' },
    };
    expect(itemHash(reordered)).toBe(itemHash(order));
  });

  it('changes with any value, type or list order', () => {
    expect(itemHash({ ...order, amount: { N: '1251' } })).not.toBe(itemHash(order));
    expect(itemHash({ ...order, amount: { S: '1250' } })).not.toBe(itemHash(order));
    const twoItems = { ...order, items: { L: [{ S: 'a' }, { S: 'b' }] } };
    expect(itemHash({ ...order, items: { L: [{ S: 'b' }, { S: 'a' }] } })).not.toBe(itemHash(twoItems));
  });

  it('leaves out ignored fields, and only those', () => {
    const later = { ...order, updatedAt: { S: '2027-01-01T00:00:00Z' } };
    expect(itemHash(later)).not.toBe(itemHash(order));
    expect(itemHash(later, ['updatedAt'])).toBe(itemHash(order, ['updatedAt']));
    expect(canonicalize(order, ['updatedAt'])).not.toContain('updatedAt');
    expect(itemHash({ ...order, status: { S: 'X' } }, ['updatedAt'])).not.toBe(itemHash(order, ['updatedAt']));
  });

  it('normalizes numbers like DynamoDB', () => {
    expect(normalizeNumber('1.50')).toBe('1.5');
    expect(normalizeNumber('-0.0')).toBe('0');
    expect(normalizeNumber('0012')).toBe('12');
    expect(normalizeNumber('1.2e3')).toBe('1200');
    expect(normalizeNumber('5E-3')).toBe('0.005');
  });

  it('treats binary the same whether base64 (streams) or bytes (SDK)', () => {
    expect(itemHash({ b: { B: new Uint8Array([1, 2, 3]) } })).toBe(itemHash({ b: { B: 'AQID' } }));
  });

  it('derives readable key strings, spread buckets and 48-bit digest values', () => {
    expect(keyString(order, ['orderId'])).toBe('o-1');
    expect(keyString({ a: { S: 'x' }, b: { N: '1.0' } }, ['a', 'b'])).toBe('["x","1"]');
    const counts = new Array(16).fill(0);
    for (let i = 0; i < 1600; i++) counts[bucketOf(`o-${i}`, 16)]++;
    expect(Math.min(...counts)).toBeGreaterThan(60);
    expect(digestValue(itemHash(order)) < 2n ** 48n).toBe(true);
  });
});
