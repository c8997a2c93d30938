/**
 * Observes the end of a server stream: interceptors see a streaming RPC "succeed" when it starts,
 * so metrics, logs and error mapping wrap the response iterable and act when it finishes.
 */
import { Code, ConnectError } from "@connectrpc/connect";

/** Wraps `source` so `onEnd` runs exactly once with the error (or undefined) that ended it. */
export async function* observeStreamEnd<T>(source: AsyncIterable<T>, onEnd: (err: unknown) => void): AsyncGenerator<T> {
  let ended = false;
  try {
    for await (const message of source) yield message;
  } catch (err) {
    ended = true;
    onEnd(err);
    throw err;
  } finally {
    // Also reached when the consumer stops early (client went away): that is an ordinary end.
    if (!ended) onEnd(undefined);
  }
}

/** Wraps `source` so every error it throws is replaced by `map(error)`. */
export async function* mapStreamError<T>(source: AsyncIterable<T>, map: (err: unknown) => unknown): AsyncGenerator<T> {
  try {
    for await (const message of source) yield message;
  } catch (err) {
    throw map(err);
  }
}

/**
 * Wraps a server stream so that the client's deadline (grpc-timeout, connect-timeout-ms) ends it
 * with DeadlineExceeded at once. connect-es aborts the call's signal at the deadline, but a handler
 * that waits for events either never notices or returns quietly, and the client would then see an
 * OK end of stream that means nothing was wrong.
 */
export async function* failAtDeadline<T>(source: AsyncIterable<T>, signal: AbortSignal): AsyncGenerator<T> {
  const iterator = source[Symbol.asyncIterator]();
  let onAbort = () => undefined as void;
  const deadline = new Promise<"deadline">((resolve) => {
    onAbort = () => {
      if (isDeadline(signal.reason)) resolve("deadline");
    };
  });
  signal.addEventListener("abort", onAbort, { once: true });
  if (signal.aborted) onAbort();
  let isDone = false;
  try {
    for (;;) {
      const next = await Promise.race([iterator.next(), deadline]);
      if (next === "deadline") break;
      if (next.done === true) {
        isDone = true;
        break;
      }
      yield next.value;
    }
    if (signal.aborted && isDeadline(signal.reason)) throw signal.reason;
  } finally {
    signal.removeEventListener("abort", onAbort);
    // The source is told to stop (its pending read settles on its own): it may hold subscriptions.
    if (!isDone) void iterator.return?.()?.catch(() => undefined);
  }
}

function isDeadline(reason: unknown): boolean {
  return reason instanceof ConnectError && reason.code === Code.DeadlineExceeded;
}
