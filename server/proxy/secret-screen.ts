/**
 * The proxy's screen of a provider's response for the credential: which values are screened (the
 * credential as stored and as sent), and the body screen that stops a relayed body before any byte
 * of one of them leaves.
 */
import type { Strategy } from "../domain/strategy.ts";
import type { UsageCredential } from "../tokens/usage-credential.ts";

/**
 * Credential fields that identify rather than authenticate (basic auth's user name, e.g. Twilio's
 * account SID; SigV4's access key id; an OAuth token set's extras such as instance_url): providers
 * put them in ordinary answers, so the body screen leaves them out (headers are still screened).
 */
export function identifierFields(strategy: Strategy, usage: UsageCredential): ReadonlySet<string> {
  // An OAuth token set's extra fields (Salesforce's instance_url) are context, not secrets.
  if (typeof usage.credentials.access_token === "string" && strategy.type === "oauth2") {
    return new Set(Object.keys(usage.credentials).filter((name) => name !== "access_token"));
  }
  if (strategy.type === "basic_auth") return new Set([strategy.usernameField]);
  if (strategy.type === "aws_sigv4") return new Set(["access_key"]);
  return NO_FIELDS;
}

const NO_FIELDS: ReadonlySet<string> = new Set();

/** The credential's string values long enough to recognise (expiry numbers, short flags and `except` left out). */
export function secretValues(usage: UsageCredential, except: ReadonlySet<string> = NO_FIELDS): string[] {
  const values: string[] = [];
  for (const name in usage.credentials) {
    if (!Object.hasOwn(usage.credentials, name)) continue;
    const value = usage.credentials[name];
    if (typeof value === "string" && value.length >= 8 && name !== "expires_at" && !except.has(name)) {
      values.push(value, encodeURIComponent(value));
    }
  }
  return values;
}

/** Headers a strategy sets that carry no credential (SigV4's date and body hash). */
export const UNSECRET_APPLIED_HEADERS: ReadonlySet<string> = new Set(["x-amz-date", "x-amz-content-sha256", "content-length", "host"]);

/**
 * A credential-bearing header value as sent, and its credential part ("Basic <base64>" → the
 * base64): a provider echoing it back must not hand it to the agent, even when it is not the
 * stored value verbatim (basic_auth sends base64 of username:password).
 */
export function appliedHeaderSecrets(value: string): string[] {
  const credentialPart = value.slice(value.lastIndexOf(" ") + 1);
  return [value, credentialPart].filter((v) => v.length >= 8);
}

/** The provider's response body holds the credential: the relay stops before any byte of it leaves. */
export class CredentialInBody extends Error {
  override readonly name = "CredentialInBody";
}

const EMPTY = Buffer.alloc(0);

/**
 * Screens a response body for `secrets` (the credential as stored and as sent): `pass` hands `emit`
 * the bytes that may leave now, or throws CredentialInBody before any byte of a secret has left.
 *
 * What it holds back is the longest end of the body seen so far that is the start of a secret (so
 * usually nothing): only such bytes can become a secret with the next chunk, and none of them has
 * left. A secret that completes with a chunk therefore starts in the held-back tail or in the chunk:
 * the tail and the chunk's first bytes are compared in place (the boundary), the chunk itself is
 * searched with indexOf, and the chunk is never copied. `flush` returns the held-back bytes at the
 * body's end. A provider endpoint that echoes the request (an "anything" or debug route, an account
 * resource returning its auth token) cannot hand the credential to the agent.
 */
export class SecretScreen {
  private readonly needles: Buffer[];
  /** Longest needle length − 1: the most a tail can hold. */
  private readonly keep: number;
  /** The needles' first bytes (a byte that starts none cannot start a held-back tail). */
  private readonly firstBytes: number[] = [];
  private tail: Buffer = EMPTY;

  constructor(secrets: readonly string[]) {
    const forms = new Set<string>();
    for (const secret of secrets) {
      if (secret.length < 8) continue;
      forms.add(secret);
      // JSON encoders that escape '/' (PHP's json_encode) write a base64 token as "ab\/cd".
      if (secret.includes("/")) forms.add(secret.replaceAll("/", "\\/"));
    }
    this.needles = [...forms].map((form) => Buffer.from(form, "utf8"));
    let longest = 0;
    for (const needle of this.needles) {
      longest = Math.max(longest, needle.length);
      if (!this.firstBytes.includes(needle[0] ?? 0)) this.firstBytes.push(needle[0] ?? 0);
    }
    this.keep = Math.max(0, longest - 1);
  }

  /** Whether nothing is screened (no secret long enough). */
  get isEmpty(): boolean {
    return this.needles.length === 0;
  }

  /**
   * Screens the next `chunk`: calls `emit` with what may leave now (at most twice: the released part
   * of the held-back tail, then the chunk's part), in order, after the whole check.
   * @throws CredentialInBody
   */
  pass(chunk: Buffer, emit: (bytes: Buffer) => void): void {
    if (this.needles.length === 0) {
      if (chunk.length > 0) emit(chunk);
      return;
    }
    const tail = this.tail;
    const total = tail.length + chunk.length;
    // A secret wholly inside the chunk, or one that starts in the tail and ends in the chunk.
    for (const needle of this.needles) {
      if (chunk.indexOf(needle) !== -1) throw found();
      for (let p = 0; p < tail.length; p++) {
        if (total - p >= needle.length && matchesAt(tail, chunk, p, needle, needle.length)) throw found();
      }
    }
    // The new tail: from the first position (within the last `keep` bytes) where what follows is
    // the start of a needle. Every earlier position was ruled out, so its bytes may leave.
    let hold = total;
    search: for (let p = Math.max(0, total - this.keep); p < total; p++) {
      const byte = p < tail.length ? (tail[p] as number) : (chunk[p - tail.length] as number);
      if (!this.firstBytes.includes(byte)) continue;
      for (const needle of this.needles) {
        if (total - p < needle.length && matchesAt(tail, chunk, p, needle, total - p)) {
          hold = p;
          break search;
        }
      }
    }
    if (hold >= tail.length) {
      // The whole tail leaves, then the chunk up to the new tail (a view, no copy).
      const cut = hold - tail.length;
      this.tail = cut === chunk.length ? EMPTY : Buffer.from(chunk.subarray(cut));
      if (tail.length > 0) emit(tail);
      if (cut > 0) emit(cut === chunk.length ? chunk : chunk.subarray(0, cut));
    } else {
      // The new tail starts inside the old one: all of the chunk stays with it (both are short).
      this.tail = Buffer.concat([tail.subarray(hold), chunk]);
      if (hold > 0) emit(tail.subarray(0, hold));
    }
  }

  /** The held-back bytes, at the body's end (they hold no secret: the body ended before one completed). */
  flush(): Buffer {
    const rest = this.tail;
    this.tail = EMPTY;
    return rest;
  }
}

function found(): CredentialInBody {
  return new CredentialInBody("the provider's response body contains the credential");
}

/**
 * Whether bytes [p, p + n) of tail ++ chunk equal needle[0, n), compared in place (no copy). A byte
 * loop: the candidates are few and short, and most differ at their first bytes, where a native
 * compare would cost more to call than to run. Requires p + n <= tail.length + chunk.length.
 */
function matchesAt(tail: Buffer, chunk: Buffer, p: number, needle: Buffer, n: number): boolean {
  let k = 0;
  for (; k < n && p + k < tail.length; k++) if (tail[p + k] !== needle[k]) return false;
  for (let at = p + k - tail.length; k < n; k++, at++) if (chunk[at] !== needle[k]) return false;
  return true;
}
