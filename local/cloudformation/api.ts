/**
 * The CloudFormation API over the awsQuery protocol (form-encoded POST, XML responses), enough
 * for clients to find deployed stacks, their outputs and resources the way they do on AWS.
 */
import type { RawRequest, RawResponse, RequestContext, RestRoute } from '../core/aws.js';
import type { DeployedStack, Deployer } from './deployer.js';

const API_VERSION = '2010-05-15';
const XMLNS = `http://cloudformation.amazonaws.com/doc/${API_VERSION}/`;

type Xml = string;

function escape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
}

/** `<name>value</name>`, or nothing when the value is undefined. */
function el(name: string, value: string | number | boolean | undefined | Xml[]): Xml {
  if (value === undefined) return '';
  if (Array.isArray(value)) return `<${name}>${value.join('')}</${name}>`;
  return `<${name}>${escape(String(value))}</${name}>`;
}

function members(name: string, items: Xml[]): Xml {
  return `<${name}>${items.map((i) => `<member>${i}</member>`).join('')}</${name}>`;
}

function iso(ms: number | undefined): string | undefined {
  return ms === undefined ? undefined : new Date(ms).toISOString();
}

class QueryError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

function respond(action: string, result: Xml, ctx: RequestContext): RawResponse {
  const body = `<?xml version="1.0" encoding="UTF-8"?><${action}Response xmlns="${XMLNS}"><${action}Result>${result}</${action}Result><ResponseMetadata><RequestId>${ctx.requestId}</RequestId></ResponseMetadata></${action}Response>`;
  return { status: 200, headers: { 'content-type': 'text/xml' }, body };
}

function errorResponse(err: QueryError, ctx: RequestContext): RawResponse {
  const type = err.status >= 500 ? 'Receiver' : 'Sender';
  const body = `<?xml version="1.0" encoding="UTF-8"?><ErrorResponse xmlns="${XMLNS}"><Error><Type>${type}</Type><Code>${escape(err.code)}</Code><Message>${escape(err.message)}</Message></Error><RequestId>${ctx.requestId}</RequestId></ErrorResponse>`;
  return { status: err.status, headers: { 'content-type': 'text/xml' }, body };
}

function params(req: RawRequest): URLSearchParams {
  const merged = new URLSearchParams(req.query);
  const type = String(req.headers['content-type'] ?? '');
  if (req.body.length > 0 && type.includes('application/x-www-form-urlencoded')) {
    for (const [k, v] of new URLSearchParams(req.body.toString('utf8'))) merged.append(k, v);
  }
  return merged;
}

/** `Prefix.member.1`, `Prefix.member.2`... of a query request. */
function list(p: URLSearchParams, prefix: string): string[] {
  const out: string[] = [];
  for (let i = 1; p.has(`${prefix}.member.${i}`); i++) out.push(p.get(`${prefix}.member.${i}`)!);
  return out;
}

function stackXml(s: DeployedStack): Xml {
  return [
    el('StackId', s.stackId),
    el('StackName', s.stackName),
    el('Description', s.description),
    members(
      'Parameters',
      Object.entries(s.parameters).map(([k, v]) => el('ParameterKey', k) + el('ParameterValue', v)),
    ),
    el('CreationTime', iso(s.creationTime)),
    el('LastUpdatedTime', iso(s.lastUpdatedTime)),
    el('StackStatus', s.status),
    el('StackStatusReason', s.statusReason),
    el('DisableRollback', true),
    members('NotificationARNs', []),
    members('Capabilities', ['CAPABILITY_IAM', 'CAPABILITY_NAMED_IAM', 'CAPABILITY_AUTO_EXPAND'].map(escape)),
    members(
      'Outputs',
      s.outputs.map((o) => el('OutputKey', o.OutputKey) + el('OutputValue', o.OutputValue) + el('Description', o.Description) + el('ExportName', o.ExportName)),
    ),
    members('Tags', []),
    el('EnableTerminationProtection', false),
    el('DriftInformation', [el('StackDriftStatus', 'NOT_CHECKED')]),
  ].join('');
}

/** Serves CloudFormation's query API from the deployer's state. */
export class CloudFormationApi implements RestRoute {
  constructor(private readonly deployer: Deployer) {}

  match(req: RawRequest): Record<string, string> | undefined {
    if (req.path !== '/' || (req.method !== 'POST' && req.method !== 'GET')) return undefined;
    const p = params(req);
    if (p.get('Version') !== API_VERSION) return undefined;
    return { action: p.get('Action') ?? '' };
  }

