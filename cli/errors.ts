/**
 * CLI failures with a meaning for the exit code: 1 = a problem was found (drift, a failed saga),
 * 2 = usage or connection error. Each carries an actionable message.
 */
export class CliError extends Error {
  constructor(
    message: string,
    public readonly exitCode: 1 | 2,
    /** What the operator can do about it. */
    public readonly hint?: string,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** Wrong arguments, unknown resource, or a command that can't run here. */
export class UsageError extends CliError {
  constructor(message: string, hint?: string) {
    super(message, 2, hint);
  }
}

/** The endpoint could not be reached or refused the credentials. */
export class ConnectionError extends CliError {
  constructor(message: string, hint?: string) {
    super(message, 2, hint);
  }
}

/** The command worked and found a problem the operator must look at. */
export class ProblemFound extends CliError {
  constructor(message: string, hint?: string) {
    super(message, 1, hint);
  }
}

/** Network-level error codes: the endpoint is down, unknown, or hung up. */
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE', 'UND_ERR_SOCKET', 'UND_ERR_CONNECT_TIMEOUT']);
/** SDK error names that mean the endpoint refused who we are, or where we asked. */
const AUTH_NAMES = new Set([
  'CredentialsProviderError',
  'UnrecognizedClientException',
  'InvalidClientTokenId',
  'InvalidSignatureException',
  'ExpiredToken',
  'ExpiredTokenException',
  'AccessDeniedException',
  'AccessDenied',
  'TimeoutError',
]);

/** True when `err` (or its cause) is a failure to reach or authenticate to the endpoint. */
export function isConnectionFailure(err: unknown): boolean {
  for (let e = err as { name?: string; code?: string; cause?: unknown; message?: string } | undefined, depth = 0; e && depth < 5; e = e.cause as typeof e, depth++) {
    if (e.code && NETWORK_CODES.has(e.code)) return true;
    if (e.name && AUTH_NAMES.has(e.name)) return true;
    if (typeof e.message === 'string' && /Region is missing|connect ECONNREFUSED|getaddrinfo|socket hang up|fetch failed/.test(e.message)) return true;
  }
  return false;
}

/**
 * Maps anything a command threw to a CliError. Connection and credential failures become
 * {@link ConnectionError}; anything else unexpected also exits 2, because the command could not
 * do its job (1 is reserved for "it worked and found a problem").
 */
export function toCliError(err: unknown, endpoint: string | undefined): CliError {
  if (err instanceof CliError) return err;
  const e = err as Error;
  const where = endpoint ?? 'AWS';
  if (isConnectionFailure(err)) {
    return new ConnectionError(`could not talk to ${where}: ${e?.name ?? 'Error'}: ${e?.message ?? String(err)}`, 'check AWS_ENDPOINT_URL / --endpoint, AWS_PROFILE and AWS_REGION; locally, start the cloud with npm start');
  }
  return new CliError(`unexpected ${e?.name ?? 'error'}: ${e?.message ?? String(err)}`, 2, 'rerun with CONVERGE_DEBUG=1 for the stack trace');
}
