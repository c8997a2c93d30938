/**
 * The key a per-address limit counts a client under (connections, anonymous streams). It must not
 * decide who the client is: callers pass the socket peer or the trusted-proxy-resolved address.
 */
import net from "node:net";

/**
 * The key per-address limits count under: the IPv4 address, or for IPv6 its /64 prefix
 * (`2001:db8:1:2::/64`), since one host or home is routinely given a whole /64 and could
 * otherwise pick a fresh address for every connection. Anything else (empty, unknown) is itself.
 */
export function perAddressKey(address: string | undefined): string {
  // IPv4-mapped IPv6 (what dual-stack sockets report) counts as the IPv4 address it is.
  const plain = (address ?? "").replace(/^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i, "$1");
  if (net.isIP(plain) !== 6) return plain === "" ? "unknown" : plain;
  const [head = "", tail] = plain.replace(/%.*$/, "").split("::");
  const split = (part: string | undefined) => (part === undefined || part === "" ? [] : part.split(":"));
  const left = split(head);
  const right = split(tail);
  // "::" stands for the zero groups that are missing; an embedded IPv4 tail counts as two groups.
  const missing = 8 - left.length - right.length - (right.at(-1)?.includes(".") ? 1 : 0);
  const groups = tail === undefined ? left : [...left, ...Array<string>(missing).fill("0"), ...right];
  return `${groups
    .slice(0, 4)
    .map((g) => Number.parseInt(g, 16).toString(16))
    .join(":")}::/64`;
}
