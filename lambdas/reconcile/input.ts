/**
 * The ReconcileStateMachine's input contract. Every field is optional so that an empty input
 * (`{}`) is a safe run: a full report that changes nothing.
 */
import { z } from 'zod';

export const RunInput = z
  .object({
    /** `report` (default) writes only audit rows; `repair` converges the replica. */
    mode: z.enum(['report', 'repair']).default('report'),
    /** `full` (default) scans both tables; `digest` compares bucket digests. */
    strategy: z.enum(['full', 'digest']).default('full'),
    /** Parallel segments; default from the table size (full) or the configured digest segments. */
    segments: z.number().int().min(1).max(1_000_000).optional(),
    /** Read budget of the whole run, in RCU per second; default from the deployment. */
    maxRcuPerSecond: z.number().positive().optional(),
    /** Run id; default the execution name. Reuse it to resume a stopped run from its checkpoints. */
    runId: z.string().min(1).max(80).regex(/^[A-Za-z0-9_.:-]+$/).optional(),
    /** Seconds between compare and recheck; default from the deployment. */
    settleSeconds: z.number().int().min(0).max(3600).optional(),
    /** Scan page size (DynamoDB Limit); default DynamoDB's 1 MB pages. */
    pageSize: z.number().int().min(1).max(10_000).optional(),
  })
  .strict();
export type RunInput = z.infer<typeof RunInput>;
