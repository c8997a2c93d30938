/**
 * Request/response over Node's IPC channel between the bench and the server processes it forks, so
 * servers run (and are measured: RSS, CPU profile) apart from the load the bench generates. The
 * parent side forks and calls; the child side answers named operations and stops on request.
 */
import { fork } from "node:child_process";
import { once } from "node:events";

type Reply = { id: number; result?: unknown; error?: string };
type Request = { id: number; op: string; args?: unknown };

/** A forked bench child that has reported ready. */
export interface ChildHandle<Ready> {
  readonly ready: Ready;
  readonly pid: number;
  /** Runs a named operation in the child and resolves with its result. */
  call<T>(op: string, args?: unknown): Promise<T>;
  /** Asks the child to close its server and exit; kills it if it has not after `timeoutMs`. */
  stop(timeoutMs?: number): Promise<void>;
}

/**
 * Forks `script` with `config` (JSON in argv[2]) and waits for its ready message.
 * stdout is discarded (server logs must not cost a pipe to this process); stderr is inherited.
 */
export async function forkChild<Ready>(
  script: string,
  config: unknown,
  options: { execArgv?: string[] } = {},
): Promise<ChildHandle<Ready>> {
  const child = fork(script, [JSON.stringify(config)], {
    execArgv: options.execArgv ?? [],
    stdio: ["ignore", "ignore", "inherit", "ipc"],
  });
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  let nextId = 1;
  const exited = once(child, "exit");
  const ready = await new Promise<Ready>((resolve, reject) => {
    const onExit = (code: number | null) => reject(new Error(`${script} exited (${code}) before it was ready`));
    child.once("exit", onExit);
    child.once("message", (message: { ready?: Ready }) => {
      child.off("exit", onExit);
      if (message.ready === undefined) reject(new Error(`${script}: unexpected first message`));
      else resolve(message.ready);
    });
  });
  child.on("message", (message: Reply) => {
    const waiter = pending.get(message.id);
    if (!waiter) return;
    pending.delete(message.id);
    if (message.error !== undefined) waiter.reject(new Error(message.error));
    else waiter.resolve(message.result);
  });
  child.once("exit", (code) => {
    for (const waiter of pending.values()) waiter.reject(new Error(`${script} exited (${code})`));
    pending.clear();
  });
  return {
    ready,
    pid: child.pid ?? -1,
    call<T>(op: string, args?: unknown) {
      const id = nextId++;
      return new Promise<T>((resolve, reject) => {
        pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
        child.send({ id, op, args } satisfies Request);
      });
    },
    async stop(timeoutMs = 20_000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.send({ id: 0, op: "stop" } satisfies Request);
      const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Operations a child answers; each gets the request's args. */
export type ChildOperations = Record<string, (args: unknown) => unknown>;

/**
 * The child side: reports `ready`, answers operations, and on "stop" runs `close` then exits 0
 * (a clean exit, so `--cpu-prof` writes its profile). Also exits when the parent goes away.
 */
export function serveParent(ready: unknown, operations: ChildOperations, close: () => Promise<void>): void {
  const send = (message: unknown) => process.send?.(message);
  const stop = () =>
    close().then(
      () => process.exit(0),
      (err: unknown) => {
        process.stderr.write(`bench child: close failed: ${String(err)}\n`);
        process.exit(1);
      },
    );
  process.on("message", (message: Request) => {
    if (message.op === "stop") {
      void stop();
      return;
    }
    const operation = operations[message.op];
    Promise.resolve()
      .then(() => {
        if (!operation) throw new Error(`unknown operation ${message.op}`);
        return operation(message.args);
      })
      .then(
        (result) => send({ id: message.id, result } satisfies Reply),
        (err: unknown) => send({ id: message.id, error: err instanceof Error ? err.message : String(err) } satisfies Reply),
      );
  });
  process.once("disconnect", () => void stop());
  send({ ready });
}

/** Resident set size after a full GC when the child runs with --expose-gc, in bytes. */
export function settledRss(): number {
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  gc?.();
  return process.memoryUsage.rss();
}
