/**
 * Holds every authenticated stream to its API key's validity for as long as it stays open: the key
 * is re-checked (from memory, server/auth/api-key-liveness.ts) before each message and, through
 * `kAssertKeyValid`, before a handler delivers a credential; a revocation or expiry ends the stream
 * at once with Unauthenticated (reason API_KEY_REVOKED / API_KEY_EXPIRED), even while the handler
 * waits for its next event. A unary call is checked again once its handler returns, so an answer
 * (a credential) computed while the key was revoked is never sent. Runs innermost (inside audit),
 * so the audit row records the refusal and no credential delivery is admitted. A stream's
 * credential is audited (`kAdmitOnSend`) only after the last key check before it is sent.
 */
import type { ConnectError, Interceptor } from "@connectrpc/connect";
import type { ApiKeyLiveness, KeyInvalidReason } from "../../auth/api-key-liveness.ts";
import { kAdmitOnSend, kAssertKeyValid, kPrincipal } from "../../request/context.ts";
import type { Principal } from "../../request/principal.ts";
import { apiKeyNoLongerValidError } from "../errors.ts";

/** Creates the interceptor. */
export function createKeyValidityInterceptor(deps: { liveness: ApiKeyLiveness }): Interceptor {
  const { liveness } = deps;
  // A unary call gets no async layer of its own: the checks before and after are synchronous (a
  // refusal thrown at once still reaches the caller as a rejection: every outer layer awaits in a try).
  return (next) => (req) => {
    const principal = req.contextValues.get(kPrincipal);
    const isStreaming = req.method.methodKind === "server_streaming" || req.method.methodKind === "bidi_streaming";
    if (principal === undefined) return next(req);
    const refusal = liveness.check(principal);
    if (refusal !== null) throw apiKeyNoLongerValidError(refusal);
    if (!isStreaming) {
      return next(req).then((res) => {
        // The handler may have waited (read lease, provider) across a RevokeApiKey: re-check before answering.
        const late = liveness.check(principal);
        if (late !== null) throw apiKeyNoLongerValidError(late);
        return res;
      });
    }
    return guardStream(next, req, principal);
  };

  async function guardStream(next: Parameters<Interceptor>[0], req: Parameters<ReturnType<Interceptor>>[0], principal: Principal) {
    // The handler sees this signal as ctx.signal: aborting it ends its waits (hub subscription).
    const ended = new AbortController();
    const untrack = liveness.track(principal, (reason) => ended.abort(apiKeyNoLongerValidError(reason)));
    const assertValid = () => {
      if (ended.signal.aborted) throw ended.signal.reason;
      const reason = liveness.check(principal);
      if (reason !== null) throw apiKeyNoLongerValidError(reason);
    };
    req.contextValues.set(kAssertKeyValid, assertValid);
    // Audit rows of credentials the handler is about to yield; run once the guard has cleared it.
    const admits: (() => void)[] = [];
    req.contextValues.set(kAdmitOnSend, (admit) => void admits.push(admit));
    let res;
    try {
      res = await next({ ...req, signal: AbortSignal.any([req.signal, ended.signal]) });
    } catch (err) {
      untrack();
      throw err;
    }
    if (!res.stream) {
      untrack();
      return res;
    }
    return { ...res, message: guardMessages(res.message, principal, liveness, ended.signal, untrack, admits) };
  }
}

/**
 * Passes messages through while the key stays valid; ends with the key's error the moment it
 * does not, without waiting for the source's next message. One small object (the signal's
 * listener itself) rather than an async generator, since a watch stream holds it for hours; it
 * behaves as the generator it replaced (key-validity-guard.test.ts).
 */
export function guardMessages<T>(
  source: AsyncIterable<T>,
  principal: Principal,
  liveness: Pick<ApiKeyLiveness, "check">,
  ended: AbortSignal,
  untrack: () => void,
  admits: (() => void)[],
): AsyncIterableIterator<T> {
  return new Guard(source, principal, liveness, ended, untrack, admits);
}

