import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { CredentialInBody, SecretScreen } from "./secret-screen.ts";

const SECRET = "sk-live-0123456789abcdefghij";

/** Feeds `body` cut at `cuts` through a screen; what left before it stopped, and whether it stopped. */
function screenBody(secrets: readonly string[], body: string, cuts: readonly number[]): { out: string; stopped: boolean } {
  const screen = new SecretScreen(secrets);
  const bytes = Buffer.from(body, "latin1");
  const parts: Buffer[] = [];
  const emit = (chunk: Buffer) => {
    // What leaves is written later: a screen must not hand out a view it changes afterwards.
    parts.push(Buffer.from(chunk));
  };
  let at = 0;
  try {
    for (const cut of [...cuts, bytes.length]) {
      screen.pass(bytes.subarray(at, cut), emit);
      at = cut;
    }
  } catch (err) {
    assert.ok(err instanceof CredentialInBody, String(err));
    return { out: Buffer.concat(parts).toString("latin1"), stopped: true };
  }
  parts.push(screen.flush());
  return { out: Buffer.concat(parts).toString("latin1"), stopped: false };
}

/** Cuts every `size` bytes. */
function every(size: number, length: number): number[] {
  const cuts: number[] = [];
  for (let at = size; at < length; at += size) cuts.push(at);
  return cuts;
}

/** The screen stopped, and nothing from the secret's first byte on left. */
function assertStopped(result: { out: string; stopped: boolean }, body: string, secret: string, what: string): void {
  assert.ok(result.stopped, `${what}: the secret passed`);
  assert.ok(
    result.out.length <= body.indexOf(secret),
    `${what}: ${result.out.length} bytes left, the secret starts at ${body.indexOf(secret)}`,
  );
  assert.ok(body.startsWith(result.out), `${what}: what left is not the body's start`);
}

