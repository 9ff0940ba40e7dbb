/**
 * IAM as the local cloud records it: roles, inline and attached policies from the template.
 * Nothing is enforced at call time; the record lets tests and checks ask what a role may do.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ACCOUNT_ID, type ProvisionRequest, type Provisioned, type ResourceProvider } from '../core/aws.js';

/** One IAM policy statement, as written in a policy document. */
export interface PolicyStatement {
  readonly Sid?: string;
  readonly Effect: 'Allow' | 'Deny';
  readonly Action?: string | string[];
  readonly NotAction?: string | string[];
  readonly Resource?: unknown;
  readonly NotResource?: unknown;
  readonly Principal?: unknown;
  readonly Condition?: unknown;
}

/** A recorded role. */
export interface RoleRecord {
  readonly roleName: string;
  readonly arn: string;
  readonly roleId: string;
  readonly assumeRolePolicyDocument: unknown;
  /** Inline policies of the role's own `Policies` property. */
  readonly inlinePolicies: Array<{ name: string; document: any }>;
  readonly managedPolicyArns: string[];
}

interface PolicyRecord {
  readonly id: string;
  readonly kind: 'inline' | 'managed';
  readonly name: string;
  readonly arn?: string;
  readonly document: any;
  readonly roles: string[];
}

interface IamState {
  roles: Record<string, RoleRecord>;
  policies: Record<string, PolicyRecord>;
}

function suffix(n: number): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
  return [...randomBytes(n)].map((b) => alphabet[b % alphabet.length]).join('');
}

/** CloudFormation's pattern for generated names: `<stack>-<logicalId>-<random>`, within a length limit. */
export function generatedName(stackName: string, logicalId: string, max: number): string {
  const tail = `-${suffix(12)}`;
  const head = `${stackName}-${logicalId}`.slice(0, max - tail.length);
  return `${head}${tail}`;
}

function roleNameOf(ref: string): string {
  // Policies name roles by name (Ref), but accept an ARN too.
  const m = /^arn:aws:iam::\d+:role\/(?:.*\/)?([^/]+)$/.exec(ref);
  return m ? m[1]! : ref;
}

function statementsOf(document: any): PolicyStatement[] {
  const s = document?.Statement;
  if (!s) return [];
  return Array.isArray(s) ? s : [s];
}

/** The IAM recorder and its providers (AWS::IAM::Role, AWS::IAM::Policy, AWS::IAM::ManagedPolicy). */
export class IamRecorder {
  private readonly state: IamState;
  private readonly file?: string;

  /** @param stateDir where the record persists; in memory when undefined */
  constructor(stateDir?: string) {
    this.file = stateDir ? path.join(stateDir, 'iam', 'iam.json') : undefined;
    this.state = this.file && existsSync(this.file) ? JSON.parse(readFileSync(this.file, 'utf8')) : { roles: {}, policies: {} };
  }

  private save(): void {
    if (!this.file) return;
    mkdirSync(path.dirname(this.file), { recursive: true });
    writeFileSync(this.file, JSON.stringify(this.state));
  }

  /** Every recorded role. */
  roles(): RoleRecord[] {
    return Object.values(this.state.roles);
  }

  /** A role by name or ARN. */
  role(nameOrArn: string): RoleRecord | undefined {
    return this.state.roles[roleNameOf(nameOrArn)];
  }

  /**
   * Every statement that applies to a role: its inline policies, the AWS::IAM::Policy and
   * customer-managed policies attached to it. AWS-managed policies (by ARN only) have no
   * recorded document; see {@link RoleRecord.managedPolicyArns}.
   */
  statementsFor(roleNameOrArn: string): PolicyStatement[] {
    const role = this.role(roleNameOrArn);
    if (!role) throw new Error(`no recorded IAM role ${roleNameOrArn}`);
    const out: PolicyStatement[] = role.inlinePolicies.flatMap((p) => statementsOf(p.document));
    for (const p of Object.values(this.state.policies)) {
      const attached = p.roles.includes(role.roleName) || (p.arn !== undefined && role.managedPolicyArns.includes(p.arn));
      if (attached) out.push(...statementsOf(p.document));
    }
    return out;
  }

