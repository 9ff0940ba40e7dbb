/** Order items in the shape DESIGN §2 fixes, in DynamoDB wire form, for seeding and writing. */
import type { AttributeValue } from '@aws-sdk/client-dynamodb';

export type WireItem = Record<string, AttributeValue>;

/** An Orders item (about 200 bytes): `orderId`, `version`, `status`, `customerId`, `items`, `amount`, `updatedAt`. */
export function orderItem(orderId: string, version = 1, keyAttribute = 'orderId'): WireItem {
  const n = Number.parseInt(orderId.replace(/\D/g, '').slice(-6) || '0', 10);
  return {
    [keyAttribute]: { S: orderId },
    version: { N: String(version) },
    status: { S: 'PENDING' },
    customerId: { S: `c-${n % 997}` },
    items: { L: [{ M: { sku: { S: `sku-${n % 101}` }, quantity: { N: String(1 + (n % 3)) } } }] },
    amount: { N: String(1000 + (n % 9000)) },
    updatedAt: { S: new Date(1_767_225_600_000 + n * 1000).toISOString() },
  };
}
