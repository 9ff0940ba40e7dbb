/**
 * Configuration read once from the environment at cold start. A missing or malformed variable
 * fails the function immediately with the variable named, rather than at the first request.
 */
import { z } from 'zod';
import { ConfigError } from './errors.js';

/**
 * Parses `env` (default `process.env`) with a zod object schema whose keys are variable names.
 * @throws ConfigError naming the first invalid variable.
 */
export function loadConfig<S extends z.ZodRawShape>(shape: S, env: Record<string, string | undefined> = process.env): z.infer<z.ZodObject<S>> {
  const result = z.object(shape).safeParse(env);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    const variable = String(issue.path[0] ?? '(unknown)');
    const message = env[variable] === undefined ? 'is required but not set' : issue.message;
    throw new ConfigError(variable, message);
  }
  return result.data;
}

/** A required non-empty string variable. */
export const required = () => z.string().min(1);
/** A positive integer variable, with a default. */
export const positiveInt = (fallback: number) => z.coerce.number().int().positive().default(fallback);
