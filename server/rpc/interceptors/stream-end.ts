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
export function failAtDeadline<T>(source: AsyncIterable<T>, signal: AbortSignal): AsyncIterableIterator<T> {
  return new DeadlineRelay(source, signal);
}

/**
 * `failAtDeadline` as one small object (the signal's listener itself), behaving as the generator
 * it replaced (stream-end.test.ts): each read races the source against the deadline; at the
 * deadline, or when the source ends after it, the stream fails with the signal's reason; leaving
 * early tells the source to stop without waiting for it.
 */
class DeadlineRelay<T> implements AsyncIterableIterator<T> {
  private readonly source: AsyncIterable<T>;
  private readonly signal: AbortSignal;
  private iterator: AsyncIterator<T> | undefined = undefined;
  private state = START;
  private isDone = false;
  private isPastDeadline = false;
  /** Settles the read in flight when the deadline passes. */
  private onDeadline: ((deadline: "deadline") => void) | undefined = undefined;

  constructor(source: AsyncIterable<T>, signal: AbortSignal) {
    this.source = source;
    this.signal = signal;
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<T> {
    return this;
  }

  next(): Promise<IteratorResult<T>> {
    if (this.state === DONE) return Promise.resolve({ value: undefined, done: true });
    let pending: Promise<IteratorResult<T>>;
    try {
      if (this.state === START) {
        this.iterator = this.source[Symbol.asyncIterator]();
        this.state = RUNNING;
        this.signal.addEventListener("abort", this, { once: true });
        if (this.signal.aborted) this.handleEvent();
      }
      pending = this.iterator!.next();
    } catch (err) {
      this.finish();
      return Promise.reject(err);
    }
    const deadline = this.isPastDeadline
      ? Promise.resolve("deadline" as const)
      : new Promise<"deadline">((resolve) => {
          this.onDeadline = resolve;
        });
    return Promise.race([pending, deadline]).then(
      (next) => {
        this.onDeadline = undefined;
        if (next !== "deadline" && next.done !== true) return { value: next.value, done: false };
        if (next !== "deadline") this.isDone = true;
        this.finish();
        if (this.signal.aborted && isDeadline(this.signal.reason)) throw this.signal.reason;
        return { value: undefined, done: true };
      },
      (err: unknown) => {
        this.onDeadline = undefined;
        this.finish();
        throw err;
      },
    );
  }

  return(value?: unknown): Promise<IteratorResult<T>> {
    if (this.state === RUNNING) this.finish();
    this.state = DONE;
    return Promise.resolve({ value: value as never, done: true });
  }

  throw(err?: unknown): Promise<IteratorResult<T>> {
    if (this.state === RUNNING) this.finish();
    this.state = DONE;
    return Promise.reject(err);
  }

  /** The signal aborted: only its deadline ends the stream here. */
  handleEvent(): void {
    if (!isDeadline(this.signal.reason)) return;
    this.isPastDeadline = true;
    this.onDeadline?.("deadline");
  }

  private finish(): void {
    this.state = DONE;
    this.signal.removeEventListener("abort", this);
    // The source is told to stop (its pending read settles on its own): it may hold subscriptions.
    if (!this.isDone) void this.iterator?.return?.()?.catch(() => undefined);
  }
}

function isDeadline(reason: unknown): boolean {
  return reason instanceof ConnectError && reason.code === Code.DeadlineExceeded;
}
