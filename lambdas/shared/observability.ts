/**
 * The Powertools logger and metrics, created once per container. The service name and log
 * level come from POWERTOOLS_SERVICE_NAME / POWERTOOLS_LOG_LEVEL, set by `ConvergeFunction`.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';

/** Structured JSON logger; never log item images or customer data, only keys and versions. */
export const logger = new Logger();

/** EMF metrics in the `Converge` namespace unless POWERTOOLS_METRICS_NAMESPACE says otherwise. */
export const metrics = new Metrics({ namespace: process.env.POWERTOOLS_METRICS_NAMESPACE ?? 'Converge' });
