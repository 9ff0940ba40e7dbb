import { describe, expect, it } from 'vitest';
import { matchesPattern, parsePattern } from '../../../local/events/pattern.js';

/** An EC2 state-change event, the running example of the AWS event-pattern docs. */
const ec2 = (detail: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
  version: '0',
  id: '6a7e8feb-b491-4cf7-a9f1-bf3703467718',
  'detail-type': 'EC2 Instance State-change Notification',
  source: 'aws.ec2',
  account: '111122223333',
  time: '2017-12-22T18:43:48Z',
  region: 'us-west-1',
  resources: ['arn:aws:ec2:us-west-1:123456789012:instance/i-1234567890abcdef0'],
  detail,
  ...extra,
});

type Row = [name: string, pattern: object, event: object, expected: boolean];

// Conformance table: each row is a pattern and an event taken from (or built directly on) an
// example of "Amazon EventBridge event patterns" and "Content filtering in Amazon EventBridge
// event patterns", with the answer the documentation gives.
const table: Row[] = [
  // Exact values, AND across fields, OR inside arrays.
  ['docs: EC2 terminated matches', { source: ['aws.ec2'], 'detail-type': ['EC2 Instance State-change Notification'], detail: { state: ['terminated'] } }, ec2({ 'instance-id': 'i-1', state: 'terminated' }), true],
  ['docs: EC2 running does not match terminated', { source: ['aws.ec2'], detail: { state: ['terminated'] } }, ec2({ state: 'running' }), false],
  ['OR list of values', { detail: { state: ['pending', 'running'] } }, ec2({ state: 'running' }), true],
  ['missing field does not match exact', { detail: { state: ['running'] } }, ec2({}), false],
  ['exact match is case sensitive', { detail: { state: ['Running'] } }, ec2({ state: 'running' }), false],
  ['number exact', { detail: { count: [5] } }, ec2({ count: 5 }), true],
  ['number equal as double', { detail: { count: [300] } }, ec2({ count: 300.0 }), true],
  ['string does not equal number', { detail: { count: ['5'] } }, ec2({ count: 5 }), false],
  ['number does not equal string', { detail: { count: [5] } }, ec2({ count: '5' }), false],
  ['boolean exact', { detail: { ok: [true] } }, ec2({ ok: true }), true],
  ['boolean vs string', { detail: { ok: [true] } }, ec2({ ok: 'true' }), false],
  // Arrays in the event: any element matches.
  ['docs: resources array matches one element', { resources: ['arn:aws:ec2:us-east-1:123456789012:instance/i-b188560f'] }, ec2({}, { resources: ['arn:aws:ec2:us-east-1:123456789012:instance/i-b188560f', 'arn:aws:ec2:us-east-1:111122223333:instance/i-b188560f'] }), true],
  ['array with no matching element', { resources: ['x'] }, ec2({}, { resources: ['a', 'b'] }), false],
  ['nested objects inside arrays match within one element', { detail: { items: { sku: ['A'], qty: [2] } } }, ec2({ items: [{ sku: 'A', qty: 1 }, { sku: 'B', qty: 2 }] }), false],
  ['nested objects inside arrays, same element', { detail: { items: { sku: ['B'], qty: [2] } } }, ec2({ items: [{ sku: 'A', qty: 1 }, { sku: 'B', qty: 2 }] }), true],
  // Null and empty.
  ['docs: null matches null', { detail: { responseElements: [null] } }, ec2({ responseElements: null }), true],
  ['null does not match a missing field', { detail: { responseElements: [null] } }, ec2({}), false],
  ['null does not match empty string', { detail: { responseElements: [null] } }, ec2({ responseElements: '' }), false],
  ['docs: empty string matches empty string', { detail: { eventVersion: [''] } }, ec2({ eventVersion: '' }), true],
  ['empty string does not match null', { detail: { eventVersion: [''] } }, ec2({ eventVersion: null }), false],
  // prefix / suffix.
  ['docs: prefix on time', { time: [{ prefix: '2017-10-02' }] }, ec2({}, { time: '2017-10-02T18:43:48Z' }), true],
  ['prefix miss', { time: [{ prefix: '2017-10-02' }] }, ec2({}, { time: '2017-10-03T18:43:48Z' }), false],
  ['prefix does not match numbers', { detail: { n: [{ prefix: '1' }] } }, ec2({ n: 12 }), false],
  ['docs: prefix equals-ignore-case', { detail: { service: [{ prefix: { 'equals-ignore-case': 'EventB' } }] } }, ec2({ service: 'eventbridge' }), true],
  ['prefix equals-ignore-case miss', { detail: { service: [{ prefix: { 'equals-ignore-case': 'EventB' } }] } }, ec2({ service: 'eventsB' }), false],
  ['docs: suffix .png', { detail: { FileName: [{ suffix: '.png' }] } }, ec2({ FileName: 'image.png' }), true],
  ['suffix is case sensitive', { detail: { FileName: [{ suffix: '.png' }] } }, ec2({ FileName: 'image.PNG' }), false],
  ['docs: suffix equals-ignore-case', { detail: { FileName: [{ suffix: { 'equals-ignore-case': '.png' } }] } }, ec2({ FileName: 'image.PNG' }), true],
  // equals-ignore-case.
  ['docs: equals-ignore-case', { detail: { Name: [{ 'equals-ignore-case': 'alice' }] } }, ec2({ Name: 'ALICE' }), true],
  ['equals-ignore-case miss', { detail: { Name: [{ 'equals-ignore-case': 'alice' }] } }, ec2({ Name: 'alicia' }), false],
  // anything-but.
  ['docs: anything-but string', { detail: { state: [{ 'anything-but': 'initializing' }] } }, ec2({ state: 'running' }), true],
  ['docs: anything-but string excluded', { detail: { state: [{ 'anything-but': 'initializing' }] } }, ec2({ state: 'initializing' }), false],
  ['docs: anything-but number', { detail: { 'x-limit': [{ 'anything-but': 123 }] } }, ec2({ 'x-limit': 124 }), true],
  ['anything-but number excluded', { detail: { 'x-limit': [{ 'anything-but': 123 }] } }, ec2({ 'x-limit': 123 }), false],
  ['docs: anything-but list of strings', { detail: { state: [{ 'anything-but': ['stopped', 'overloaded'] }] } }, ec2({ state: 'overloaded' }), false],
  ['anything-but list of strings passes', { detail: { state: [{ 'anything-but': ['stopped', 'overloaded'] }] } }, ec2({ state: 'running' }), true],
  ['docs: anything-but list of numbers', { detail: { 'x-limit': [{ 'anything-but': [100, 200, 300] }] } }, ec2({ 'x-limit': 200 }), false],
  ['anything-but does not match a missing field', { detail: { state: [{ 'anything-but': 'initializing' }] } }, ec2({}), false],
  ['docs: anything-but prefix', { detail: { state: [{ 'anything-but': { prefix: 'init' } }] } }, ec2({ state: 'initializing' }), false],
  ['anything-but prefix passes', { detail: { state: [{ 'anything-but': { prefix: 'init' } }] } }, ec2({ state: 'running' }), true],
  ['docs: anything-but suffix', { detail: { FileName: [{ 'anything-but': { suffix: '.txt' } }] } }, ec2({ FileName: 'notes.txt' }), false],
  ['anything-but suffix passes', { detail: { FileName: [{ 'anything-but': { suffix: '.txt' } }] } }, ec2({ FileName: 'a.png' }), true],
  ['docs: anything-but equals-ignore-case', { detail: { state: [{ 'anything-but': { 'equals-ignore-case': 'initializing' } }] } }, ec2({ state: 'INITIALIZING' }), false],
  ['anything-but equals-ignore-case list', { detail: { state: [{ 'anything-but': { 'equals-ignore-case': ['a', 'b'] } }] } }, ec2({ state: 'C' }), true],
  ['docs: anything-but wildcard', { detail: { FilePath: [{ 'anything-but': { wildcard: '*/lib/*' } }] } }, ec2({ FilePath: '/usr/lib/x' }), false],
  ['anything-but wildcard passes', { detail: { FilePath: [{ 'anything-but': { wildcard: '*/lib/*' } }] } }, ec2({ FilePath: '/usr/bin/x' }), true],
  ['anything-but wildcard list', { detail: { FilePath: [{ 'anything-but': { wildcard: ['*/lib/*', '*.tmp'] } }] } }, ec2({ FilePath: 'a.tmp' }), false],
  ['anything-but on an array passes when one element is not excluded', { detail: { state: [{ 'anything-but': 'initializing' }] } }, ec2({ state: ['initializing', 'running'] }), true],
  // numeric.
  ['docs: numeric range all fields true', { detail: { 'c-count': [{ numeric: ['>', 0, '<=', 5] }], 'd-count': [{ numeric: ['<', 10] }], 'x-limit': [{ numeric: ['=', 3.018e2] }] } }, ec2({ 'c-count': 5, 'd-count': 3, 'x-limit': 301.8 }), true],
  ['docs: numeric range one field false', { detail: { 'c-count': [{ numeric: ['>', 0, '<=', 5] }], 'd-count': [{ numeric: ['<', 10] }] } }, ec2({ 'c-count': 0, 'd-count': 3 }), false],
  ['numeric >= bound inclusive', { detail: { n: [{ numeric: ['>=', 10] }] } }, ec2({ n: 10 }), true],
  ['numeric > bound exclusive', { detail: { n: [{ numeric: ['>', 10] }] } }, ec2({ n: 10 }), false],
  ['numeric does not match a string', { detail: { n: [{ numeric: ['>', 0] }] } }, ec2({ n: '5' }), false],
  ['numeric in an array', { detail: { n: [{ numeric: ['>', 100] }] } }, ec2({ n: [1, 200] }), true],
  ['numeric negative and fractional', { detail: { n: [{ numeric: ['>=', -1.5, '<', 0] }] } }, ec2({ n: -0.25 }), true],
  // cidr.
  ['docs: cidr IPv4', { detail: { sourceIPAddress: [{ cidr: '10.0.0.0/24' }] } }, ec2({ sourceIPAddress: '10.0.0.255' }), true],
  ['cidr IPv4 outside', { detail: { sourceIPAddress: [{ cidr: '10.0.0.0/24' }] } }, ec2({ sourceIPAddress: '10.0.1.1' }), false],
  ['docs: cidr IPv6', { detail: { sourceIPAddress: [{ cidr: 'bc09:1:ffff:ffff::/64' }] } }, ec2({ sourceIPAddress: 'bc09:1:ffff:ffff:1:2:3:4' }), true],
  ['cidr IPv6 outside', { detail: { sourceIPAddress: [{ cidr: 'bc09:1:ffff:ffff::/64' }] } }, ec2({ sourceIPAddress: 'bc09:1:ffff:fffe::1' }), false],
  ['cidr does not match a non-address', { detail: { ip: [{ cidr: '10.0.0.0/8' }] } }, ec2({ ip: 'ten' }), false],
  ['cidr /32 exact', { detail: { ip: [{ cidr: '192.168.1.7/32' }] } }, ec2({ ip: '192.168.1.7' }), true],
  // exists.
  ['docs: exists true with field', { detail: { state: [{ exists: true }] } }, ec2({ 'instance-id': 'i-abcd1111', state: 'pending' }), true],
  ['docs: exists true on an array value', { detail: { state: [{ exists: true }] } }, ec2({ state: ['initializing', 'running'] }), true],
  ['docs: exists true does not match an intermediate node', { detail: { 'c-count': [{ exists: true }] } }, ec2({ 'c-count': { c1: 100 } }), false],
  ['docs: exists true without field', { detail: { state: [{ exists: true }] } }, ec2({ 'c-count': { c1: 100 } }), false],
  ['docs: exists false without field', { detail: { state: [{ exists: false }] } }, ec2({ 'c-count': { c1: 100 } }), true],
  ['exists false with field', { detail: { state: [{ exists: false }] } }, ec2({ state: 'x' }), false],
  ['exists true on null (null is a leaf)', { detail: { state: [{ exists: true }] } }, ec2({ state: null }), true],
  ['exists false on empty array (no leaf)', { detail: { state: [{ exists: false }] } }, ec2({ state: [] }), true],
  ['exists true on empty array', { detail: { state: [{ exists: true }] } }, ec2({ state: [] }), false],
  ['exists false below a missing parent', { detail: { a: { b: [{ exists: false }] } } }, ec2({}), true],
  ['docs: replay-name exists false matches live events', { 'replay-name': [{ exists: false }] }, ec2({}), true],
  ['exists OR value', { detail: { state: [{ exists: false }, 'running'] } }, ec2({ state: 'running' }), true],
  // wildcard.
  ['docs: wildcard dir/*.png', { detail: { FileName: [{ wildcard: 'dir/*.png' }] } }, ec2({ FileName: 'dir/a/b.png' }), true],
  ['wildcard miss', { detail: { FileName: [{ wildcard: 'dir/*.png' }] } }, ec2({ FileName: 'dir/a.jpg' }), false],
  ['docs: wildcard multiple stars', { detail: { EventBusArn: [{ wildcard: 'arn:aws:events:us-east-1:*:event-bus/*' }] } }, ec2({ EventBusArn: 'arn:aws:events:us-east-1:123456789012:event-bus/default' }), true],
  ['wildcard zero characters', { detail: { s: [{ wildcard: 'a*b' }] } }, ec2({ s: 'ab' }), true],
  ['wildcard escaped star is literal', { detail: { s: [{ wildcard: 'a\\*b' }] } }, ec2({ s: 'a*b' }), true],
  ['wildcard escaped star does not glob', { detail: { s: [{ wildcard: 'a\\*b' }] } }, ec2({ s: 'axb' }), false],
  ['wildcard escaped backslash', { detail: { s: [{ wildcard: 'a\\\\*' }] } }, ec2({ s: 'a\\zz' }), true],
  ['wildcard ? is literal', { detail: { s: [{ wildcard: 'a?c' }] } }, ec2({ s: 'abc' }), false],
  ['wildcard does not match numbers', { detail: { s: [{ wildcard: '1*' }] } }, ec2({ s: 12 }), false],
  // $or.
  ['docs: $or first branch', { detail: { $or: [{ 'c-count': [{ numeric: ['>', 0, '<=', 5] }] }, { 'd-count': [{ numeric: ['<', 10] }] }, { 'x-limit': [{ numeric: ['=', 3.018e2] }] }] } }, ec2({ 'c-count': 3 }), true],
  ['docs: $or third branch', { detail: { $or: [{ 'c-count': [{ numeric: ['>', 0, '<=', 5] }] }, { 'd-count': [{ numeric: ['<', 10] }] }, { 'x-limit': [{ numeric: ['=', 3.018e2] }] }] } }, ec2({ 'x-limit': 301.8 }), true],
  ['docs: $or no branch', { detail: { $or: [{ 'c-count': [{ numeric: ['>', 0, '<=', 5] }] }, { 'd-count': [{ numeric: ['<', 10] }] }] } }, ec2({ 'c-count': 9, 'd-count': 11 }), false],
  ['docs: $or at top level across source and detail', { $or: [{ source: ['aws.ec2'] }, { detail: { state: ['x'] } }] }, ec2({ state: 'y' }), true],
  ['$or ANDed with a sibling field', { source: ['aws.s3'], $or: [{ detail: { a: ['1'] } }, { detail: { b: ['2'] } }] }, ec2({ b: '2' }), false],
  ['$or nested in $or', { $or: [{ $or: [{ detail: { a: ['1'] } }, { detail: { b: ['2'] } }] }, { detail: { c: ['3'] } }] }, ec2({ b: '2' }), true],
  ['a $or holding strings is a field name', { detail: { $or: ['x'] } }, ec2({ $or: 'x' }), true],
  // Complex example.
  ['docs: complex example', { time: [{ prefix: '2017-10-02' }], detail: { state: [{ 'anything-but': 'initializing' }], 'c-count': [{ numeric: ['>', 0, '<=', 5] }], 'd-count': [{ numeric: ['<', 10] }], 'x-limit': [{ 'anything-but': [100, 200, 300] }] } }, ec2({ state: 'running', 'c-count': 1, 'd-count': 9, 'x-limit': 150 }, { time: '2017-10-02T00:00:00Z' }), true],
  ['docs: complex example, x-limit excluded', { time: [{ prefix: '2017-10-02' }], detail: { state: [{ 'anything-but': 'initializing' }], 'x-limit': [{ 'anything-but': [100, 200, 300] }] } }, ec2({ state: 'running', 'x-limit': 300 }, { time: '2017-10-02T00:00:00Z' }), false],
  ['pattern field absent in the event object is required', { detail: { a: { b: ['1'] } } }, ec2({ a: 'flat' }), false],
];

