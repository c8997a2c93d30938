/**
 * `nexus providers apply`: computes the same plan as `plan`, then creates, updates (with a field
 * mask of exactly the drifted fields) and, with --prune, deletes providers, printing each action.
 * Stops at the first failure (exit 1); what was done before it stays done and is printed.
 */
import { clone } from "@bufbuild/protobuf";
import { type Provider, ProviderSchema } from "../../gen/nexus/v1/providers_pb.ts";
import type { PlannedWrite } from "./providers-diff.ts";
import { type CommandIo, loadPlan, type ProvidersOptions } from "./providers-plan.ts";
import type { ProviderClient } from "./providers-remote.ts";

/** Runs `providers apply`. */
export async function providersApply(options: ProvidersOptions, io: CommandIo, client: ProviderClient): Promise<number> {
  const plan = await loadPlan(options, io, client);
  let done = 0;
  for (const c of plan.creates) {
    await client.createProvider({ provider: withSecret(c) });
    io.stdout.write(`created ${c.name}\n`);
    done++;
  }
  for (const u of plan.updates) {
    await client.updateProvider({ provider: withSecret(u), updateMask: { paths: u.paths } });
    io.stdout.write(`updated ${u.name}: ${u.paths.join(", ")}\n`);
    done++;
  }
  for (const name of plan.deletes) {
    await client.deleteProvider({ name, force: false });
    io.stdout.write(`deleted ${name}\n`);
    done++;
  }
  io.stdout.write(
    done === 0
      ? `No changes: the server matches ${options.file}.\n`
      : `Apply complete: ${plan.creates.length} created, ${plan.updates.length} updated, ${plan.deletes.length} deleted.\n`,
  );
  return 0;
}

// The normalized provider plus the secret, only in the request that sets it.
function withSecret(write: PlannedWrite): Provider {
  const provider = clone(ProviderSchema, write.provider);
  if (write.clientSecret !== undefined && provider.oauth !== undefined) provider.oauth.clientSecret = write.clientSecret;
  return provider;
}