  async handle(req: RawRequest, match: Record<string, string>, ctx: RequestContext): Promise<RawResponse> {
    try {
      const p = params(req);
      const action = match.action!;
      switch (action) {
        case 'DescribeStacks': {
          const name = p.get('StackName');
          const stacks = name ? [this.find(name)] : this.deployer.stacks();
          return respond(action, members('Stacks', stacks.map(stackXml)), ctx);
        }
        case 'ListStacks': {
          const filter = list(p, 'StackStatusFilter');
          const summaries = this.deployer
            .stacks()
            .filter((s) => filter.length === 0 || filter.includes(s.status))
            .map((s) => el('StackId', s.stackId) + el('StackName', s.stackName) + el('TemplateDescription', s.description) + el('CreationTime', iso(s.creationTime)) + el('LastUpdatedTime', iso(s.lastUpdatedTime)) + el('StackStatus', s.status) + el('DriftInformation', [el('StackDriftStatus', 'NOT_CHECKED')]));
          return respond(action, members('StackSummaries', summaries), ctx);
        }
        case 'DescribeStackResources': {
          const stackName = p.get('StackName');
          const physical = p.get('PhysicalResourceId');
          if (!stackName && !physical) throw new QueryError('ValidationError', 'Either StackName or PhysicalResourceId must be specified');
          const stacks = stackName ? [this.find(stackName)] : this.deployer.stacks();
          const logical = p.get('LogicalResourceId');
          const rows = stacks.flatMap((s) =>
            Object.values(s.resources)
              .filter((r) => (!physical || r.physicalId === physical) && (!logical || r.logicalId === logical))
              .map((r) => el('StackName', s.stackName) + el('StackId', s.stackId) + el('LogicalResourceId', r.logicalId) + el('PhysicalResourceId', r.physicalId) + el('ResourceType', r.type) + el('Timestamp', iso(r.timestamp)) + el('ResourceStatus', r.status) + el('DriftInformation', [el('StackResourceDriftStatus', 'NOT_CHECKED')])),
          );
          if (physical && rows.length === 0) throw new QueryError('ValidationError', `Stack for ${physical} does not exist`);
          return respond(action, members('StackResources', rows), ctx);
        }
        case 'DescribeStackResource': {
          const s = this.find(this.required(p, 'StackName'));
          const logical = this.required(p, 'LogicalResourceId');
          const r = s.resources[logical];
          if (!r) throw new QueryError('ValidationError', `Resource ${logical} does not exist for stack ${s.stackName}`);
          const detail = el('StackName', s.stackName) + el('StackId', s.stackId) + el('LogicalResourceId', r.logicalId) + el('PhysicalResourceId', r.physicalId) + el('ResourceType', r.type) + el('LastUpdatedTimestamp', iso(r.timestamp)) + el('ResourceStatus', r.status) + el('Metadata', JSON.stringify(r.metadata)) + el('DriftInformation', [el('StackResourceDriftStatus', 'NOT_CHECKED')]);
          return respond(action, el('StackResourceDetail', [detail]), ctx);
        }
        case 'ListStackResources': {
          const s = this.find(this.required(p, 'StackName'));
          const rows = Object.values(s.resources).map((r) => el('LogicalResourceId', r.logicalId) + el('PhysicalResourceId', r.physicalId) + el('ResourceType', r.type) + el('LastUpdatedTimestamp', iso(r.timestamp)) + el('ResourceStatus', r.status) + el('DriftInformation', [el('StackResourceDriftStatus', 'NOT_CHECKED')]));
          return respond(action, members('StackResourceSummaries', rows), ctx);
        }
        case 'ListExports': {
          const rows = this.deployer.exports().map((e) => el('ExportingStackId', e.stackId) + el('Name', e.name) + el('Value', e.value));
          return respond(action, members('Exports', rows), ctx);
        }
        case '':
          throw new QueryError('MissingAction', 'The request must contain the parameter Action');
        default:
          throw new QueryError('InvalidAction', `The action or operation ${action} is not implemented by the local cloud's CloudFormation`);
      }
    } catch (err) {
      if (err instanceof QueryError) return errorResponse(err, ctx);
      return errorResponse(new QueryError('InternalFailure', err instanceof Error ? err.message : String(err), 500), ctx);
    }
  }

  private required(p: URLSearchParams, name: string): string {
    const v = p.get(name);
    if (!v) throw new QueryError('ValidationError', `1 validation error detected: Value null at '${name.charAt(0).toLowerCase()}${name.slice(1)}' failed to satisfy constraint: Member must not be null`);
    return v;
  }

  private find(nameOrId: string): DeployedStack {
    const s = this.deployer.stack(nameOrId);
    if (!s) throw new QueryError('ValidationError', `Stack with id ${nameOrId} does not exist`);
    return s;
  }
}