describe('event pattern conformance table (AWS docs examples)', () => {
  it.each(table)('%s', (_name, pattern, event, expected) => {
    expect(matchesPattern(pattern, event)).toBe(expected);
    expect(matchesPattern(JSON.stringify(pattern), JSON.stringify(event))).toBe(expected);
  });
});

const invalidPatterns: Array<[string, string, RegExp]> = [
  ['not JSON', '{"source": [', /not valid JSON/],
  ['not an object', '["aws.ec2"]', /Filter is not an object/],
  ['leaf-only rule: a string leaf', '{"source": "aws.ec2"}', /"source" must be an object or an array/],
  ['leaf-only rule: a number leaf', '{"detail": {"n": 5}}', /"n" must be an object or an array/],
  ['empty array', '{"source": []}', /Empty arrays are not allowed/],
  ['empty object', '{"detail": {}}', /Empty objects are not allowed/],
  ['nested array value', '{"source": [["a"]]}', /Match value must be String, number, true, false, or null/],
  ['unknown operator', '{"source": [{"contains": "a"}]}', /Unrecognized match type contains/],
  ['two keys in an expression', '{"source": [{"prefix": "a", "suffix": "b"}]}', /Only one key allowed/],
  ['prefix not a string', '{"source": [{"prefix": 5}]}', /prefix match pattern must be a string/],
  ['prefix with an unsupported nested operator', '{"source": [{"prefix": {"wildcard": "a"}}]}', /Unsupported prefix pattern: wildcard/],
  ['exists not boolean', '{"source": [{"exists": "yes"}]}', /exists match pattern must be either true or false/],
  ['numeric not an array', '{"n": [{"numeric": 5}]}', /Value of numeric must be an array/],
  ['numeric bad operator', '{"n": [{"numeric": ["!=", 5]}]}', /Unrecognized numeric range operator: !=/],
  ['numeric non-number value', '{"n": [{"numeric": [">", "5"]}]}', /Value of > must be numeric/],
  ['numeric bottom above top', '{"n": [{"numeric": [">", 10, "<", 5]}]}', /Bottom must be less than top/],
  ['numeric range starting with <', '{"n": [{"numeric": ["<", 10, ">", 5]}]}', /Too many elements in numeric expression/],
  ['numeric bad range operator', '{"n": [{"numeric": [">", 1, ">", 5]}]}', /Bad numeric range operator: >/],
  ['anything-but mixed list', '{"s": [{"anything-but": ["a", 1]}]}', /mixed type is not supported/],
  ['anything-but boolean', '{"s": [{"anything-but": true}]}', /Value of anything-but must be an array or single string\/number value/],
  ['anything-but unsupported nested', '{"s": [{"anything-but": {"numeric": [">", 1]}}]}', /Unsupported anything-but pattern: numeric/],
  ['anything-but empty prefix', '{"s": [{"anything-but": {"prefix": ""}}]}', /Null prefix\/suffix not allowed/],
  ['cidr without mask', '{"ip": [{"cidr": "10.0.0.0"}]}', /Malformed CIDR, one '\/' required/],
  ['cidr bad address', '{"ip": [{"cidr": "10.0.0/8"}]}', /Nonstandard IP address: 10.0.0/],
  ['cidr mask too wide', '{"ip": [{"cidr": "10.0.0.0/33"}]}', /IPv4 mask bits must be < 32/],
  ['wildcard consecutive stars', '{"s": [{"wildcard": "a**b"}]}', /Consecutive wildcard characters at pos 2/],
  ['wildcard invalid escape', '{"s": [{"wildcard": "a\\\\b"}]}', /Invalid escape character at pos 2/],
  ['$or with one member', '{"$or": [{"a": ["1"]}]}', /at least 2 Objects in \$or/],
  ['$or with a non-object member', '{"$or": [{"a": ["1"]}, "b"]}', /Only JSON object is allowed in array of \$or/],
  ['operator name as a field inside $or', '{"$or": [{"prefix": ["1"]}, {"b": ["2"]}]}', /prefix is Ruler reserved fieldName/],
];

describe('invalid patterns', () => {
  it.each(invalidPatterns)('%s', (_name, pattern, message) => {
    let caught: unknown;
    try {
      parsePattern(pattern);
    } catch (err) {
      caught = err;
    }
    expect(caught).toMatchObject({ code: 'InvalidEventPatternException' });
    expect((caught as Error).message).toMatch(/^Event pattern is not valid\. Reason: /);
    expect((caught as Error).message).toMatch(message);
  });

  it('matchesPattern rejects an invalid pattern instead of matching', () => {
    expect(() => matchesPattern('{"source": "x"}', { source: 'x' })).toThrow(/must be an object or an array/);
  });

  it('accepts every documented operator form', () => {
    expect(() =>
      parsePattern({
        a: [{ prefix: { 'equals-ignore-case': 'x' } }, { suffix: 'y' }, { 'equals-ignore-case': 'z' }, { wildcard: 'a*b\\*' }],
        b: [{ 'anything-but': { wildcard: ['*x', 'y*'] } }, { cidr: '2001:db8::/32' }, { numeric: ['>=', 0, '<', 1e9] }, null, true, 1, ''],
      }),
    ).not.toThrow();
  });
});
