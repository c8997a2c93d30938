/**
 * Observes the end of a server stream: interceptors see a streaming RPC "succeed" when it starts,
 * so metrics, logs and error mapping wrap the response iterable and act when it finishes.
 */

/** Wraps `source` so `onEnd` runs exactly once with the error (or undefined) that ended it. */
export async function* observeStreamEnd<T>(
  source: AsyncIterable<T>,
  onEnd: (err: unknown) => void,
): AsyncGenerator<T> {
  let ended = false;
  try {
    for await (const message of source) yield message;
  } catch (err) {
    ended = true;
    onEnd(err);
    throw err;
  } finally {
    // Also reached when the consumer stops early (client went away): that is an ordinary end.
    if (!ended) onEnd(undefined);
  }
}

/** Wraps `source` so every error it throws is replaced by `map(error)`. */
export async function* mapStreamError<T>(source: AsyncIterable<T>, map: (err: unknown) => unknown): AsyncGenerator<T> {
  try {
    for await (const message of source) yield message;
  } catch (err) {
    throw map(err);
  }
}
