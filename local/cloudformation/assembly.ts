/**
 * Reads a CDK cloud assembly (`cdk.out`): its stacks in dependency order, their templates, and
 * the file assets that map S3 object keys back to directories of the assembly.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { DeployError } from './errors.js';

/** One stack artifact of an assembly. */
export interface AssemblyStack {
  /** The artifact id in manifest.json. */
  readonly artifactId: string;
  /** The CloudFormation stack name (`properties.stackName`, else the artifact id). */
  readonly stackName: string;
  readonly template: Record<string, any>;
  /** Parameter values given by the manifest (`properties.parameters`). */
  readonly parameters: Record<string, string>;
  /** Stack names this stack depends on. */
  readonly dependencies: readonly string[];
}

/** A parsed cloud assembly. */
export interface CloudAssembly {
  readonly dir: string;
  /** Stacks, dependencies first. */
  readonly stacks: readonly AssemblyStack[];
  /** Resolves an asset's S3 object key to its path in the assembly; throws for an unknown key. */
  assetPath(s3Key: string): string;
}

function readJson(file: string): any {
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new DeployError(`cannot read ${file}: ${(err as Error).message}`);
  }
}

/** Parses `manifest.json` and the asset manifests of an assembly directory. */
export function readAssembly(assemblyDir: string): CloudAssembly {
  const dir = path.resolve(assemblyDir);
  const manifestFile = path.join(dir, 'manifest.json');
  if (!existsSync(manifestFile)) throw new DeployError(`${dir} is not a cloud assembly: manifest.json is missing (synthesize the app first)`);
  const manifest = readJson(manifestFile);
  const artifacts: Record<string, any> = manifest.artifacts ?? {};
  const assets = new Map<string, string>();
  const byArtifact = new Map<string, Omit<AssemblyStack, 'dependencies'> & { deps: string[] }>();

  for (const [id, artifact] of Object.entries(artifacts)) {
    switch (artifact.type) {
      case 'aws:cloudformation:stack': {
        const props = artifact.properties ?? {};
        if (typeof props.templateFile !== 'string') throw new DeployError(`artifact ${id} has no templateFile`);
        byArtifact.set(id, {
          artifactId: id,
          stackName: props.stackName ?? id,
          template: readJson(path.join(dir, props.templateFile)),
          parameters: props.parameters ?? {},
          deps: artifact.dependencies ?? [],
        });
        break;
      }
      case 'cdk:asset-manifest': {
        const file = artifact.properties?.file;
        if (typeof file !== 'string') throw new DeployError(`asset manifest artifact ${id} has no file`);
        const assetManifest = readJson(path.join(dir, file));
        for (const [hash, asset] of Object.entries<any>(assetManifest.files ?? {})) {
          const source = asset.source?.path;
          if (typeof source !== 'string') continue;
          for (const dest of Object.values<any>(asset.destinations ?? {})) {
            if (typeof dest.objectKey === 'string') assets.set(dest.objectKey, path.join(dir, source));
          }
          assets.set(hash, path.join(dir, source));
        }
        for (const id2 of Object.keys(assetManifest.dockerImages ?? {})) {
          // Remembered so that a provider asking for it gets a clear refusal, not a missing file.
          assets.set(`docker:${id2}`, '');
        }
        break;
      }
      case 'cdk:tree':
      case 'cdk:feature-flag-report':
        break;
      case 'cdk:cloud-assembly':
        throw new DeployError(`artifact ${id} is a nested cloud assembly (a CDK Stage); the local cloud deploys only top-level stacks`);
      default:
        throw new DeployError(`artifact ${id} has type ${artifact.type}, which the local cloud does not deploy`);
    }
  }

  // Order stacks so that dependencies come first (dependencies on asset artifacts are dropped).
  const ordered: AssemblyStack[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (id: string, trail: string[]): void => {
    const s = state.get(id);
    if (s === 'done') return;
    if (s === 'visiting') throw new DeployError(`stack dependency cycle: ${[...trail, id].join(' -> ')}`);
    state.set(id, 'visiting');
    const stack = byArtifact.get(id)!;
    const deps = stack.deps.filter((d) => byArtifact.has(d));
    for (const d of deps) visit(d, [...trail, id]);
    state.set(id, 'done');
    ordered.push({ artifactId: stack.artifactId, stackName: stack.stackName, template: stack.template, parameters: stack.parameters, dependencies: deps.map((d) => byArtifact.get(d)!.stackName) });
  };
  for (const id of [...byArtifact.keys()].sort()) visit(id, []);

  return {
    dir,
    stacks: ordered,
    assetPath(s3Key: string): string {
      const found = assets.get(s3Key) ?? assets.get(s3Key.replace(/\.[a-z]+$/, ''));
      if (found === undefined) throw new Error(`asset ${s3Key} is not in the cloud assembly ${dir}`);
      if (found === '') throw new Error(`asset ${s3Key} is a Docker image asset, which the local cloud does not run`);
      return found;
    },
  };
}
