import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { lazyPart } from "./lazy-part.ts";

describe("lazyPart", () => {
  test("builds once, on first use, for every caller", async () => {
    let builds = 0;
    const part = lazyPart(async () => {
      builds += 1;
      return { id: builds };
    });
    assert.equal(await part.settled(), undefined, "nothing built before first use");
    assert.equal(builds, 0);
    const [a, b] = await Promise.all([part.get(), part.get()]);
    assert.equal(a, b);
    assert.equal(await part.get(), a);
    assert.equal(await part.settled(), a);
    assert.equal(builds, 1);
  });

  test("a failed build is retried by the next use, and settles as undefined", async () => {
    let builds = 0;
    const part = lazyPart(async () => {
      builds += 1;
      if (builds === 1) throw new Error("import failed");
      return "ready";
    });
    await assert.rejects(part.get(), /import failed/);
    assert.equal(await part.settled(), undefined);
    assert.equal(await part.get(), "ready");
    assert.equal(builds, 2);
  });

  test("close disposes of a build in progress and refuses every later use (nothing is built after shutdown)", async () => {
    let builds = 0;
    let finish: (value: string) => void = () => {};
    const part = lazyPart(
      () =>
        new Promise<string>((resolve) => {
          builds += 1;
          finish = resolve;
        }),
    );
    const first = part.get();
    const disposed: string[] = [];
    const closing = part.close((built) => {
      disposed.push(built);
    });
    await assert.rejects(part.get(), /shutting down/);
    finish("proxy");
    await closing;
    assert.equal(await first, "proxy");
    assert.deepEqual(disposed, ["proxy"]);
    await assert.rejects(part.get(), /shutting down/);
    assert.equal(builds, 1);
  });

  test("close with nothing built disposes of nothing", async () => {
    const part = lazyPart(async () => "never");
    let disposed = 0;
    await part.close(() => {
      disposed += 1;
    });
    assert.equal(disposed, 0);
    await assert.rejects(part.get(), /shutting down/);
  });
});
