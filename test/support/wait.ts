/**
 * The one way tests wait: for a condition (polled, with a bounded deadline) or for a promise (with
 * a bounded deadline), never for a fixed stretch of wall-clock time. A broken server must fail the
 * test with a message naming what never happened, not hang the run; a loaded machine must only make
 * the test slower, not make it fail. test/architecture/no-fixed-sleeps.test.ts keeps it that way.
 */

/** Rejects when `promise` takes longer than `ms`. */
export async function within<T>(promise: Promise<T>, ms = 10_000, what = "operation"): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Polls `check` (sync or async) every `intervalMs` until it returns true; rejects naming `what`
 * after `ms`. The interval is a polling period, not a synchronisation point: the test proceeds as
 * soon as the condition holds.
 */
export async function eventually(check: () => boolean | Promise<boolean>, ms = 10_000, what = "condition", intervalMs = 10): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what} not reached within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** Polls `read` until `accept` holds for its value, and returns that value (see `eventually`). */
export async function eventualValue<T>(
  read: () => T | Promise<T>,
  accept: (value: T) => boolean,
  ms = 10_000,
  what = "value",
  intervalMs = 10,
): Promise<T> {
  let value: T | undefined;
  await eventually(
    async () => {
      value = await read();
      return accept(value);
    },
    ms,
    what,
    intervalMs,
  );
  return value as T;
}
