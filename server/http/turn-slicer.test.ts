import assert from "node:assert/strict";
import { test } from "node:test";
import { createTurnSlicer } from "./turn-slicer.ts";

/** A clock the tasks advance by hand, standing in for the time their work takes. */
function fakeClock() {
  let ms = 0;
  return { now: () => ms, advance: (by: number) => (ms += by) };
}

test("tasks start in the order they were queued, after the caller returns", async () => {
  const clock = fakeClock();
  const slicer = createTurnSlicer({ sliceMs: 2, now: clock.now });
  const started: number[] = [];
  const allStarted = new Promise<void>((resolve) => {
    for (let i = 0; i < 5; i++) {
      slicer.run(() => {
        started.push(i);
        if (i === 4) resolve();
      });
    }
  });
  assert.deepEqual(started, []);
  assert.equal(slicer.pending(), 5);
  await allStarted;
  assert.deepEqual(started, [0, 1, 2, 3, 4]);
  assert.equal(slicer.pending(), 0);
});

test("tasks within the slice run in the same turn of the event loop", async () => {
  const clock = fakeClock();
  const slicer = createTurnSlicer({ sliceMs: 2, now: clock.now });
  const log: string[] = [];
  const done = new Promise<void>((resolve) => {
    slicer.run(() => {
      log.push("a");
      clock.advance(1);
      // Runs in the next turn of the loop.
      setImmediate(() => {
        log.push("next turn");
        resolve();
      });
    });
    slicer.run(() => log.push("b"));
    slicer.run(() => log.push("c"));
  });
  await done;
  assert.deepEqual(log, ["a", "b", "c", "next turn"]);
});

test("once a turn's slice is spent, the remaining tasks wait for the next turn, in order", async () => {
  const clock = fakeClock();
  const slicer = createTurnSlicer({ sliceMs: 2, now: clock.now });
  const log: string[] = [];
  const done = new Promise<void>((resolve) => {
    slicer.run(() => {
      log.push("a");
      clock.advance(5);
      setImmediate(() => log.push("next turn"));
    });
    slicer.run(() => log.push("b"));
    slicer.run(() => {
      log.push("c");
      resolve();
    });
  });
  await done;
  // The poll phase of that next turn is where libuv accepts a waiting connection.
  assert.deepEqual(log, ["a", "next turn", "b", "c"]);
});

test("a task queued while others wait starts after them", async () => {
  const clock = fakeClock();
  const slicer = createTurnSlicer({ sliceMs: 2, now: clock.now });
  const log: string[] = [];
  const done = new Promise<void>((resolve) => {
    slicer.run(() => {
      log.push("a");
      clock.advance(5);
      // A request read in the next turn's poll phase.
      setImmediate(() =>
        slicer.run(() => {
          log.push("late");
          resolve();
        }),
      );
    });
    slicer.run(() => log.push("b"));
  });
  await done;
  assert.deepEqual(log, ["a", "b", "late"]);
});

test("when shouldYield says no, a spent slice does not hold the remaining tasks back", async () => {
  const clock = fakeClock();
  const slicer = createTurnSlicer({ sliceMs: 2, now: clock.now, shouldYield: () => false });
  const log: string[] = [];
  const done = new Promise<void>((resolve) => {
    slicer.run(() => {
      log.push("a");
      clock.advance(5);
      setImmediate(() => {
        log.push("next turn");
        resolve();
      });
    });
    slicer.run(() => log.push("b"));
  });
  await done;
  assert.deepEqual(log, ["a", "b", "next turn"]);
});