/** A deterministic pseudo-random generator (mulberry32). */
function random(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe("SecretScreen", () => {
  test("a secret split across two chunks, at every split point, is stopped before any byte of it leaves", () => {
    const body = `{"data":"hello","token":"${SECRET}","more":"x"}`;
    const start = body.indexOf(SECRET);
    for (let cut = start + 1; cut < start + SECRET.length; cut++) {
      assertStopped(screenBody([SECRET], body, [cut]), body, SECRET, `cut at ${cut}`);
    }
  });

  test("a secret split across three chunks (the middle one inside it) is stopped", () => {
    const body = `prefix ${SECRET} suffix`;
    const start = body.indexOf(SECRET);
    for (let a = start + 1; a < start + SECRET.length - 1; a++) {
      for (let b = a + 1; b < start + SECRET.length; b++) {
        assertStopped(screenBody([SECRET], body, [a, b]), body, SECRET, `cuts at ${a}, ${b}`);
      }
    }
  });

  test("a secret at a chunk's start, at its end, and as a whole chunk is stopped", () => {
    const before = "a".repeat(40);
    const body = `${before}${SECRET}${"b".repeat(40)}`;
    const start = before.length;
    const end = start + SECRET.length;
    assertStopped(screenBody([SECRET], body, [start]), body, SECRET, "at a chunk's start");
    assertStopped(screenBody([SECRET], body, [end]), body, SECRET, "at a chunk's end");
    assertStopped(screenBody([SECRET], body, [start, end]), body, SECRET, "a whole chunk");
    assertStopped(screenBody([SECRET], SECRET, []), SECRET, SECRET, "the whole body");
  });

  test("1-byte chunks, and chunks shorter than the secret, stop it; the same bodies without it pass whole", () => {
    const body = `${"x".repeat(13)}${SECRET}${"y".repeat(7)}`;
    for (const size of [1, 2, 3, 5, 7, SECRET.length - 1]) {
      assertStopped(screenBody([SECRET], body, every(size, body.length)), body, SECRET, `${size}-byte chunks`);
      const clean = body.replace(SECRET, SECRET.slice(0, -1));
      assert.deepEqual(
        screenBody([SECRET], clean, every(size, clean.length)),
        { out: clean, stopped: false },
        `${size}-byte chunks, clean`,
      );
    }
  });

  test("the start of a secret at a chunk's end is held back until the body shows it is not the secret", () => {
    const partial = SECRET.slice(0, 10);
    const body = `${"z".repeat(30)}${partial}!${"z".repeat(10)}`;
    const screen = new SecretScreen([SECRET]);
    const left: string[] = [];
    const emit = (chunk: Buffer) => {
      left.push(chunk.toString("latin1"));
    };
    screen.pass(Buffer.from(body.slice(0, 40), "latin1"), emit);
    assert.equal(left.join(""), "z".repeat(30), "the possible start of the secret left");
    screen.pass(Buffer.from(body.slice(40), "latin1"), emit);
    assert.equal(left.join("") + screen.flush().toString("latin1"), body);
  });

  test("overlapping near-misses (a secret whose start repeats) are neither let through nor stopped wrongly", () => {
    const secret = "aaaaaaaaab";
    const clean = `${"a".repeat(50)}c${"a".repeat(9)}`;
    const dirty = `${"a".repeat(50)}b`;
    for (const size of [1, 2, 3, 4, 9, 10, 11, 64]) {
      assert.deepEqual(screenBody([secret], clean, every(size, clean.length)), { out: clean, stopped: false }, `${size}: clean`);
      assertStopped(screenBody([secret], dirty, every(size, dirty.length)), dirty, secret, `${size}: dirty`);
    }
  });

  test("several secrets of different lengths, their JSON-escaped '/' form, random cuts: stopped iff one is in the body", () => {
    const secrets = ["short-secret", "a/longer/secret/with/slashes=="];
    const next = random(14);
    const alphabet = "sho-rtecaln/gwi=\\";
    for (let round = 0; round < 400; round++) {
      let body = "";
      const length = 20 + Math.floor(next() * 100);
      while (body.length < length) body += alphabet[Math.floor(next() * alphabet.length)];
      const planted = [undefined, "short-secret", "a/longer/secret/with/slashes==", "a\\/longer\\/secret\\/with\\/slashes=="][round % 4];
      if (planted !== undefined) {
        const at = Math.floor(next() * body.length);
        body = body.slice(0, at) + planted + body.slice(at);
      }
      const cuts = every(1 + Math.floor(next() * 12), body.length);
      const result = screenBody(secrets, body, cuts);
      const firstSecret = Math.min(
        ...["short-secret", "a/longer/secret/with/slashes==", "a\\/longer\\/secret\\/with\\/slashes=="]
          .map((s) => body.indexOf(s))
          .filter((i) => i >= 0),
      );
      if (Number.isFinite(firstSecret)) {
        assert.ok(result.stopped, `round ${round}: a secret passed`);
        assert.ok(result.out.length <= firstSecret, `round ${round}: bytes of a secret left`);
        assert.ok(body.startsWith(result.out), `round ${round}: what left is not the body's start`);
      } else {
        assert.deepEqual(result, { out: body, stopped: false }, `round ${round}`);
      }
    }
  });

  test("a body without any secret passes byte for byte and unchanged chunks pass as they are (no copy)", () => {
    const screen = new SecretScreen([SECRET]);
    const chunk = Buffer.alloc(64 * 1024, "b");
    const left: Buffer[] = [];
    screen.pass(chunk, (bytes) => left.push(bytes));
    assert.equal(left.length, 1);
    assert.equal(left[0], chunk, "the chunk itself, not a copy");
    assert.equal(screen.flush().length, 0);
    const none = new SecretScreen(["short"]);
    none.pass(chunk, (bytes) => left.push(bytes));
    assert.equal(left[1], chunk, "nothing long enough to screen: the chunk as is");
  });
});
