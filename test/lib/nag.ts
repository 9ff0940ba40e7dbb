/**
 * Runs cdk-nag's AwsSolutions pack over a construct tree and returns the unacknowledged
 * findings as `RuleId: path` strings (acknowledged ones, each with its reason in code, are excluded).
 */
import type { IConstruct } from 'constructs';
import { AwsSolutionsChecks } from 'cdk-nag';

export function awsSolutionsFindings(scope: IConstruct): string[] {
  const report = new AwsSolutionsChecks(scope).validateScope(scope);
  return report.violations.flatMap((v) => v.violatingResources.map((r) => `${v.ruleName}: ${r.resourceLogicalId} (${r.locations?.join(', ') ?? ''})`));
}
