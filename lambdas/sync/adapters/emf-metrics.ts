/**
 * The Powertools Metrics adapter of {@link SyncMetrics}: EMF counts and the lag in
 * milliseconds, flushed by the handler at the end of each invocation.
 */
import { MetricUnit, type Metrics } from '@aws-lambda-powertools/metrics';
import type { SyncMetric, SyncMetrics } from '../domain/ports.js';

/** EMF metrics through a Powertools {@link Metrics} instance. */
export class EmfSyncMetrics implements SyncMetrics {
  constructor(private readonly metrics: Metrics) {}

  count(metric: SyncMetric, n = 1): void {
    this.metrics.addMetric(metric, MetricUnit.Count, n);
  }

  lag(ms: number): void {
    this.metrics.addMetric('LagMs', MetricUnit.Milliseconds, ms);
  }
}
