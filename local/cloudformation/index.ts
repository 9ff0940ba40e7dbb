/**
 * CloudFormation in the local cloud: the template deployer, its query API, the local SSM
 * parameter store, and the providers of the types it only records (IAM, Logs, KMS...).
 */
import type { RawRequest, RequestContext, ResourceProvider, RestRoute } from '../core/aws.js';
import type { Kernel, LocalService } from '../core/kernel.js';
import { IamRecorder } from '../iam/index.js';
import { CloudFormationApi } from './api.js';
import { Deployer } from './deployer.js';
import { ParameterStore, recordProviders } from './records.js';

export { readAssembly, type AssemblyStack, type CloudAssembly } from './assembly.js';
export { Deployer, type DeployedResource, type DeployedStack, type DeployerOptions, type StackInput, type StackOutput, type StackStatus } from './deployer.js';
export { DeployError } from './errors.js';
export { CDK_BOOTSTRAP_PARAMETER, CDK_BOOTSTRAP_VERSION, ParameterStore, recordProviders } from './records.js';
export { CloudFormationApi } from './api.js';

/** What {@link createCloudFormation} returns. */
export interface CloudFormationParts {
  /** Serves the query API (once {@link CloudFormationParts.connect} ran) and provides the recorded types. */
  readonly service: LocalService;
  readonly iam: IamRecorder;
  readonly ssm: ParameterStore;
  /** Builds the deployer over every service's providers (this service's included). Call once. */
  connect(providers: readonly ResourceProvider[], log?: (line: string) => void): Deployer;
  /** The deployer, once connected. */
  readonly deployer: Deployer | undefined;
}

/** Creates the CloudFormation service of a local cloud. Its state lives under `kernel.stateDir`. */
export function createCloudFormation(kernel: Kernel): CloudFormationParts {
  const iam = new IamRecorder(kernel.stateDir);
  const ssm = new ParameterStore(kernel.stateDir);
  let deployer: Deployer | undefined;
  let api: CloudFormationApi | undefined;
  // The route exists before the deployer does, so it defers to whichever deployer gets connected.
  const route: RestRoute = {
    match: (req: RawRequest) => (api ? api.match(req) : undefined),
    handle: (req: RawRequest, params: Record<string, string>, ctx: RequestContext) => api!.handle(req, params, ctx),
  };
  return {
    service: { name: 'cloudformation', routes: [route], providers: [...iam.providers(), ...recordProviders(ssm)] },
    iam,
    ssm,
    connect(providers, log) {
      if (deployer) throw new Error('the CloudFormation deployer is already connected');
      deployer = new Deployer({ providers, stateDir: kernel.stateDir, region: kernel.region, ssm, now: () => kernel.clock.now(), log });
      api = new CloudFormationApi(deployer);
      return deployer;
    },
    get deployer() {
      return deployer;
    },
  };
}
