/**
 * The client's address as audit rows and per-address limits see it: the socket peer, unless that
 * peer is a trusted proxy (NEXUS_TRUSTED_PROXIES), in which case X-Forwarded-For is read from the
 * right and the first address that is not a trusted proxy wins. Without trusted proxies the header
 * is ignored entirely: anyone can send it.
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

/** IPv4-mapped IPv6 (`::ffff:1.2.3.4`, what dual-stack sockets report) becomes plain IPv4. */
function normalize(address: string): string {
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(address);
  return mapped?.[1] ?? address;
}
