/**
 * An agent as an outsider writes it, in its own project that depends only on the packed
 * @nexus/client (client-package.test.ts copies this directory into a fresh temporary project).
 * It calls GetToken, reads the first WatchCredentials event, applies the credential to a request
 * to the "provider" at TARGET_URL, and prints what it saw as one JSON line. Not part of the repo's
 * own type-check: it resolves @nexus/client only where the tarball is installed.
 */
import { env, versions } from "node:process";
import {
  applyCredential,
  ConnectionStatus,
  type Credential,
  createNexusClient,
  ErrorReason,
  errorInfo,
  isNotFound,
  StrategyType,
  TokenService,
  toSeedCredential,
} from "@nexus/client";

function required(name: string): string {
  const value = env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
}

const connectionId = required("CONNECTION_ID");
const client = createNexusClient({ baseUrl: required("NEXUS_URL"), apiKey: required("NEXUS_API_KEY"), protocol: "grpc" });
try {
  const { status } = await client.connections.checkConnection({ connectionId });

  const { credential } = await client.tokens.getToken({ connectionId });
  if (!credential) throw new Error("GetToken answered without a credential");

  const abort = new AbortController();
  let watched: Credential | undefined;
  for await (const next of client.watchCredentials(connectionId, { signal: abort.signal })) {
    watched = next;
    abort.abort();
  }

  const request = await applyCredential(credential, new Request(required("TARGET_URL")));
  const answer = await fetch(request);

  const missing = await client.tokens.getToken({ connectionId: "conn_does_not_exist" }).then(
    () => undefined,
    (err: unknown) => err,
  );

  console.log(
    JSON.stringify({
      node: versions.node,
      active: status === ConnectionStatus.ACTIVE,
      headerStrategy: credential.strategy?.type === StrategyType.HEADER,
      service: TokenService.typeName,
      version: Number(credential.version),
      watchedVersion: watched === undefined ? null : Number(watched.version),
      providerStatus: answer.status,
      seed: toSeedCredential(credential),
      missingIsNotFound: isNotFound(missing),
      missingReason: errorInfo(missing)?.reason === ErrorReason.CONNECTION_NOT_FOUND ? "CONNECTION_NOT_FOUND" : null,
    }),
  );
} finally {
  client.close();
}
