/** A tiny async queue for scripted servers: producers push, one consumer iterates until end(). */

/** An unbounded single-consumer queue that ends on `end()`. */
export function createQueue<T>(): { push: (item: T) => void; end: () => void; iterate: () => AsyncGenerator<T> } {
  const items: T[] = [];
  let isEnded = false;
  let wake: (() => void) | undefined;
  return {
    push(item) {
      if (isEnded) return;
      items.push(item);
      wake?.();
    },
    end() {
      isEnded = true;
      wake?.();
    },
    async *iterate() {
      for (;;) {
        while (items.length > 0) yield items.shift()!;
        if (isEnded) return;
        await new Promise<void>((resolve) => (wake = resolve));
        wake = undefined;
      }
    },
  };
}