const START = 0;
const RUNNING = 1;
const DONE = 2;

class Guard<T> implements AsyncIterableIterator<T> {
  private readonly source: AsyncIterable<T>;
  private readonly principal: Principal;
  private readonly liveness: Pick<ApiKeyLiveness, "check">;
  private readonly ended: AbortSignal;
  private readonly untrack: () => void;
  private readonly admits: (() => void)[];
  private iterator: AsyncIterator<T> | undefined = undefined;
  private state = START;
  private isDone = false;
  private isListening = false;
  /** Set once `ended` aborted: every read from then on fails with it. */
  private abortReason: { reason: unknown } | undefined = undefined;
  /** Fails the read in flight when `ended` aborts. */
  private onAbort: ((reason: unknown) => void) | undefined = undefined;

  constructor(
    source: AsyncIterable<T>,
    principal: Principal,
    liveness: Pick<ApiKeyLiveness, "check">,
    ended: AbortSignal,
    untrack: () => void,
    admits: (() => void)[],
  ) {
    this.source = source;
    this.principal = principal;
    this.liveness = liveness;
    this.ended = ended;
    this.untrack = untrack;
    this.admits = admits;
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<T> {
    return this;
  }

  next(): Promise<IteratorResult<T>> {
    if (this.state === DONE) return Promise.resolve({ value: undefined, done: true });
    if (this.state === START) {
      try {
        this.iterator = this.source[Symbol.asyncIterator]();
      } catch (err) {
        this.state = DONE;
        return Promise.reject(err);
      }
      this.state = RUNNING;
      if (this.ended.aborted) this.abortReason = { reason: this.ended.reason };
      else {
        this.ended.addEventListener("abort", this, { once: true });
        this.isListening = true;
      }
    }
    let pending: Promise<IteratorResult<T>>;
    try {
      pending = this.iterator!.next();
    } catch (err) {
      this.finish();
      return Promise.reject(err);
    }
    // If the abort wins the race, this promise is left behind: its late failure is no news.
    pending.catch(() => undefined);
    const aborted =
      this.abortReason !== undefined
        ? Promise.reject(this.abortReason.reason)
        : new Promise<never>((_, reject) => {
            this.onAbort = reject;
          });
    return Promise.race([pending, aborted]).then(
      (result) => {
        this.onAbort = undefined;
        try {
          if (result.done === true) {
            this.isDone = true;
            // A handler that saw its signal abort and returned quietly still ends with the key's error.
            if (this.ended.aborted) throw this.ended.reason as ConnectError;
            this.finish();
            return { value: undefined, done: true };
          }
          const reason: KeyInvalidReason | null = this.liveness.check(this.principal);
          if (reason !== null) throw apiKeyNoLongerValidError(reason);
          // The key is valid as the message leaves: only now is its delivery audited (admit may refuse it).
          for (const admit of this.admits.splice(0)) admit();
        } catch (err) {
          this.finish();
          throw err;
        }
        return { value: result.value, done: false };
      },
      (err: unknown) => {
        this.onAbort = undefined;
        this.finish();
        throw err;
      },
    );
  }

  return(value?: unknown): Promise<IteratorResult<T>> {
    if (this.state === RUNNING) this.finish();
    this.state = DONE;
    return Promise.resolve({ value: value as never, done: true });
  }

  throw(err?: unknown): Promise<IteratorResult<T>> {
    if (this.state === RUNNING) this.finish();
    this.state = DONE;
    return Promise.reject(err);
  }

  /** `ended` aborted. */
  handleEvent(): void {
    this.abortReason = { reason: this.ended.reason };
    this.onAbort?.(this.ended.reason);
  }

  private finish(): void {
    this.state = DONE;
    if (this.isListening) this.ended.removeEventListener("abort", this);
    this.untrack();
    // The source may still be inside its own await (it ends on the aborted signal): don't wait for it.
    if (!this.isDone) void this.iterator?.return?.()?.catch(() => undefined);
  }
}
