/**
 * Typed, validated server configuration. This module is the only place that reads process.env
 * (through `loadConfig(env)`, which takes the environment as an argument so tests pass their own).
 * It never logs values: some of them are keys.
 */
import path from "node:path";
import { z } from "zod";
import { createReturnUrlPolicy, DEV_RETURN_URL_ORIGINS } from "../consent/return-url-policy.ts";

/** The validated configuration of one server instance. */
export interface Config {
  /** "development" (default: generates missing keys) or "production" (refuses to start without them). */
  mode: "development" | "production";
  /** TCP port to listen on; 0 picks a free one. */
  port: number;
  /** Interface to bind. */
  host: string;
  /** Absolute path of the data directory (SQLite database, generated development keys). */
  dataDir: string;
  /**
   * PostgreSQL connection string (DATABASE_URL): when set, storage is PostgreSQL and several
   * replicas may share it; otherwise SQLite in dataDir. May hold a password: never log it.
   */
  databaseUrl: string | undefined;
  /** Base URL at which browsers and agents reach this server (used in authUrl and callbacks). */
  publicUrl: string | undefined;
  /** pino log level. */
  logLevel: "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent";
  /** Encryption keyring from NEXUS_ENCRYPTION_KEYS, or undefined to load/generate it in dataDir. */
  encryptionKeys: string | undefined;
  /**
   * Origins a consent may return to (`https://app.example.com`, `http://localhost:*`). Development
   * default: localhost on any port; production default: none (every return_url is refused).
   */
  returnUrlOrigins: readonly string[];
  /** Largest accepted request body, in bytes (Connect, gRPC and REST alike). */
  maxBodyBytes: number;
  /** How long a graceful shutdown waits for in-flight requests, in milliseconds. */
  shutdownGraceMs: number;
}

/** A configuration problem, with every offending variable listed. */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    super(`invalid configuration:\n  - ${problems.join("\n  - ")}`);
    this.problems = problems;
  }
}

const integer = (name: string, min: number, max: number) =>
  z
    .string()
    .regex(/^\d+$/, `${name} must be a whole number`)
    .transform(Number)
    .pipe(z.number().int().min(min, `${name} must be at least ${min}`).max(max, `${name} must be at most ${max}`));

const envSchema = z.object({
  NODE_ENV: z.enum(["development", "production", "test"]).optional(),
  PORT: integer("PORT", 0, 65535).optional(),
  NEXUS_HOST: z.string().min(1).optional(),
  NEXUS_DATA_DIR: z.string().min(1, "NEXUS_DATA_DIR must not be empty").optional(),
  DATABASE_URL: z
    .string()
    .refine((v) => /^postgres(ql)?:\/\/./.test(v), "DATABASE_URL must be a postgres:// or postgresql:// URL")
    .optional(),
  NEXUS_PUBLIC_URL: z
    .url({ protocol: /^https?$/, message: "NEXUS_PUBLIC_URL must be an absolute http(s) URL" })
    .optional(),
  NEXUS_LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).optional(),
  NEXUS_ENCRYPTION_KEYS: z.string().min(1).optional(),
  NEXUS_RETURN_URL_ORIGINS: z.string().optional(),
  NEXUS_MAX_BODY_BYTES: integer("NEXUS_MAX_BODY_BYTES", 1024, 64 * 1024 * 1024).optional(),
  NEXUS_SHUTDOWN_GRACE_MS: integer("NEXUS_SHUTDOWN_GRACE_MS", 0, 600_000).optional(),
});

/**
 * Reads and validates the configuration from an environment map.
 *
 * @throws ConfigError listing every invalid variable, so an operator fixes them in one go.
 * @example loadConfig(process.env)
 */
export function loadConfig(env: Readonly<Record<string, string | undefined>>, cwd = process.cwd()): Config {
  // Empty strings are "unset": `PORT= npm start` should not fail on PORT.
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ""));
  const parsed = envSchema.safeParse(present);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`));
  }
  const e = parsed.data;
  const mode = e.NODE_ENV === "production" ? "production" : "development";
  const problems: string[] = [];
  if (mode === "production" && !e.NEXUS_ENCRYPTION_KEYS) {
    problems.push(
      "NEXUS_ENCRYPTION_KEYS: required when NODE_ENV=production (generate one with `npm run nexus -- keys generate`)",
    );
  }
  const returnUrlOrigins =
    e.NEXUS_RETURN_URL_ORIGINS !== undefined
      ? e.NEXUS_RETURN_URL_ORIGINS.split(",").map((s) => s.trim()).filter((s) => s !== "")
      : mode === "development"
        ? DEV_RETURN_URL_ORIGINS
        : [];
  try {
    createReturnUrlPolicy(returnUrlOrigins);
  } catch (err) {
    problems.push(`NEXUS_RETURN_URL_ORIGINS: ${(err as Error).message}`);
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return {
    mode,
    port: e.PORT ?? 8080,
    host: e.NEXUS_HOST ?? "127.0.0.1",
    dataDir: path.resolve(cwd, e.NEXUS_DATA_DIR ?? "data"),
    databaseUrl: e.DATABASE_URL,
    publicUrl: e.NEXUS_PUBLIC_URL?.replace(/\/+$/, ""),
    logLevel: e.NEXUS_LOG_LEVEL ?? (e.NODE_ENV === "test" ? "silent" : "info"),
    encryptionKeys: e.NEXUS_ENCRYPTION_KEYS,
    returnUrlOrigins,
    maxBodyBytes: e.NEXUS_MAX_BODY_BYTES ?? 1024 * 1024,
    shutdownGraceMs: e.NEXUS_SHUTDOWN_GRACE_MS ?? 10_000,
  };
}
