/**
 * The SSRF rules for webhook targets. A URL must be https (http only when the operator allows it),
 * carry no user:password and be at most 2048 characters; every address its host resolves to must
 * be public unicast: loopback, private (RFC 1918), shared/CGNAT (100.64/10), link-local (so cloud
 * metadata at 169.254.169.254), unique-local IPv6 (fc00::/7, e.g. fd00:ec2::254), multicast,
 * broadcast, unspecified, reserved and the IPv6 ranges that embed IPv4 (6to4, Teredo, NAT64, IPv4-compatible ::/96) are
 * refused unless a CIDR on the operator's allowlist contains the address. IPv4-mapped IPv6 is judged
 * as the IPv4 address. Range classification is ipaddr.js's (`range()`: only "unicast" passes).
 *
 * The check runs where the socket is opened: `pinnedLookup` resolves the name once, checks every
 * answer and hands exactly those addresses to the connection, so a DNS answer that changes between
 * check and connect (rebinding) cannot steer the request elsewhere.
 */
import { type LookupAddress, lookup } from "node:dns";
import { isIP } from "node:net";
import ipaddr from "ipaddr.js";
import { WebhookTargetNotAllowedError } from "../domain/errors.ts";

/** What the operator allows beyond public https targets. */
export interface TargetPolicy {
  /** Whether http:// URLs are accepted (NEXUS_WEBHOOK_ALLOW_HTTP). */
  isHttpAllowed: boolean;
  /** CIDRs whose addresses are allowed even though not public, e.g. "127.0.0.0/8", "10.1.0.0/16" (NEXUS_WEBHOOK_ALLOWED_CIDRS). */
  allowedCidrs: readonly string[];
}

/** Resolves a host name to all its addresses (default: node:dns lookup, as the OS resolver answers). */
export type ResolveHost = (hostname: string) => Promise<LookupAddress[]>;

/** Longest URL accepted. */
export const MAX_URL_LENGTH = 2048;

/** The default resolver: every address getaddrinfo returns, in its order. */
export const systemResolve: ResolveHost = (hostname) =>
  new Promise((resolve, reject) => {
    lookup(hostname, { all: true, verbatim: true }, (err, addresses) => (err ? reject(err) : resolve(addresses)));
  });

/** A compiled policy: URL syntax check, address check and the pinned lookup for sockets. */
export interface TargetRules {
  /** Parses and checks the URL's form (scheme, credentials, length, literal IP host); throws WebhookTargetNotAllowedError. */
  checkUrl(url: string): URL;
  /** Whether `address` (an IP literal) may be connected to. */
  isAddressAllowed(address: string): boolean;
  /** Resolves `hostname` (or takes an IP literal) and returns its addresses, all allowed; else throws WebhookTargetNotAllowedError. */
  resolveAllowed(hostname: string): Promise<LookupAddress[]>;
}

/** Builds the rules; an unparsable CIDR in the policy throws (config validates them first). */
export function createTargetRules(policy: TargetPolicy, resolveHost: ResolveHost = systemResolve): TargetRules {
  const allowed = policy.allowedCidrs.map((cidr) => ipaddr.parseCIDR(cidr));
  // IPv4-compatible IPv6 (::a.b.c.d, deprecated by RFC 4291) embeds an IPv4 address that ipaddr.js
  // does not classify ("::7f00:1" is "unicast"); refused like the other embedding ranges.
  const ipv4Compatible = ipaddr.parseCIDR("::/96");
  const isAddressAllowed = (address: string): boolean => {
    if (!ipaddr.isValid(address)) return false;
    const parsed = ipaddr.process(address);
    for (const [range, bits] of allowed) {
      if (range.kind() === parsed.kind() && parsed.match(range, bits)) return true;
    }
    if (parsed.kind() === "ipv6" && parsed.match(ipv4Compatible)) return false;
    return parsed.range() === "unicast";
  };
  const refuse = (address: string) =>
    new WebhookTargetNotAllowedError(
      "address",
      `the host resolves to ${address}, which is not a public address (allow it with NEXUS_WEBHOOK_ALLOWED_CIDRS)`,
    );
  return {
    isAddressAllowed,
    checkUrl(text) {
      if (text.length > MAX_URL_LENGTH) throw new WebhookTargetNotAllowedError("format", `must be at most ${MAX_URL_LENGTH} characters`);
      let url: URL;
      try {
        url = new URL(text);
      } catch {
        throw new WebhookTargetNotAllowedError("format", "must be an absolute URL");
      }
      // Percent-encoding and punycode can make the stored form (href) several times longer.
      if (url.href.length > MAX_URL_LENGTH)
        throw new WebhookTargetNotAllowedError("format", `must be at most ${MAX_URL_LENGTH} characters`);
      if (url.protocol !== "https:" && !(url.protocol === "http:" && policy.isHttpAllowed)) {
        throw new WebhookTargetNotAllowedError(
          "scheme",
          policy.isHttpAllowed ? "must be an https or http URL" : "must be an https URL (http needs NEXUS_WEBHOOK_ALLOW_HTTP)",
        );
      }
      if (url.username !== "" || url.password !== "")
        throw new WebhookTargetNotAllowedError("format", "must not contain a user name or password");
      if (url.hostname === "") throw new WebhookTargetNotAllowedError("format", "must name a host");
      const literal = hostAddress(url.hostname);
      if (literal !== undefined && !isAddressAllowed(literal)) throw refuse(literal);
      return url;
    },
    async resolveAllowed(hostname) {
      const literal = hostAddress(hostname);
      const addresses = literal !== undefined ? [{ address: literal, family: isIP(literal) }] : await resolveHost(hostname);
      if (addresses.length === 0) throw new WebhookTargetNotAllowedError("address", "the host has no address");
      const refused = addresses.find((a) => !isAddressAllowed(a.address));
      if (refused) throw refuse(refused.address);
      return addresses;
    },
  };
}

/** The IP literal a URL hostname denotes ("[::1]" → "::1"), or undefined for a name. */
export function hostAddress(hostname: string): string | undefined {
  const bare = hostname.startsWith("[") && hostname.endsWith("]") ? hostname.slice(1, -1) : hostname;
  return isIP(bare) !== 0 ? bare : undefined;
}

/** The `lookup` option of net/http: resolves through `rules`, so the socket connects only to checked addresses. */
export function pinnedLookup(rules: TargetRules) {
  return (
    hostname: string,
    options: { all?: boolean },
    callback: (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void,
  ): void => {
    rules.resolveAllowed(hostname).then(
      (addresses) => {
        if (options.all === true) callback(null, addresses);
        else callback(null, addresses[0]!.address, addresses[0]!.family);
      },
      (err: unknown) => callback(err as NodeJS.ErrnoException, ""),
    );
  };
}
