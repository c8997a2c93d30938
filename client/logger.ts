/**
 * The logging contract of the client: any pino-compatible logger (pino itself fits) or the silent
 * default. It owns the one function that turns an error into loggable fields; callers log ids,
 * versions and codes through it, never credential values, URLs with query strings or raw bodies.
 */
import { ConnectError } from "@connectrpc/connect";

/** A structured logger with pino's call shape: `logger.info({ connection_id }, "message")`. */
export interface Logger {
  debug(fields: Record<string, unknown>, message?: string): void;
  info(fields: Record<string, unknown>, message?: string): void;
  warn(fields: Record<string, unknown>, message?: string): void;
  error(fields: Record<string, unknown>, message?: string): void;
}

/**
 * A logger that drops everything; the default when none is passed.
 *
 * @example
 * const client = createNexusClient({ baseUrl, logger: silentLogger });
 */
export const silentLogger: Logger = {
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: () => {},
};

/**
 * Fields describing an error without its payload: the class name, the Connect code or Node error
 * code, and the message only for ConnectErrors (Nexus builds those without secrets). Other
 * messages are left out because network libraries put full URLs, query strings included, in them.
 */
export function errorFields(err: unknown): Record<string, unknown> {
  if (err instanceof ConnectError) {
    return { error_name: err.name, error_code: err.code, error_message: err.rawMessage };
  }
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return { error_name: err.name, ...(typeof code === "string" || typeof code === "number" ? { error_code: code } : {}) };
  }
  return { error_name: typeof err };
}
