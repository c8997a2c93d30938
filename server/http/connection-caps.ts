/**
 * Caps on concurrent TCP connections, in total and per client address (IPv6: per /64), checked
 * when a socket is accepted, before any byte is read. At this level the socket peer is all there
 * is, so trusted proxies are exempt from the per-address cap (every client behind one shares its
 * address) but count toward the total. It decides and counts; the listener closes the socket.
 */

import { systemNow } from "../config/defaults.ts";
import { perAddressKey } from "../limits/address-key.ts";

/** Why a new connection was refused. */
export type ConnectionRefusal = "max_connections" | "max_connections_per_address";

/** Settings for {@link createConnectionCaps}. */
export interface ConnectionCapsOptions {
  /** Connections open at once, all addresses together. */
  maxConnections: number;
  /** Connections open at once from one address (IPv6: one /64). */
  maxPerAddress: number;
  /** Peers spared the per-address cap (trusted proxies). Default: none. */
  isExempt?: (address: string) => boolean;
  /** Where refusals are reported, at most once per `warnIntervalMs` per reason. */
  logger: { warn(obj: object, msg?: string): void };
  /** Default 10 000. A flood must not become a flood of log lines too. */
  warnIntervalMs?: number;
  /** Epoch milliseconds, for warning intervals; default the system clock. */
  now?: () => number;
}

/** The verdict on a new connection: admitted (call `release` once it closes) or refused. */
export type Admission = { readonly release: () => void } | { readonly refused: ConnectionRefusal };

/** Counts open connections and admits or refuses new ones. */
export interface ConnectionCaps {
  admit(remoteAddress: string | undefined): Admission;
  /** Connections admitted and not yet released. */
  open(): number;
}

/** Creates the caps; counts live in the returned object (one per listener). */
export function createConnectionCaps(options: ConnectionCapsOptions): ConnectionCaps {
  const now = options.now ?? systemNow;
  const warnIntervalMs = options.warnIntervalMs ?? 10_000;
  const perAddress = new Map<string, number>();
  let total = 0;
  const lastWarnAt = new Map<ConnectionRefusal, number>();
  const suppressed = new Map<ConnectionRefusal, number>();

  const refuse = (reason: ConnectionRefusal, key: string): Admission => {
    const at = now();
    const last = lastWarnAt.get(reason);
    if (last !== undefined && at - last < warnIntervalMs) {
      suppressed.set(reason, (suppressed.get(reason) ?? 0) + 1);
    } else {
      const limit = reason === "max_connections" ? options.maxConnections : options.maxPerAddress;
      options.logger.warn(
        { reason, limit, address: key, refusedSinceLastWarning: (suppressed.get(reason) ?? 0) + 1 },
        "connection refused: too many open connections",
      );
      lastWarnAt.set(reason, at);
      suppressed.set(reason, 0);
    }
    return { refused: reason };
  };

  return {
    admit(remoteAddress) {
      const key = perAddressKey(remoteAddress);
      if (total >= options.maxConnections) return refuse("max_connections", key);
      const isExempt = options.isExempt?.(remoteAddress ?? "") ?? false;
      const count = perAddress.get(key) ?? 0;
      if (!isExempt && count >= options.maxPerAddress) return refuse("max_connections_per_address", key);
      total++;
      perAddress.set(key, count + 1);
      let isReleased = false;
      return {
        release() {
          if (isReleased) return;
          isReleased = true;
          total--;
          const left = (perAddress.get(key) ?? 1) - 1;
          if (left <= 0) perAddress.delete(key);
          else perAddress.set(key, left);
        },
      };
    },
    open: () => total,
  };
}
