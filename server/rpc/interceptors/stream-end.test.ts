/**
 * observeStreamEnd, mapStreamError and failAtDeadline are small objects instead of async generators (a watch stream
 * holds one per interceptor for hours); they must behave as the generators they replaced, which are
 * kept here as the reference: same results, same errors, same onEnd calls, same closing of the
 * source, whatever the source and the consumer do.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { Code, ConnectError } from "@connectrpc/connect";
import { failAtDeadline, mapStreamError, observeStreamEnd } from "./stream-end.ts";

async function* referenceObserve<T>(source: AsyncIterable<T>, onEnd: (err: unknown) => void): AsyncGenerator<T> {
  let ended = false;
  try {
    for await (const message of source) yield message;
  } catch (err) {
    ended = true;
    onEnd(err);
    throw err;
  } finally {
    if (!ended) onEnd(undefined);
  }
}

async function* referenceMap<T>(source: AsyncIterable<T>, map: (err: unknown) => unknown): AsyncGenerator<T> {
  try {
    for await (const message of source) yield message;
  } catch (err) {
    throw map(err);
  }
}

type Step = "next" | "return" | "throw";

/** A source of `count` messages that then ends or fails, whose `return` may fail; logs what it is asked. */
function source(log: string[], options: { count: number; failAt?: number; returnFails?: boolean }): AsyncIterable<number> {
  return {
    [Symbol.asyncIterator]() {
      let i = 0;
      log.push("open");
      return {
        async next() {
          log.push("source.next");
          if (options.failAt === i) throw new Error(`source failed at ${i}`);
          if (i >= options.count) return { done: true, value: undefined };
          i += 1;
          return { done: false, value: i };
        },
        async return() {
          log.push("source.return");
          if (options.returnFails === true) throw new Error("return failed");
          return { done: true, value: undefined };
        },
      };
    },
  };
}

async function play(
  wrap: (s: AsyncIterable<number>, log: string[]) => AsyncIterator<number>,
  options: { count: number; failAt?: number; returnFails?: boolean },
  steps: Step[],
): Promise<string[]> {
  const log: string[] = [];
  const it = wrap(source(log, options), log);
  for (const step of steps) {
    try {
      const result =
        step === "next" ? await it.next() : step === "return" ? await it.return!("r") : await it.throw!(new Error("thrown in"));
      log.push(`${step} → ${JSON.stringify(result)}`);
    } catch (err) {
      log.push(`${step} ✗ ${(err as Error).message}`);
    }
  }
  return log;
}

const SOURCES = [{ count: 2 }, { count: 2, failAt: 1 }, { count: 0, failAt: 0 }, { count: 3, returnFails: true }];
const STEP_LISTS: Step[][] = [
  ["next", "next", "next", "next"],
  ["next", "return", "next"],
  ["return", "next"],
  ["throw", "next"],
  ["next", "throw", "next"],
  ["next", "next", "return"],
  ["next", "return", "return", "throw"],
];

describe("server/rpc/interceptors/stream-end.ts", () => {
  for (const options of SOURCES) {
    for (const steps of STEP_LISTS) {
      test(`source ${JSON.stringify(options)}, consumer ${steps.join(",")}: as the generators`, async () => {
        const onEnd = (log: string[]) => (err: unknown) => log.push(`onEnd(${err === undefined ? "" : (err as Error).message})`);
        assert.deepEqual(
          await play((s, log) => observeStreamEnd(s, onEnd(log)), options, steps),
          await play((s, log) => referenceObserve(s, onEnd(log)), options, steps),
        );
        const map = (log: string[]) => (err: unknown) => {
          log.push(`map(${(err as Error).message})`);
          return new Error(`mapped ${(err as Error).message}`);
        };
        assert.deepEqual(
          await play((s, log) => mapStreamError(s, map(log)), options, steps),
          await play((s, log) => referenceMap(s, map(log)), options, steps),
        );
      });
    }
  }
});

