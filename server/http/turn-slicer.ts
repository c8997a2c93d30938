/**
 * Starts request handlers in arrival order, in slices of event-loop time: once the handlers started
 * in one turn of the loop have run for `sliceMs`, the rest wait for the next turn. It owns only that
 * order and timing, not what a handler does or how its errors are answered.
 *
 * Why: libuv accepts at most one new connection per turn of the event loop (libuv/libuv#3696), and
 * a turn that runs every request read in it lasts as long as all of them take. When many keep-alive
 * connections are busy, the k-th connection of a burst (64 clients connecting at once, clients
 * reconnecting after a restart) waits k turns of up to k requests each before its first request is
 * read: its wait grows with the square of the burst. Bounded turns make it grow linearly, for one
 * more turn of the loop (an epoll_wait that does not block) per slice.
 */

/** Options of `createTurnSlicer`. */
export interface TurnSlicerOptions {
  /** Handler time one turn may take before the rest wait for the next turn, in milliseconds. */
  sliceMs: number;
  /** Monotonic milliseconds. Default `performance.now`. */
  now?: () => number;
  /** Asked when a slice is spent: false runs the queued tasks on in this turn. Default: always yield. */
  shouldYield?: () => boolean;
}

/** Queues handler starts. */
export interface TurnSlicer {
  /**
   * Runs `task` after the tasks queued before it, in this turn if its slice has time left, else
   * in a later one. It runs outside the caller's stack: catch inside it (a throw becomes an
   * uncaught exception; the queue carries on).
   */
  run(task: () => void): void;
  /** Tasks queued and not yet started. */
  pending(): number;
}

/** Started tasks the queue may hold as empty slots before it is compacted (under load it may never empty). */
const COMPACT_AFTER = 1_024;

/**
 * Creates a slicer.
 * @example
 * const slicer = createTurnSlicer({ sliceMs: 2 });
 * server.on("request", (req, res) => slicer.run(() => handle(req, res)));
 */
export function createTurnSlicer(options: TurnSlicerOptions): TurnSlicer {
  const { sliceMs } = options;
  const now = options.now ?? (() => performance.now());
  const shouldYield = options.shouldYield ?? (() => true);
  let queue: ((() => void) | undefined)[] = [];
  let head = 0;
  // When the current turn's slice began; undefined until a task starts in a turn.
  let sliceStart: number | undefined;

  const endSlice = (): void => {
    sliceStart = undefined;
  };

  // One step per queued task. Node runs the immediates queued before the check phase began, each
  // followed by its process.nextTick and promise callbacks, so a step's clock reading includes the
  // work the previous handler did up to its first real wait (I/O, a timer). Immediates queued
  // during the phase run in the next turn, after its poll phase: that is how a step yields.
  const step = (): void => {
    if (sliceStart === undefined) {
      sliceStart = now();
      // Queued before any step that yields below, so the next turn opens a new slice first.
      setImmediate(endSlice);
    } else if (now() - sliceStart >= sliceMs && shouldYield()) {
      setImmediate(step);
      return;
    }
    const task = queue[head];
    queue[head] = undefined; // keeps no started task (nor its request) alive
    head++;
    if (head === queue.length) {
      queue = [];
      head = 0;
    } else if (head >= COMPACT_AFTER && head * 2 >= queue.length) {
      queue = queue.slice(head);
      head = 0;
    }
    try {
      task?.();
    } catch (err) {
      process.nextTick(() => {
        throw err;
      });
    }
  };

  return {
    run(task) {
      queue.push(task);
      setImmediate(step);
    },
    pending: () => queue.length - head,
  };
}
