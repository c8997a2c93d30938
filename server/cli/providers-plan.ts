/**
 * `nexus providers plan`: reads the providers file, fetches the server's providers and prints the
 * drift (`+` create, `~` update with a field diff, `-` delete with --prune). Exit 0 when nothing
 * differs; with --detailed-exitcode, 3 when something does. Secrets print only as "(write-only …)".
 */
import type { JsonObject, JsonValue } from "@bufbuild/protobuf";
import { createProfileValidator } from "../providers/validate-profile.ts";
import { type ProvidersPlan, planProviders } from "./providers-diff.ts";
import { readProvidersFile } from "./providers-file.ts";
import { catalogPresets, listAllProviders, type ProviderClient } from "./providers-remote.ts";

/** Options shared by plan and apply. */
export interface ProvidersOptions {
  file: string;
  baseUrl: string;
  prune: boolean;
  updateSecrets: boolean;
  detailedExitCode: boolean;
}

/** Where a command writes, and the environment it may read secrets from. */
export interface CommandIo {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
  env: Readonly<Record<string, string | undefined>>;
}

/** Exit code of plan --detailed-exitcode when there is drift (2 is taken by usage errors). */
export const EXIT_DRIFT = 3;

/** Reads the file and the server's state and plans; prints the file's warnings to stderr. */
export async function loadPlan(options: ProvidersOptions, io: CommandIo, client: ProviderClient): Promise<ProvidersPlan> {
  let presets: Promise<Map<string, JsonObject>> | undefined;
  const file = await readProvidersFile(options.file, { env: io.env, presets: () => (presets ??= catalogPresets(client)) });
  for (const warning of file.warnings) io.stderr.write(`warning: ${warning}\n`);
  const current = await listAllProviders(client);
  return planProviders({
    desired: file.providers,
    current,
    validator: createProfileValidator(),
    prune: options.prune,
    updateSecrets: options.updateSecrets,
  });
}

/** Whether the plan changes anything. */
export function hasDrift(plan: ProvidersPlan): boolean {
  return plan.creates.length + plan.updates.length + plan.deletes.length > 0;
}

/** The plan as text, one block per provider. */
export function renderPlan(plan: ProvidersPlan, source: string): string {
  const lines: string[] = [];
  for (const c of plan.creates) {
    const secret = c.clientSecret === undefined ? "" : ", client secret (write-only, will be set)";
    lines.push(`+ ${c.name} (${authTypeOf(c.provider.authType)}${secret})`);
  }
  for (const u of plan.updates) {
    lines.push(`~ ${u.name}`);
    for (const change of u.changes) {
      lines.push(`    ${change.path}: ${change.note ?? `${show(change.from)} → ${show(change.to)}`}`);
    }
  }
  for (const name of plan.deletes) lines.push(`- ${name}`);
  if (!hasDrift(plan)) lines.push(`No changes: the server matches ${source}.`);
  else lines.push("", `Plan: ${plan.creates.length} to create, ${plan.updates.length} to update, ${plan.deletes.length} to delete.`);
  if (plan.unmanaged.length > 0) {
    lines.push(
      `(${plan.unmanaged.length} provider(s) on the server are not in ${source}: ${plan.unmanaged.join(", ")}; --prune deletes them)`,
    );
  }
  return `${lines.join("\n")}\n`;
}

/** Runs `providers plan`. */
export async function providersPlan(options: ProvidersOptions, io: CommandIo, client: ProviderClient): Promise<number> {
  const plan = await loadPlan(options, io, client);
  io.stdout.write(renderPlan(plan, options.file));
  return options.detailedExitCode && hasDrift(plan) ? EXIT_DRIFT : 0;
}

function show(value: JsonValue | undefined): string {
  return value === undefined ? "(unset)" : JSON.stringify(value);
}

const AUTH_TYPES = ["unspecified", "oauth2", "oauth2_client_credentials", "api_key", "basic_auth"];
function authTypeOf(value: number): string {
  return AUTH_TYPES[value] ?? String(value);
}