async function* referenceFailAtDeadline<T>(source: AsyncIterable<T>, signal: AbortSignal): AsyncGenerator<T> {
  const iterator = source[Symbol.asyncIterator]();
  let onAbort = () => undefined as undefined;
  const deadline = new Promise<"deadline">((resolve) => {
    onAbort = () => {
      if (signal.reason instanceof ConnectError && signal.reason.code === Code.DeadlineExceeded) resolve("deadline");
      return undefined;
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
    if (signal.aborted && signal.reason instanceof ConnectError && signal.reason.code === Code.DeadlineExceeded) throw signal.reason;
  } finally {
    signal.removeEventListener("abort", onAbort);
    if (!isDone) void iterator.return?.()?.catch(() => undefined);
  }
}

type DeadlineStep = Step | "deadline" | "cancel" | "next+deadline";

/** A source whose reads take a turn of the event loop (so a deadline can pass during one). */
function slowSource(log: string[], options: { count: number; failAt?: number }): AsyncIterable<number> {
  return {
    [Symbol.asyncIterator]() {
      let i = 0;
      log.push("open");
      return {
        async next() {
          log.push("source.next");
          await new Promise((resolve) => setImmediate(resolve));
          if (options.failAt === i) throw new Error(`source failed at ${i}`);
          if (i >= options.count) return { done: true, value: undefined };
          i += 1;
          return { done: false, value: i };
        },
        async return() {
          log.push("source.return");
          return { done: true, value: undefined };
        },
      };
    },
  };
}

async function playDeadline(
  wrap: (s: AsyncIterable<number>, signal: AbortSignal) => AsyncIterator<number>,
  options: { count: number; failAt?: number },
  steps: DeadlineStep[],
): Promise<string[]> {
  const log: string[] = [];
  const controller = new AbortController();
  const it = wrap(slowSource(log, options), controller.signal);
  const outcome = async (step: string, result: Promise<IteratorResult<number>>) => {
    try {
      log.push(`${step} → ${JSON.stringify(await result)}`);
    } catch (err) {
      log.push(`${step} ✗ ${(err as Error).message}`);
    }
  };
  for (const step of steps) {
    if (step === "deadline") controller.abort(new ConnectError("the operation timed out", Code.DeadlineExceeded));
    else if (step === "cancel") controller.abort(new ConnectError("gone", Code.Canceled));
    else if (step === "next+deadline") {
      const result = it.next();
      controller.abort(new ConnectError("the operation timed out", Code.DeadlineExceeded));
      await outcome(step, result);
    } else await outcome(step, step === "next" ? it.next() : step === "return" ? it.return!("r") : it.throw!(new Error("thrown in")));
  }
  // Fire-and-forget returns land within a turn.
  await new Promise((resolve) => setImmediate(resolve));
  return log;
}

describe("failAtDeadline", () => {
  const SLOW_SOURCES = [{ count: 2 }, { count: 2, failAt: 1 }, { count: 0 }];
  const LISTS: DeadlineStep[][] = [
    ["next", "next", "next", "next"],
    ["deadline", "next", "next"],
    ["next", "deadline", "next", "next"],
    ["next", "next+deadline", "next"],
    ["next", "cancel", "next", "next", "next"],
    ["next", "next", "deadline", "next"],
    ["next", "return", "next"],
    ["return", "next", "deadline"],
    ["next", "throw", "next"],
    ["throw", "next"],
    ["next", "next", "next", "deadline", "next", "return"],
  ];
  for (const options of SLOW_SOURCES) {
    for (const steps of LISTS) {
      test(`source ${JSON.stringify(options)}, ${steps.join(",")}: as the generator`, async () => {
        assert.deepEqual(
          await playDeadline((s, signal) => failAtDeadline(s, signal), options, steps),
          await playDeadline((s, signal) => referenceFailAtDeadline(s, signal), options, steps),
        );
      });
    }
  }
});