  /** The providers that record IAM resources from templates. */
  providers(): ResourceProvider[] {
    // Arrow functions below keep `this` bound to the recorder.
    const state = this.state;
    const save = () => this.save();
    const role: ResourceProvider = {
      types: ['AWS::IAM::Role'],
      async create(req: ProvisionRequest): Promise<Provisioned> {
        const p = req.properties;
        const roleName: string = p.RoleName ?? generatedName(req.stackName, req.logicalId, 64);
        if (state.roles[roleName]) throw new Error(`EntityAlreadyExists: role ${roleName} already exists`);
        const arnPath = typeof p.Path === 'string' ? p.Path : '/';
        const record: RoleRecord = {
          roleName,
          arn: `arn:aws:iam::${ACCOUNT_ID}:role${arnPath}${roleName}`,
          roleId: `AROA${suffix(17)}`,
          assumeRolePolicyDocument: p.AssumeRolePolicyDocument,
          inlinePolicies: (p.Policies ?? []).map((x: any) => ({ name: x.PolicyName, document: x.PolicyDocument })),
          managedPolicyArns: p.ManagedPolicyArns ?? [],
        };
        state.roles[roleName] = record;
        save();
        return { physicalId: roleName, attributes: { Arn: record.arn, RoleId: record.roleId } };
      },
      async update(req, previous): Promise<Provisioned> {
        const p = req.properties;
        if ((p.RoleName ?? previous.physicalId) !== previous.physicalId || p.Path !== previous.properties.Path) {
          await role.delete(req.type, previous.physicalId, previous.properties);
          return role.create(req);
        }
        const old = state.roles[previous.physicalId]!;
        state.roles[previous.physicalId] = {
          ...old,
          assumeRolePolicyDocument: p.AssumeRolePolicyDocument,
          inlinePolicies: (p.Policies ?? []).map((x: any) => ({ name: x.PolicyName, document: x.PolicyDocument })),
          managedPolicyArns: p.ManagedPolicyArns ?? [],
        };
        save();
        return { physicalId: previous.physicalId, attributes: previous.attributes };
      },
      async delete(_type, physicalId) {
        delete state.roles[physicalId];
        save();
      },
    };
    const policy: ResourceProvider = {
      types: ['AWS::IAM::Policy', 'AWS::IAM::ManagedPolicy'],
      async create(req: ProvisionRequest): Promise<Provisioned> {
        const p = req.properties;
        const roles = (p.Roles ?? []).map((r: string) => roleNameOf(r));
        if (req.type === 'AWS::IAM::Policy') {
          if (!p.PolicyName || !p.PolicyDocument) throw new Error('PolicyName and PolicyDocument are required');
          const id = generatedName(req.stackName.slice(0, 5), req.logicalId.slice(0, 5), 30);
          state.policies[id] = { id, kind: 'inline', name: p.PolicyName, document: p.PolicyDocument, roles };
          save();
          return { physicalId: id, attributes: { Id: id } };
        }
        if (!p.PolicyDocument) throw new Error('PolicyDocument is required');
        const name: string = p.ManagedPolicyName ?? generatedName(req.stackName, req.logicalId, 128);
        const arnValue = `arn:aws:iam::${ACCOUNT_ID}:policy${p.Path ?? '/'}${name}`;
        const policyId = `ANPA${suffix(17)}`;
        state.policies[arnValue] = { id: arnValue, kind: 'managed', name, arn: arnValue, document: p.PolicyDocument, roles };
        save();
        return { physicalId: arnValue, attributes: { PolicyArn: arnValue, PolicyId: policyId, DefaultVersionId: 'v1', AttachmentCount: roles.length, IsAttachable: true } };
      },
      async delete(_type, physicalId) {
        delete state.policies[physicalId];
        save();
      },
    };
    return [role, policy];
  }
}
