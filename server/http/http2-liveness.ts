/**
 * Keeps an HTTP/2 session from outliving its use: with no open stream it is closed with GOAWAY
 * after an idle timeout (a preface-only socket included), and while streams are open the peer is
 * PINGed on an interval and the session destroyed if an ack does not come in time (a dead peer
 * holding a stream). Like HTTP/1.1's request timeout, a stream whose request is still incomplete
 * and unanswered after `requestTimeoutMs` is reset. It owns these timers only; it decides no limits.
 */
import { constants, type ServerHttp2Session, type ServerHttp2Stream } from "node:http2";

/** Why the liveness check ended a session. */
export type Http2LivenessEnd = "http2_idle" | "http2_ping_timeout";

/** Settings for {@link watchHttp2Liveness}; every duration is in milliseconds. */
export interface Http2LivenessOptions {
  /** A session with no open stream for this long gets GOAWAY and is closed. */
  idleTimeoutMs: number;
  /** While streams are open, the peer is PINGed this often. */
  pingIntervalMs: number;
  /** A PING not acked within this is taken as a dead peer: the session is destroyed. */
  pingTimeoutMs: number;
  /**
   * A stream whose request the peer has not finished (no END_STREAM) and that has no response
   * headers yet after this is reset with CANCEL: a request held open without a body reaches no
   * interceptor, so no per-key or per-address stream cap would ever count it.
   */
  requestTimeoutMs: number;
  /** Called once, just before the check ends the session. */
  onEnd: (reason: Http2LivenessEnd) => void;
}

/**
 * Starts the idle timeout and the PING check on a new server session; both stop when it closes.
 *
 * The PING runs on a plain interval rather than on `session.setTimeout`: Node resets that timer on
 * writes too, so a stream the server keeps writing heartbeats to would never be checked, and a
 * dead peer is exactly one that only receives. One 17-byte PING per interval per busy session is
 * the whole cost.
 */
export function watchHttp2Liveness(session: ServerHttp2Session, options: Http2LivenessOptions): void {
  let openStreams = 0;
  let idleTimer: NodeJS.Timeout | undefined;
  let pingTimer: NodeJS.Timeout | undefined;
  let ackTimer: NodeJS.Timeout | undefined;
  let hasEnded = false;

  const end = (reason: Http2LivenessEnd): void => {
    if (hasEnded || session.destroyed) return;
    hasEnded = true;
    stopTimers();
    options.onEnd(reason);
    if (reason === "http2_idle") {
      // GOAWAY (NO_ERROR); with no stream open the session closes right after it is written.
      session.close();
      // A peer that stops reading can keep that write (and so the socket) pending: the backstop.
      setTimeout(() => session.destroy(), options.pingTimeoutMs).unref();
    } else {
      session.destroy();
    }
  };

  const stopTimers = (): void => {
    clearTimeout(idleTimer);
    clearInterval(pingTimer);
    clearTimeout(ackTimer);
    idleTimer = pingTimer = ackTimer = undefined;
  };

  const ping = (): void => {
    if (ackTimer !== undefined || session.closed || session.destroyed) return;
    ackTimer = setTimeout(() => end("http2_ping_timeout"), options.pingTimeoutMs);
    ackTimer.unref();
    // Called with an error when the session goes away first; then there is nothing left to check.
    const onAck = (): void => {
      clearTimeout(ackTimer);
      ackTimer = undefined;
    };
    try {
      session.ping(onAck);
    } catch {
      // Only thrown for a destroyed session or too many unacked PINGs; the ack timer decides.
    }
  };

  const update = (): void => {
    if (hasEnded) return;
    if (openStreams === 0) {
      clearInterval(pingTimer);
      clearTimeout(ackTimer);
      pingTimer = ackTimer = undefined;
      if (idleTimer === undefined) {
        idleTimer = setTimeout(() => end("http2_idle"), options.idleTimeoutMs);
        idleTimer.unref();
      }
    } else {
      clearTimeout(idleTimer);
      idleTimer = undefined;
      if (pingTimer === undefined) {
        pingTimer = setInterval(ping, options.pingIntervalMs);
        pingTimer.unref();
      }
    }
  };

  session.on("stream", (stream: ServerHttp2Stream) => {
    openStreams++;
    update();
    // Bidi streams (reflection) keep their request open for long, but they have answered by then.
    let requestTimer: NodeJS.Timeout | undefined = setTimeout(() => {
      if (stream.state.remoteClose !== 1 && !stream.headersSent) stream.close(constants.NGHTTP2_CANCEL);
    }, options.requestTimeoutMs);
    requestTimer.unref();
    // A request read to its end has nothing left to time out (streams last for hours: no timer kept).
    stream.once("end", () => {
      clearTimeout(requestTimer);
      requestTimer = undefined;
    });
    // "close" comes once: `on` spares the once-wrapper a long stream would keep.
    stream.on("close", () => {
      clearTimeout(requestTimer);
      openStreams--;
      update();
    });
  });
  session.once("close", () => {
    hasEnded = true;
    stopTimers();
  });
  update();
}
