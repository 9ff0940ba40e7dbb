/**
 * The audit table is append-only for every function (DESIGN §1): each IAM role of the whole
 * ConvergeStack whose policies mention the audit table carries an explicit Deny of UpdateItem
 * and DeleteItem on it.
 */
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { ConvergeStack } from '../../lib/converge-stack.js';

let template: Template;
let auditId: string;

beforeAll(() => {
  const stack = new ConvergeStack(new App(), 'Converge');
  template = Template.fromStack(stack);
  auditId = stack.getLogicalId(stack.audit.table.node.defaultChild as any);
});

const mentionsAudit = (resource: unknown) => JSON.stringify(resource ?? '').includes(auditId);
const actions = (s: any): string[] => [s.Action].flat();

function rolesTouchingAudit() {
  const byRole = new Map<string, any[]>();
  for (const p of Object.values(template.findResources('AWS::IAM::Policy')) as any[]) {
    for (const role of p.Properties.Roles ?? []) {
      const id = role.Ref as string;
      byRole.set(id, [...(byRole.get(id) ?? []), ...p.Properties.PolicyDocument.Statement]);
    }
  }
  for (const [id, r] of Object.entries(template.findResources('AWS::IAM::Role')) as Array<[string, any]>) {
    for (const p of r.Properties.Policies ?? []) byRole.set(id, [...(byRole.get(id) ?? []), ...p.PolicyDocument.Statement]);
  }
  return [...byRole].filter(([, statements]) => statements.some((s) => mentionsAudit(s.Resource)));
}

describe('audit table is append-only', () => {
  it('finds the roles that can touch the audit table (sync, saga and reconciliation functions)', () => {
    expect(rolesTouchingAudit().length).toBeGreaterThanOrEqual(3);
  });

  it('gives every such role an explicit Deny of UpdateItem and DeleteItem on it', () => {
    const missing: string[] = [];
    for (const [role, statements] of rolesTouchingAudit()) {
      const denies = statements.filter((s) => s.Effect === 'Deny' && mentionsAudit(s.Resource)).flatMap(actions);
      for (const a of ['dynamodb:UpdateItem', 'dynamodb:DeleteItem']) if (!denies.includes(a) && !denies.includes('dynamodb:*')) missing.push(`${role} lacks Deny ${a}`);
    }
    expect(missing).toEqual([]);
  });

  it('allows no role to update or delete audit rows', () => {
    const allowed: string[] = [];
    for (const [role, statements] of rolesTouchingAudit()) {
      for (const s of statements) {
        if (s.Effect === 'Allow' && mentionsAudit(s.Resource) && actions(s).some((a) => /UpdateItem|DeleteItem|BatchWriteItem|dynamodb:\*/.test(a))) allowed.push(role);
      }
    }
    expect(allowed).toEqual([]);
  });
});
