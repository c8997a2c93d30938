/**
 * A TCP proxy in front of PostgreSQL for outage tests: replicas connect to it instead of the shared
 * server, so a test can stage a database outage (every connection cut, new ones refused) without
 * stopping PostgreSQL, which other engineers' tests use. `restore` listens again on the same port.
 * `blackhole` stages a silent network partition instead: nothing is cut or reset, bytes (a FIN too)
 * just stop arriving in either direction, and new connections are accepted but never answered.
 */
import { createConnection, createServer, type Server, type Socket } from "node:net";

/** A running proxy. */
export interface TcpProxy {
  /** The port it listens on (stable across outage and restore). */
  readonly port: number;
  /** `url` with its host and port replaced by the proxy's. */
  rewrite(url: string): string;
  /**
   * Stops listening (new connections are refused), runs `before` with the local ports of the
   * upstream connections (pg_stat_activity.client_port, to terminate exactly those backends), then
   * destroys every proxied connection.
   */
  outage(before?: (upstreamPorts: number[]) => Promise<void>): Promise<void>;
  /**
   * A silent partition: open connections stop forwarding (what was sent waits, as TCP retransmits
   * it), new ones are accepted and then hear nothing. No socket is closed or reset.
   */
  blackhole(): void;
  /** Ends an outage (listens again on the same port) or a blackhole (forwarding resumes). */
  restore(): Promise<void>;
  /** Connections accepted so far. */
  accepted(): number;
  close(): Promise<void>;
}

/** Starts a proxy on a free loopback port forwarding to `target`. */
export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  const sockets = new Set<Socket>();
  const upstreams = new Set<Socket>();
  const pairs = new Set<{ client: Socket; upstream: Socket }>();
  let acceptedCount = 0;
  let isBlackholed = false;
  const onConnection = (client: Socket) => {
    acceptedCount += 1;
    const upstream = createConnection(target);
    const pair = { client, upstream };
    pairs.add(pair);
    client.on("close", () => pairs.delete(pair));
    upstreams.add(upstream);
    upstream.on("close", () => upstreams.delete(upstream));
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on("close", () => sockets.delete(socket));
      // Either side failing ends both; the other side sees a reset, as with a real outage.
      socket.on("error", () => {
        client.destroy();
        upstream.destroy();
      });
    }
    if (isBlackholed) hold(pair);
    else flow(pair);
    client.on("close", () => upstream.destroy());
    upstream.on("close", () => client.destroy());
  };
  let server: Server = createServer(onConnection);
  await listen(server, 0);
  const port = (server.address() as { port: number }).port;
  let isListening = true;
  return {
    port,
    rewrite(url) {
      const rewritten = new URL(url);
      rewritten.hostname = "127.0.0.1";
      rewritten.port = String(port);
      return rewritten.toString();
    },
    async outage(before) {
      if (!isListening) return;
      isListening = false;
      const closed = new Promise((resolve) => server.close(resolve));
      await before?.([...upstreams].map((s) => s.localPort).filter((p): p is number => p !== undefined));
      for (const socket of sockets) socket.destroy();
      await closed;
    },
    blackhole() {
      isBlackholed = true;
      for (const pair of pairs) hold(pair);
    },
    async restore() {
      if (isBlackholed) {
        isBlackholed = false;
        for (const pair of pairs) flow(pair);
      }
      if (isListening) return;
      server = createServer(onConnection);
      await listen(server, port);
      isListening = true;
    },
    accepted: () => acceptedCount,
    async close() {
      for (const socket of sockets) socket.destroy();
      if (isListening) await new Promise((resolve) => server.close(resolve));
      isListening = false;
    },
  };
}

/** Forwards both ways (again). */
function flow({ client, upstream }: { client: Socket; upstream: Socket }): void {
  client.pipe(upstream);
  upstream.pipe(client);
}

/** Stops reading both sides: data and FINs stay in the kernel, unseen, as with a dropped link. */
function hold({ client, upstream }: { client: Socket; upstream: Socket }): void {
  client.unpipe(upstream);
  upstream.unpipe(client);
  client.pause();
  upstream.pause();
}

function listen(server: Server, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
}
