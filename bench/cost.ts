/**
 * The AWS cost model: turns the counts the bench measured into on-demand dollars (us-east-1,
 * no free tier, no savings plans). Every constant names its source and the date it was read.
 */

/** A price constant with where it comes from. */
export interface Price {
  readonly usd: number;
  readonly per: string;
  readonly source: string;
  readonly read: string;
}

const READ = '2026-11-27';

/** us-east-1 on-demand prices. */
export const PRICES = {
  dynamoWriteRequestUnit: {
    usd: 0.625 / 1e6,
    per: 'write request unit (standard write ≤ 1 KB; transactional writes cost 2)',
    source: 'https://aws.amazon.com/dynamodb/pricing/on-demand/ (unit definitions); $0.625/million WRU after the Nov 2024 on-demand price cut, per https://airbyte.com/data-engineering-resources/dynamodb-pricing',
    read: READ,
  },
  dynamoReadRequestUnit: {
    usd: 0.125 / 1e6,
    per: 'read request unit (strongly consistent ≤ 4 KB; eventually consistent = 0.5)',
    source: 'https://aws.amazon.com/dynamodb/pricing/on-demand/ (unit definitions); $0.125/million RRU, per https://airbyte.com/data-engineering-resources/dynamodb-pricing',
    read: READ,
  },
  lambdaRequest: { usd: 0.2 / 1e6, per: 'Lambda request', source: 'https://docs.aws.amazon.com/whitepapers/latest/how-aws-pricing-works/lambda.html', read: READ },
  lambdaArmGbSecond: {
    usd: 0.0000133334,
    per: 'Lambda GB-second, arm64 (the app’s functions are ARM_64), first 7.5 billion GB-s/month',
    source: 'https://cloudchipr.com/blog/aws-lambda-pricing (us-east-1 tiers; x86 is $0.0000166667)',
    read: READ,
  },
  stepFunctionsTransition: { usd: 0.025 / 1000, per: 'Standard workflow state transition', source: 'https://aws.amazon.com/step-functions/pricing/', read: READ },
  eventBridgeEvent: { usd: 1 / 1e6, per: 'custom event published (64 KB chunk)', source: 'https://cloudburn.io/blog/amazon-eventbridge-pricing (Mar 2026 us-east-1 table)', read: READ },
} satisfies Record<string, Price>;

/** What one unit of work (a change, a saga, an item compared) consumes, as measured. */
export interface Usage {
  writeUnits: number;
  readUnits: number;
  lambdaRequests: number;
  lambdaGbSeconds: number;
  transitions: number;
  events: number;
}

/** A cost line: the dollars of `units` units of work, by service. */
export interface CostLine {
  readonly label: string;
  readonly units: number;
  readonly dynamodb: number;
  readonly lambda: number;
  readonly stepFunctions: number;
  readonly eventBridge: number;
  readonly total: number;
  /** How the per-unit usage was obtained. */
  readonly basis: string;
}

export function costLine(label: string, perUnit: Usage, units: number, basis: string): CostLine {
  const dynamodb = units * (perUnit.writeUnits * PRICES.dynamoWriteRequestUnit.usd + perUnit.readUnits * PRICES.dynamoReadRequestUnit.usd);
  const lambda = units * (perUnit.lambdaRequests * PRICES.lambdaRequest.usd + perUnit.lambdaGbSeconds * PRICES.lambdaArmGbSecond.usd);
  const stepFunctions = units * perUnit.transitions * PRICES.stepFunctionsTransition.usd;
  const eventBridge = units * perUnit.events * PRICES.eventBridgeEvent.usd;
  return { label, units, dynamodb, lambda, stepFunctions, eventBridge, total: dynamodb + lambda + stepFunctions + eventBridge, basis };
}
