/**
 * guardMessages (key-validity-interceptor.ts) is one small object instead of an async generator (a
 * watch stream holds it for hours); it must behave as the generator it replaced, kept here as the
 * reference: same results and errors, same untrack and admit calls, same closing of the source,
 * whatever the source, the key and the consumer do.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { ConnectError } from "@connectrpc/connect";
import type { ApiKeyLiveness, KeyInvalidReason } from "../../auth/api-key-liveness.ts";
import type { Principal } from "../../request/principal.ts";
import { apiKeyNoLongerValidError } from "../errors.ts";
import { guardMessages } from "./key-validity-interceptor.ts";

async function* reference<T>(
  source: AsyncIterable<T>,
  principal: Principal,
  liveness: Pick<ApiKeyLiveness, "check">,
  ended: AbortSignal,
  untrack: () => void,
  admits: (() => void)[],
): AsyncGenerator<T> {
  const iterator = source[Symbol.asyncIterator]();
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(ended.reason as ConnectError);
    if (ended.aborted) onAbort();
    else ended.addEventListener("abort", onAbort, { once: true });
  });
  aborted.catch(() => undefined);
  let isDone = false;
  try {
    for (;;) {
      const pending = iterator.next();
      pending.catch(() => undefined);
      const result = await Promise.race([pending, aborted]);
      if (result.done) {
        isDone = true;
        if (ended.aborted) throw ended.reason as ConnectError;
        return;
      }
      const reason: KeyInvalidReason | null = liveness.check(principal);
      if (reason !== null) throw apiKeyNoLongerValidError(reason);
      for (const admit of admits.splice(0)) admit();
      yield result.value;
    }
  } finally {
    if (onAbort) ended.removeEventListener("abort", onAbort);
    untrack();
    if (!isDone) iterator.return?.()?.catch(() => undefined);
  }
}

type Step = "next" | "return" | "throw" | "revoke" | "abort" | "next+abort" | "admit";
type Guard = typeof guardMessages;

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

async function play(guard: Guard, options: { count: number; failAt?: number }, steps: Step[]): Promise<string[]> {
  const log: string[] = [];
  let refusal: KeyInvalidReason | null = null;
  const controller = new AbortController();
  const admits: (() => void)[] = [];
  const it = guard(
    slowSource(log, options),
    { keyId: "k" } as Principal,
    { check: () => refusal },
    controller.signal,
    () => log.push("untrack"),
    admits,
  );
  const outcome = async (step: string, result: Promise<IteratorResult<number>>) => {
    try {
      log.push(`${step} → ${JSON.stringify(await result)}`);
    } catch (err) {
      log.push(`${step} ✗ ${(err as Error).message}`);
    }
  };
  for (const step of steps) {
    if (step === "revoke") refusal = "revoked";
    else if (step === "abort") controller.abort(apiKeyNoLongerValidError("expired"));
    else if (step === "admit") admits.push(() => log.push("admitted"));
    else if (step === "next+abort") {
      const result = it.next();
      controller.abort(apiKeyNoLongerValidError("revoked"));
      await outcome(step, result);
    } else await outcome(step, step === "next" ? it.next() : step === "return" ? it.return!("r") : it.throw!(new Error("thrown in")));
  }
  await new Promise((resolve) => setImmediate(resolve));
  return log;
}

describe("guardMessages", () => {
  const SOURCES = [{ count: 2 }, { count: 2, failAt: 1 }, { count: 0 }];
  const LISTS: Step[][] = [
    ["admit", "next", "admit", "next", "next", "next"],
    ["abort", "next", "next"],
    ["next", "abort", "next", "next"],
    ["next", "next+abort", "next"],
    ["admit", "next", "revoke", "admit", "next", "next"],
    ["next", "next", "abort", "next"],
    ["next", "next", "next", "abort", "next", "return"],
    ["next", "return", "next"],
    ["return", "next", "abort"],
    ["next", "throw", "next"],
    ["throw", "next"],
  ];
  for (const options of SOURCES) {
    for (const steps of LISTS) {
      test(`source ${JSON.stringify(options)}, ${steps.join(",")}: as the generator`, async () => {
        assert.deepEqual(await play(guardMessages, options, steps), await play(reference as Guard, options, steps));
      });
    }
  }
});
