/**
 * The client's address as audit rows and per-address limits see it: the socket peer, unless that
 * peer is a trusted proxy (NEXUS_TRUSTED_PROXIES), in which case X-Forwarded-For is read from the
 * right and the first address that is not a trusted proxy wins. Without trusted proxies the header
 * is ignored entirely: anyone can send it. Per-address limits count IPv6 clients by /64.
 */
import net from "node:net";

/** Resolves the client address from the socket peer and the X-Forwarded-For header value(s). */
export type ClientAddressResolver = (remoteAddress: string | undefined, forwardedFor: string | readonly string[] | undefined) => string;

/** Creates the resolver for a list of trusted proxy IPs and CIDRs (validated by config). */
export function createClientAddressResolver(trustedProxies: readonly string[]): ClientAddressResolver {
  const isTrusted = createTrustedProxyCheck(trustedProxies);

  return (remoteAddress, forwardedFor) => {
    let client = normalize(remoteAddress ?? "");
    if (trustedProxies.length === 0 || !isTrusted(client) || forwardedFor === undefined) return client;
    const hops = (typeof forwardedFor === "string" ? [forwardedFor] : forwardedFor)
      .flatMap((value) => value.split(","))
      .map((hop) => normalize(hop.trim()));
    for (let i = hops.length - 1; i >= 0; i--) {
      const hop = hops[i] ?? "";
      // A malformed entry ends the chain: what lies left of it was written by nobody we trust.
      if (net.isIP(hop) === 0) return client;
      client = hop;
      if (!isTrusted(hop)) return hop;
    }
    return client;
  };
}

/**
 * Creates a test for "is this socket peer one of the trusted proxies" (IPs and CIDRs, validated by
 * config). The listener uses it to spare proxies the per-address connection cap: behind a proxy,
 * every client arrives from the proxy's address.
 */
export function createTrustedProxyCheck(trustedProxies: readonly string[]): (address: string) => boolean {
  const trusted = new net.BlockList();
  for (const entry of trustedProxies) {
    const [address = "", bits] = entry.split("/");
    const family = net.isIP(address) === 6 ? "ipv6" : "ipv4";
    if (bits === undefined) trusted.addAddress(normalize(address), family);
    else trusted.addSubnet(normalize(address), Number(bits), family);
  }
  return (address) => {
    const plain = normalize(address);
    const family = net.isIP(plain);
    return family !== 0 && trusted.check(plain, family === 6 ? "ipv6" : "ipv4");
  };
}

/**
 * The key per-address limits count under: the IPv4 address, or for IPv6 its /64 prefix
 * (`2001:db8:1:2::/64`), since one host or home is routinely given a whole /64 and could
 * otherwise pick a fresh address for every connection. Anything else (empty, unknown) is itself.
 */
export function perAddressKey(address: string | undefined): string {
  const plain = normalize(address ?? "");
  if (net.isIP(plain) !== 6) return plain === "" ? "unknown" : plain;
  const [head = "", tail] = plain.replace(/%.*$/, "").split("::");
  const split = (part: string | undefined) => (part === undefined || part === "" ? [] : part.split(":"));
  const left = split(head);
  const right = split(tail);
  // "::" stands for the zero groups that are missing; an embedded IPv4 tail counts as two groups.
  const missing = 8 - left.length - right.length - (right.at(-1)?.includes(".") ? 1 : 0);
  const groups = tail === undefined ? left : [...left, ...Array<string>(missing).fill("0"), ...right];
  return `${groups.slice(0, 4).map((g) => Number.parseInt(g, 16).toString(16)).join(":")}::/64`;
}

/** IPv4-mapped IPv6 (`::ffff:1.2.3.4`, what dual-stack sockets report) becomes plain IPv4. */
function normalize(address: string): string {
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(address);
  return mapped?.[1] ?? address;
}
