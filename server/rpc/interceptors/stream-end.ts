/**
 * Observes the end of a server stream: interceptors see a streaming RPC "succeed" when it starts,
 * so metrics, logs and error mapping wrap the response iterable and act when it finishes.
 */
import { Code, ConnectError } from "@connectrpc/connect";

/**
 * Wraps `source` so `onEnd` runs exactly once with the error (or undefined) that ended it — also
 * when the consumer stops early (client went away): that is an ordinary end. Behaves as
 * `try { for await (const m of source) yield m } catch (e) { onEnd(e); throw e } finally { … onEnd() }`
 * would (stream-end.test.ts holds them to it), as one small object: a stream that waits for hours
 * holds no generator frame per interceptor.
 */
export function observeStreamEnd<T>(source: AsyncIterable<T>, onEnd: (err: unknown) => void): AsyncIterableIterator<T> {
  return new Relay(source, onEnd, undefined);
}

/** Wraps `source` so every error it throws is replaced by `map(error)` (a relay, as `observeStreamEnd`). */
export function mapStreamError<T>(source: AsyncIterable<T>, map: (err: unknown) => unknown): AsyncIterableIterator<T> {
  return new Relay(source, undefined, map);
}

const START = 0;
const RUNNING = 1;
const DONE = 2;

/**
 * Passes a source's messages on as an async generator that loops over it and yields each would:
 * the source is opened on the first `next`; a `return` or `throw` while running closes it (a
 * `throw` ignores what closing throws); before the first `next` they end the relay without a word
 * to the source or `onEnd`. Calls are expected one at a time, as every consumer here makes them.
 */
class Relay<T> implements AsyncIterableIterator<T> {
  private readonly source: AsyncIterable<T>;
  private iterator: AsyncIterator<T> | undefined = undefined;
  private readonly onEnd: ((err: unknown) => void) | undefined;
  private readonly map: ((err: unknown) => unknown) | undefined;
  private state = START;

  constructor(source: AsyncIterable<T>, onEnd: ((err: unknown) => void) | undefined, map: ((err: unknown) => unknown) | undefined) {
    this.source = source;
    this.onEnd = onEnd;
    this.map = map;
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<T> {
    return this;
  }

  next(): Promise<IteratorResult<T>> {
    if (this.state === DONE) return Promise.resolve({ value: undefined, done: true });
    let pending: Promise<IteratorResult<T>>;
    try {
      if (this.state === START) {
        this.state = RUNNING;
        this.iterator = this.source[Symbol.asyncIterator]();
      }
      pending = this.iterator!.next();
    } catch (err) {
      return Promise.reject(this.failed(err));
    }
    return Promise.resolve(pending).then(
      (result) => {
        if (result.done !== true) return { value: result.value, done: false };
        this.ended();
        return { value: undefined, done: true };
      },
      (err: unknown) => {
        throw this.failed(err);
      },
    );
  }

  async return(value?: unknown): Promise<IteratorResult<T>> {
    if (this.state !== RUNNING) {
      this.state = DONE;
      return { value: value as never, done: true };
    }
    this.state = DONE;
    try {
      await this.close();
    } catch (err) {
      throw this.failed(err);
    }
    this.ended();
    return { value: value as never, done: true };
  }

  async throw(err?: unknown): Promise<IteratorResult<T>> {
    if (this.state !== RUNNING) {
      this.state = DONE;
      throw err;
    }
    this.state = DONE;
    try {
      await this.close();
    } catch {
      // The error thrown in wins over the source's trouble closing, as in a for-await loop.
    }
    throw this.failed(err);
  }

  /** Closes the source as a for-await loop left early does. */
  private async close(): Promise<void> {
    const iterator = this.iterator!;
    if (iterator.return === undefined) return;
    const result: unknown = await iterator.return();
    if (typeof result !== "object" || result === null) throw new TypeError("iterator result is not an object");
  }

  private ended(): void {
    this.state = DONE;
    this.onEnd?.(undefined);
  }

  private failed(err: unknown): unknown {
    this.state = DONE;
    this.onEnd?.(err);
    return this.map === undefined ? err : this.map(err);
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
