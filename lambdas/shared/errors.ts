/**
 * The typed error base shared by every bounded context. A subclass's class name is its
 * `name`, which is exactly what Step Functions matches in Retry/Catch `ErrorEquals`
 * (Lambda reports it as `errorType`), so ASL can name real errors instead of `States.ALL`.
 */
export abstract class ConvergeError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The environment or configuration is invalid; raised at cold start so the function fails fast. */
export class ConfigError extends ConvergeError {
  constructor(
    /** The offending variable. */
    public readonly variable: string,
    message: string,
  ) {
    super(`invalid configuration ${variable}: ${message}`);
  }
}

/** An input (event, record, request) does not satisfy its contract. Never retried: it is parked. */
export class ContractViolation extends ConvergeError {
  constructor(
    /** Which contract, e.g. `shop.orders/OrderPlaced`. */
    public readonly contract: string,
    /** JSON path of the first offending field, e.g. `detail.items[0].quantity`. */
    public readonly path: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`${contract}: ${path || '(root)'}: ${message}`, options);
  }
}

/** An event's `schemaVersion` is newer than this code knows. Parked, never guessed at. */
export class UnknownSchemaVersion extends ConvergeError {
  constructor(
    public readonly contract: string,
    public readonly schemaVersion: unknown,
    public readonly supported: number,
  ) {
    super(`${contract}: schemaVersion ${String(schemaVersion)} is not supported (this code reads up to ${supported})`);
  }
}

/** A payload exceeds a hard size limit (DynamoDB's 400 KB item, EventBridge's 256 KB entry). */
export class PayloadTooLarge extends ConvergeError {
  constructor(
    public readonly contract: string,
    public readonly sizeBytes: number,
    public readonly limitBytes: number,
  ) {
    super(`${contract}: payload of ${sizeBytes} bytes exceeds the limit of ${limitBytes} bytes`);
  }
}
