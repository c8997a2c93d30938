/**
 * `nexus providers plan|apply`: parses the arguments (node:util parseArgs), builds the client and
 * maps every failure to an exit code and a one-line message — 2 for usage errors, 1 for a bad file
 * or a server failure. The API key comes from --api-key or NEXUS_API_KEY and is never printed.
 */
import { Code, ConnectError } from "@connectrpc/connect";
import { DEFAULT_URL } from "./api-client.ts";
import { parseCommandArgs, usageError } from "./command-args.ts";
import { providersApply } from "./providers-apply.ts";
import { ProvidersFileError } from "./providers-file.ts";
import { type CommandIo, type ProvidersOptions, providersPlan } from "./providers-plan.ts";
import { createProviderClient } from "./providers-remote.ts";

/** Usage text of the providers commands. */
export const PROVIDERS_USAGE = `usage: nexus providers plan|apply -f FILE [options]

  plan                    show how the server's providers differ from FILE
  apply                   make the server's providers match FILE

options:
  -f, --file FILE         providers file (YAML), required
      --url URL           server base URL (default $NEXUS_URL or http://127.0.0.1:8080)
      --api-key KEY       admin API key (default: $NEXUS_API_KEY)
      --prune             also delete providers that are not in FILE
      --update-secrets    re-send client secrets the server already has (rotation)
      --detailed-exitcode plan only: exit 3 when there are changes
`;

/** Runs `nexus providers …` with `argv` after the word "providers"; returns the exit code. */
export async function runProvidersCommand(argv: string[], io: CommandIo): Promise<number> {
  const parsed = parseCommandArgs(
    argv,
    {
      file: { type: "string", short: "f" },
      url: { type: "string" },
      "api-key": { type: "string" },
      prune: { type: "boolean" },
      "update-secrets": { type: "boolean" },
      "detailed-exitcode": { type: "boolean" },
    },
    PROVIDERS_USAGE,
    io,
  );
  if (typeof parsed === "number") return parsed;
  const { positionals, values } = parsed;
  const [command, ...rest] = positionals;
  if (command !== "plan" && command !== "apply") return usage(io, `unknown providers command "${positionals.join(" ")}"`);
  if (rest.length > 0) return usage(io, `unexpected argument "${rest[0]}"`);
  if (values.file === undefined || values.file === "") return usage(io, "-f FILE is required");
  if (command === "apply" && values["detailed-exitcode"]) return usage(io, "--detailed-exitcode is for plan only");
  const baseUrl = values.url ?? (io.env.NEXUS_URL || DEFAULT_URL);
  if (!/^https?:\/\/[^/]/.test(baseUrl)) return usage(io, "--url must be an http(s) URL");

  const options: ProvidersOptions = {
    file: values.file,
    baseUrl,
    prune: values.prune ?? false,
    updateSecrets: values["update-secrets"] ?? false,
    detailedExitCode: values["detailed-exitcode"] ?? false,
  };
  const client = createProviderClient({ baseUrl, apiKey: values["api-key"] ?? io.env.NEXUS_API_KEY });
  try {
    return command === "plan" ? await providersPlan(options, io, client) : await providersApply(options, io, client);
  } catch (err) {
    io.stderr.write(`nexus: ${describeFailure(err, baseUrl)}\n`);
    return 1;
  }
}

function usage(io: CommandIo, message: string): number {
  return usageError(io, PROVIDERS_USAGE, message);
}

function describeFailure(err: unknown, baseUrl: string): string {
  if (err instanceof ProvidersFileError) return err.message;
  if (err instanceof ConnectError) {
    if (err.code === Code.Unavailable || err.code === Code.Unknown) return `cannot reach the server at ${baseUrl}: ${err.rawMessage}`;
    if (err.code === Code.Unauthenticated || err.code === Code.PermissionDenied) {
      return `the server refused the API key (${Code[err.code]}): set --api-key or NEXUS_API_KEY to an admin key`;
    }
    return `server answered ${Code[err.code]}: ${err.rawMessage}`;
  }
  return err instanceof Error ? err.message : String(err);
}
