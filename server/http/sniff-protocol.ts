/**
 * Tells an HTTP/2 prior-knowledge connection from an HTTP/1.x one by its first bytes, then hands
 * the socket back with those bytes unread. It owns only the sniffing phase and its deadline: it
 * never parses HTTP, never writes to the socket and never decides what serves the connection.
 */
import type { Socket } from "node:net";

/** The protocol a cleartext connection speaks, judged from its first bytes. */
export type SniffedProtocol = "h1" | "h2";

/** What `sniffProtocol` needs besides the socket. */
export interface SniffProtocolOptions {
  /** How long the peer may take to send the bytes that decide the protocol, in milliseconds. */
  timeoutMs: number;
  /**
   * Called once with the protocol. The socket is paused, its bytes are back in its read buffer,
   * and no sniffer listener or timeout is left on it.
   */
  onProtocol: (protocol: SniffedProtocol) => void;
  /** Called once if the deadline passes first; the socket is left to the caller (to destroy). */
  onTimeout: () => void;
}

/**
 * The start of the HTTP/2 connection preface. No HTTP/1.x method is "PRI": RFC 9113 §3.4 reserves
 * it so a server can tell the two apart, and three bytes are enough to decide.
 * @see https://www.rfc-editor.org/rfc/rfc9113#section-3.4
 */
const H2_PREFACE_START = Buffer.from("PRI", "latin1");

/**
 * Reads a new socket until its first bytes show which HTTP version it speaks.
 * The preface may arrive split (one byte per packet), so bytes that are still a prefix of "PRI"
 * keep the sniffer waiting.
 */
export function sniffProtocol(socket: Socket, options: SniffProtocolOptions): void {
  let received: Buffer = Buffer.alloc(0);

  const stop = (): void => {
    socket.off("data", onData);
    socket.off("timeout", onTimeout);
    socket.setTimeout(0);
  };

  const onData = (chunk: Buffer): void => {
    received = received.length === 0 ? chunk : Buffer.concat([received, chunk]);
    const compared = Math.min(received.length, H2_PREFACE_START.length);
    const isPrefaceSoFar = received.subarray(0, compared).equals(H2_PREFACE_START.subarray(0, compared));
    if (isPrefaceSoFar && received.length < H2_PREFACE_START.length) return;
    stop();
    // pause() before unshift(): the bytes must wait in the buffer for the protocol server; a
    // flowing socket would emit them again before anyone listens.
    socket.pause();
    socket.unshift(received);
    options.onProtocol(isPrefaceSoFar ? "h2" : "h1");
  };

  const onTimeout = (): void => {
    stop();
    options.onTimeout();
  };

  socket.setTimeout(options.timeoutMs);
  socket.on("timeout", onTimeout);
  socket.on("data", onData);
}
