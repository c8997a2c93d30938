/**
 * Structured logging with pino. Redaction is configured here once, for every field that could carry
 * a secret, so a careless `logger.info({ req })` still cannot print a token. Values of URL query
 * strings are never logged (they carry codes and states); log ids, never values.
 */
import { type DestinationStream, type Logger as PinoLogger, pino } from "pino";

/** The logger type used across the server (pino's). */
export type Logger = PinoLogger;

/** Paths pino replaces with "[redacted]" wherever they appear (two levels deep). */
export const REDACTED_PATHS: readonly string[] = [
  "authorization",
  "*.authorization",
  "headers.authorization",
  "*.headers.authorization",
  "cookie",
  "*.cookie",
  "access_token",
  "*.access_token",
  "refresh_token",
  "*.refresh_token",
  "id_token",
  "*.id_token",
  "client_secret",
  "*.client_secret",
  "clientSecret",
  "*.clientSecret",
  "code",
  "*.code_verifier",
  "state",
  "*.state",
  "password",
  "*.password",
  "secret",
  "*.secret",
  "api_key",
  "*.api_key",
  "apiKey",
  "*.apiKey",
  "credentials",
  "*.credentials",
  // camelCase spellings of the same secrets, as domain objects carry them.
  "accessToken",
  "*.accessToken",
  "refreshToken",
  "*.refreshToken",
  "idToken",
  "*.idToken",
  "codeVerifier",
  "*.codeVerifier",
  "token",
  "*.token",
  // API keys and server secrets: the x-api-key header, configuration that holds keys.
  '["x-api-key"]',
  '*["x-api-key"]',
  '*.headers["x-api-key"]',
  "adminApiKey",
  "*.adminApiKey",
  "metricsToken",
  "*.metricsToken",
  "encryptionKeys",
  "*.encryptionKeys",
  "secretHash",
  "*.secretHash",
];

/** Creates the server logger. `destination` defaults to stdout (tests pass a stream to scan). */
export function createLogger(options: { level: string; destination?: DestinationStream }): Logger {
  return pino(
    {
      level: options.level,
      base: { service: "nexus" },
      redact: { paths: [...REDACTED_PATHS], censor: "[redacted]" },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    options.destination,
  );
}

/** Strips the query string and fragment from a URL or path before it is logged. */
export function redactUrl(url: string): string {
  const cut = url.search(/[?#]/);
  return cut === -1 ? url : `${url.slice(0, cut)}?[redacted]`;
}
