/**
 * The run function: plans a run, decides on repair after recheck, and summarizes (metrics, a
 * run audit row, and the `converge.reconcile` event). The summary is the execution's output.
 */
import { DescribeTableCommand } from '@aws-sdk/client-dynamodb';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { Context } from 'aws-lambda';
import { z } from 'zod';
import { dynamodb, documents, eventbridge } from '../shared/adapters/clients.js';
import { DynamoAuditLog } from '../shared/adapters/audit-log.js';
import { EventBridgePublisher } from '../shared/adapters/event-publisher.js';
import { validate } from '../shared/contracts/contract.js';
import { logger, metrics } from '../shared/observability.js';
import { loadReconcileConfig } from './config.js';
import { DynamoRunStore } from './adapters/run-store.js';
import { RunInput } from './input.js';
import { decide, summarize, type RunDecision, type RunPlan, type SegmentCompareResult } from './domain/run.js';
import { planPhase, recordRun } from './domain/run-phases.js';
import type { ResolveOutcome } from './domain/resolve.js';
import { DynamoSagaReader } from './adapters/saga-reader.js';
import { checkEndedSagas } from './domain/saga-checks.js';
import { placeOrderSaga } from '../../statemachines/place-order.js';

const config = loadReconcileConfig();
const runs = new DynamoRunStore(documents, config.RUNS_TABLE, config.RUN_RETENTION_DAYS);
const audit = new DynamoAuditLog({ tableName: config.AUDIT_TABLE, client: documents });
const publisher = config.EVENT_BUS_NAME ? new EventBridgePublisher(eventbridge, config.EVENT_BUS_NAME) : undefined;
/** Saga definitions whose post-conditions can be checked, by the name SAGA_DEFINITION gives. */
const SAGAS = { PlaceOrder: placeOrderSaga } as const;
const sagaReader = config.SAGA_TABLES ? new DynamoSagaReader(documents, config.SAGA_TABLES) : undefined;

// The later phases receive this function's own earlier outputs through the state machine.
const trusted = <T>() => z.custom<T>((v) => typeof v === 'object' && v !== null);
const results = <T>() => z.array(z.object({ result: trusted<T>() })).transform((xs) => xs.map((x) => x.result));
const RunEvent = z.discriminatedUnion('phase', [
  z.object({ phase: z.literal('plan'), input: z.unknown(), executionName: z.string().min(1) }),
  z.object({ phase: z.literal('decide'), plan: trusted<RunPlan>(), compare: results<SegmentCompareResult>(), recheck: results<ResolveOutcome>() }),
  z.object({
    phase: z.literal('summarize'),
    executionName: z.string().min(1),
    plan: trusted<RunPlan>(),
    compare: results<SegmentCompareResult>(),
    recheck: results<ResolveOutcome>(),
    decision: trusted<RunDecision>(),
    finalize: results<ResolveOutcome>().default([]),
    sagas: z.object({ flagged: z.array(z.string()) }).default({ flagged: [] }),
  }),
  z.object({ phase: z.literal('sagas'), plan: trusted<RunPlan>() }),
]);

const sizer = { itemCount: async (table: string) => (await dynamodb.send(new DescribeTableCommand({ TableName: table }))).Table?.ItemCount ?? 0 };
const runMetrics = { count: (name: string, n: number) => metrics.addMetric(name, MetricUnit.Count, n) };

export const handler = async (event: unknown, context: Context) => {
  const e = validate('converge.reconcile/RunTask', RunEvent, event);
  switch (e.phase) {
    case 'plan': {
      const request = validate('converge.reconcile/RunInput', RunInput, e.input ?? {});
      const plan = await planPhase(request, { pair: config.pair, sizer, runs, defaults: config.defaults, executionName: e.executionName });
      logger.info('run planned', { runId: plan.runId, mode: plan.mode, strategy: plan.strategy, segments: plan.totalSegments, resumed: plan.resumed });
      return plan;
    }
    case 'decide':
      return decide(e.plan, e.compare, e.recheck);
    case 'sagas': {
      if (!sagaReader || !config.SAGA_DEFINITION) return { flagged: [], checked: 0 };
      const since = new Date(Date.now() - config.SAGA_WINDOW_DAYS * 86_400_000).toISOString();
      const out = await checkEndedSagas({ definition: SAGAS[config.SAGA_DEFINITION], reader: sagaReader, audit, actor: context.functionName }, { runId: e.plan.runId, sinceIso: since });
      logger.info('saga post-conditions checked', { runId: e.plan.runId, checked: out.checked, flagged: out.flagged.length });
      return { flagged: out.flagged, checked: out.checked };
    }
    case 'summarize': {
      const summary = summarize(e.plan, e.compare, e.recheck, e.decision, e.finalize, e.sagas);
      try {
        await recordRun(summary, { metrics: runMetrics, audit, publisher, actor: context.functionName, reason: e.decision.reason, executionName: e.executionName });
      } finally {
        metrics.publishStoredMetrics();
      }
      logger.info('run summarized', { runId: summary.runId, compared: summary.compared, discrepancies: summary.discrepancies, repaired: summary.repaired, breakerTripped: summary.breakerTripped });
      return summary;
    }
  }
};
