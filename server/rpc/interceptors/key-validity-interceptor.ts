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
 * does not, without waiting for the source's next message.
 */
async function* guardMessages<T>(
  source: AsyncIterable<T>,
  principal: Principal,
  liveness: ApiKeyLiveness,
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
  // Observed here so an abort while no one races it is not an unhandled rejection.
  aborted.catch(() => undefined);
  let isDone = false;
  try {
    for (;;) {
      const pending = iterator.next();
      // If the abort wins the race, this promise is left behind: its late failure is no news.
      pending.catch(() => undefined);
      const result = await Promise.race([pending, aborted]);
      if (result.done) {
        isDone = true;
        // A handler that saw its signal abort and returned quietly still ends with the key's error.
        if (ended.aborted) throw ended.reason as ConnectError;
        return;
      }
      const reason: KeyInvalidReason | null = liveness.check(principal);
      if (reason !== null) throw apiKeyNoLongerValidError(reason);
      // The key is valid as the message leaves: only now is its delivery audited (admit may refuse it).
      for (const admit of admits.splice(0)) admit();
      yield result.value;
    }
  } finally {
    if (onAbort) ended.removeEventListener("abort", onAbort);
    untrack();
    // The source may still be inside its own await (it ends on the aborted signal): don't wait for it.
    if (!isDone) iterator.return?.()?.catch(() => undefined);
  }
}
