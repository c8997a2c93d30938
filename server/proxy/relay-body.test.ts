import assert from "node:assert/strict";
import { once } from "node:events";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { PassThrough } from "node:stream";
import { after, before, describe, test } from "node:test";
import { relayBody } from "./relay-body.ts";
import { SecretScreen } from "./secret-screen.ts";

const SECRET = "sk-live-0123456789abcdefghij";

describe("relayBody", { timeout: 10_000 }, () => {
  let server: http.Server;
  let port = 0;
  /** The provider's body for the next request, and what the relay did with it. */
  let body: PassThrough;
  let relayed: Promise<unknown>;

  before(async () => {
    server = http.createServer((_req, res) => {
      res.writeHead(200, { "content-type": "text/plain" });
      relayed = relayBody(body, res, 1024 * 1024, { bytesOut: 0 }, new AbortController().signal, new SecretScreen([SECRET])).then(
        () => "done",
        (err: unknown) => {
          res.destroy();
          return err;
        },
      );
    });
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    port = (server.address() as AddressInfo).port;
  });

  after(() => {
    server.closeAllConnections();
    server.close();
  });

  const get = () => {
    const req = http.get({ host: "127.0.0.1", port, path: "/", agent: false });
    return once(req, "response").then(([res]) => res as http.IncomingMessage);
  };

  test("status and headers leave when the first bytes are all held back (the start of a secret, the rest yet to come)", async () => {
    body = new PassThrough();
    // Buffered before the relay starts, as undici's body usually is: headers wait for a write.
    body.write(SECRET.slice(0, 12));
    const res = await get();
    assert.equal(res.statusCode, 200);
    // Not the secret after all: the held-back bytes follow with the rest.
    body.end("… and the rest");
    let text = "";
    res.setEncoding("latin1");
    for await (const chunk of res) text += chunk;
    assert.equal(text, Buffer.from(`${SECRET.slice(0, 12)}… and the rest`).toString("latin1"));
    assert.equal(await relayed, "done");
  });

  test("status and headers leave at once while no byte of the body has come (a streamed answer)", async () => {
    body = new PassThrough();
    const res = await get();
    assert.equal(res.statusCode, 200);
    body.end("late");
    res.setEncoding("utf8");
    let text = "";
    for await (const chunk of res) text += chunk;
    assert.equal(text, "late");
  });

  test("a body whose first chunk holds the secret: the status leaves, the body is cut before the secret", async () => {
    body = new PassThrough();
    body.write(`ok ${SECRET}`);
    const res = await get();
    assert.equal(res.statusCode, 200);
    const received: Buffer[] = [];
    res.on("data", (chunk: Buffer) => received.push(chunk));
    // The answer ends early: Node reports it as an "aborted" error on the response.
    res.on("error", () => undefined);
    await new Promise((resolve) => res.on("close", resolve));
    assert.ok(!Buffer.concat(received).toString().includes(SECRET.slice(0, 4)));
    assert.equal(((await relayed) as Error).name, "CredentialInBody");
  });
});
