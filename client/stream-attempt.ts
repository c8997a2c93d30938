/**
 * One connection attempt of a resuming server stream (WatchCredentials, WatchConnections): its own
 * abort signal, tied to the caller's, and a silence watchdog that aborts it when the server sends
 * nothing (not even a heartbeat) for `silenceLimitMs`. The watch loops own what they resume from;
 * this owns only the attempt's lifetime.
 */

/** The attempt's signal and watchdog. */
export interface StreamAttempt {
  /** Pass to the stream call: aborted by the caller's signal, the watchdog, or `end()`. */
  readonly signal: AbortSignal;
  /** Whether the watchdog (not the caller or the server) ended the attempt. */
  readonly isSilent: boolean;
  /** (Re)starts the watchdog: after the call starts and after each message is handled. */
  arm(): void;
  /** Stops the watchdog while the consumer holds a yielded message (that is not server silence). */
  pause(): void;
  /** Stops the watchdog, unties the caller's signal and aborts the attempt (always, in `finally`). */
  end(): void;
}

/** Starts an attempt; `what` names the stream in the watchdog's abort reason. */
export function startStreamAttempt(outer: AbortSignal | undefined, silenceLimitMs: number, what: string): StreamAttempt {
  const controller = new AbortController();
  const forwardAbort = () => controller.abort(outer?.reason);
  outer?.addEventListener("abort", forwardAbort, { once: true });
  let isSilent = false;
  let timer: NodeJS.Timeout | undefined;
  return {
    signal: controller.signal,
    get isSilent() {
      return isSilent;
    },
    arm() {
      clearTimeout(timer);
      timer = setTimeout(() => {
        isSilent = true;
        controller.abort(new Error(`${what} silent for too long`));
      }, silenceLimitMs);
    },
    pause() {
      clearTimeout(timer);
    },
    end() {
      clearTimeout(timer);
      outer?.removeEventListener("abort", forwardAbort);
      controller.abort();
    },
  };
}
