/**
 * A WebSocket service for bridge tests that accepts only the connection's current token: the
 * handshake must carry `Bearer <access_token of the current version>` (else HTTP 401). It echoes
 * messages and lets the test close sockets from the server side or stop answering pings.
 */
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { type WebSocket, WebSocketServer } from "ws";

/** The running service. */
export interface TokenWebSocketService {
  readonly url: string;
  /** Every handshake: the token presented and whether it was accepted. */
  readonly handshakes: Array<{ token: string; isAccepted: boolean }>;
  /** Sockets currently open, oldest first. */
  readonly sockets: WebSocket[];
  /** Messages received from clients. */
  readonly messages: string[];
  /** Close codes clients sent (or 1005/1006), in order. */
  readonly clientCloses: number[];
  /** Closes every open socket from the server side with this code. */
  closeAll(code: number, reason?: string): void;
  close(): Promise<void>;
}

/**
 * Starts the service; `currentToken()` says which bearer token is valid right now.
 *
 * @example
 * const service = await startTokenWebSocketService(() => `tok-c-v${nexus.credential("c").version}`);
 */
export async function startTokenWebSocketService(currentToken: () => string): Promise<TokenWebSocketService> {
  const server = http.createServer((_req, res) => {
    res.writeHead(426);
    res.end();
  });
  const wss = new WebSocketServer({ noServer: true });
  const sockets: WebSocket[] = [];
  const handshakes: Array<{ token: string; isAccepted: boolean }> = [];
  const messages: string[] = [];
  const clientCloses: number[] = [];

  server.on("upgrade", (request, socket, head) => {
    const token = (request.headers.authorization ?? "").replace(/^Bearer /, "");
    const isAccepted = token === currentToken();
    handshakes.push({ token, isAccepted });
    if (!isAccepted) {
      socket.end("HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
      return;
    }
    wss.handleUpgrade(request, socket, head, (ws) => {
      sockets.push(ws);
      ws.on("message", (data) => {
        messages.push(String(data));
        ws.send(`echo:${String(data)}`);
      });
      ws.on("close", (code) => {
        clientCloses.push(code);
        sockets.splice(sockets.indexOf(ws), 1);
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `ws://127.0.0.1:${port}/stream`,
    handshakes,
    sockets,
    messages,
    clientCloses,
    closeAll(code, reason = "") {
      for (const ws of [...sockets]) ws.close(code, reason);
    },
    async close() {
      for (const ws of [...sockets]) ws.terminate();
      wss.close();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
