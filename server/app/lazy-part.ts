/**
 * Parts of the app that few requests need (the consent flow and credential form, the proxy) are
 * imported and built on first use, not at start-up (cold start). Every caller before the part is
 * ready awaits the same import: it is built once, and no request sees a half-built part.
 */

/** A part built on first use. */
export interface LazyPart<T> {
  /** The part, imported and built by the first call; a failed build is retried by the next. */
  get(): Promise<T>;
  /** The part if a build was started: resolves when it settles (undefined if none or it failed). */
  settled(): Promise<T | undefined>;
  /**
   * At shutdown: refuses every later `get` (so nothing is built after this), then disposes of the
   * part if a build was started, once it settles.
   */
  close(dispose: (part: T) => Promise<void> | void): Promise<void>;
}

/** A part that `build` (a dynamic import and a constructor) makes on first use. */
export function lazyPart<T>(build: () => Promise<T>): LazyPart<T> {
  let building: Promise<T> | undefined;
  let isClosed = false;
  return {
    get() {
      if (isClosed) return Promise.reject(new Error("the app is shutting down"));
      building ??= build().catch((error: unknown) => {
        building = undefined;
        throw error;
      });
      return building;
    },
    async settled() {
      return building?.catch(() => undefined);
    },
    async close(dispose) {
      isClosed = true;
      const part = await this.settled();
      if (part !== undefined) await dispose(part);
    },
  };
}
