/**
 * Errors of the template deployer. A deploy never skips anything it does not understand: it
 * stops with a {@link DeployError} that names the stack, the logical id and the resource type.
 */

/** Why a deploy stopped, naming where (stack, logical id, type) whenever it is known. */
export class DeployError extends Error {
  constructor(
    /** The human-readable reason, without the location prefix. */
    public readonly reason: string,
    public readonly stackName?: string,
    public readonly logicalId?: string,
    public readonly resourceType?: string,
  ) {
    super(DeployError.format(reason, stackName, logicalId, resourceType));
    this.name = 'DeployError';
  }

  private static format(reason: string, stackName?: string, logicalId?: string, resourceType?: string): string {
    const where: string[] = [];
    if (stackName) where.push(`stack ${stackName}`);
    if (logicalId) where.push(`resource ${logicalId}${resourceType ? ` (${resourceType})` : ''}`);
    else if (resourceType) where.push(`type ${resourceType}`);
    return where.length ? `${where.join(', ')}: ${reason}` : reason;
  }
}

/**
 * A failure while resolving intrinsics. The resolver knows the expression but not which
 * resource it belongs to; the deployer rethrows it as a {@link DeployError} with the location.
 */
export class ResolveError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ResolveError';
  }
}
