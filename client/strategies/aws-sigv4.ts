/**
 * The aws_sigv4 strategy: AWS Signature Version 4 computed by @smithy/signature-v4 (the AWS SDK's
 * own signer, never a hand-written one). It signs method, path, query, headers and the body hash;
 * for RPC metadata, whose body it cannot see, it signs `UNSIGNED-PAYLOAD`. The `host` header it
 * signs is `url.host`, exactly what fetch and ws send, and is left out of the returned headers.
 * The signer is an optional peer dependency (about 9 MB installed), imported on first use, so only
 * agents whose providers use SigV4 install it.
 * @see https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-create-signed-request.html
 */
import { StrategyError } from "../errors.ts";
import { type AppliedParts, credentialField, optionalCredentialField, type StrategyApplier } from "./applier.ts";

/**
 * Applies an aws_sigv4 credential (`access_key`, `secret_key`, optional `session_token`).
 *
 * @example
 * // strategy { type: AWS_SIGV4, awsSigv4: { service: "execute-api", region: "eu-west-1" } }
 * const { headers } = await applyAwsSigV4(parts, credential, env); // authorization: AWS4-HMAC-SHA256 ...
 */
export const applyAwsSigV4: StrategyApplier = async (parts, credential, env): Promise<AppliedParts> => {
  const config = credential.strategy?.config.case === "awsSigv4" ? credential.strategy.config.value : undefined;
  const service = config?.service;
  if (!service) throw new StrategyError("aws_sigv4", "strategy has no service", "service");
  const sessionToken = optionalCredentialField(credential, "aws_sigv4", "session_token");
  const { Hash, SignatureV4 } = await loadSigner();
  const signer = new SignatureV4({
    service,
    region: config?.region || "us-east-1",
    credentials: {
      accessKeyId: credentialField(credential, "aws_sigv4", "access_key"),
      secretAccessKey: credentialField(credential, "aws_sigv4", "secret_key"),
      ...(sessionToken ? { sessionToken } : {}),
    },
    sha256: Hash.bind(null, "sha256"),
  });

  const headers: Record<string, string> = {};
  parts.headers.forEach((value, name) => {
    headers[name] = value;
  });
  headers.host = parts.url.host;
  if (parts.body === undefined) headers["x-amz-content-sha256"] = "UNSIGNED-PAYLOAD";
  const query: Record<string, string | string[]> = {};
  for (const name of new Set(parts.url.searchParams.keys())) {
    const values = parts.url.searchParams.getAll(name);
    query[name] = values.length === 1 ? values[0]! : values;
  }

  const signed = await signer.sign(
    {
      method: parts.method,
      protocol: parts.url.protocol,
      hostname: parts.url.hostname,
      ...(parts.url.port ? { port: Number(parts.url.port) } : {}),
      path: parts.url.pathname,
      query,
      headers,
      body: parts.body,
    },
    { signingDate: new Date(env.clock.now()) },
  );

  const out = new Headers();
  for (const [name, value] of Object.entries(signed.headers)) {
    if (name.toLowerCase() !== "host") out.set(name, value);
  }
  return { url: new URL(parts.url), headers: out };
};

/** The AWS SDK's signer and hash, or a StrategyError naming the packages to install. */
async function loadSigner(): Promise<{
  Hash: typeof import("@smithy/hash-node").Hash;
  SignatureV4: typeof import("@smithy/signature-v4").SignatureV4;
}> {
  try {
    const [{ Hash }, { SignatureV4 }] = await Promise.all([import("@smithy/hash-node"), import("@smithy/signature-v4")]);
    return { Hash, SignatureV4 };
  } catch (err) {
    if ((err as { code?: unknown }).code !== "ERR_MODULE_NOT_FOUND") throw err;
    throw new StrategyError(
      "aws_sigv4",
      "signing needs the optional peer dependencies @smithy/signature-v4 and @smithy/hash-node: npm install them",
    );
  }
}
