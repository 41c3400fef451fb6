// A task as the pool (main thread) tracks it from `run()` to its settlement.

/** A submitted task. */
export interface Task {
  readonly id: number;
  /** Index in the name table; -1 while parked (the export list is unknown). */
  fn: number;
  readonly name: string;
  readonly priority: number;
  /** Submission time (ms, absolute). */
  readonly enqueued: number;
  /** Kept until the task settles: a worker may ask for it (again). */
  input: unknown;
  transfer: Transferable[] | undefined;
  resolve: (value: unknown) => void;
  reject: (reason: unknown) => void;
  signal: AbortSignal | undefined;
  onProgress: ((value: unknown) => void) | undefined;
  timer: ReturnType<typeof setTimeout> | undefined;
  /** Priority ring holding it, -1 when not in a ring. */
  ring: number;
  /** Its ring position. */
  pos: number;
  inOverflow: boolean;
  /** Waits for the task module's export list. */
  parked: boolean;
  /** Cancelled while in the overflow queue. */
  dropped: boolean;
  /** Its transfer list went to a worker: it cannot be sent again. */
  inputMoved: boolean;
}

const NOOP = () => {};

/** A task (promise callbacks, signal and the rest to be set by the caller). */
export function newTask(
  id: number,
  fn: number,
  name: string,
  priority: number,
  enqueued: number,
  input: unknown,
): Task {
  // Every field set here, in one order: one object shape for all tasks.
  return {
    id,
    fn,
    name,
    priority,
    enqueued,
    input,
    transfer: undefined,
    resolve: NOOP,
    reject: NOOP,
    signal: undefined,
    onProgress: undefined,
    timer: undefined,
    ring: -1,
    pos: 0,
    inOverflow: false,
    parked: fn < 0,
    dropped: false,
    inputMoved: false,
  };
}

// The task whose promise is being created: one executor for every promise,
// instead of a closure (or Promise.withResolvers' result object) per task.
let forTask: Task | undefined;
function capture(
  resolve: (value: unknown) => void,
  reject: (reason: unknown) => void,
): void {
  forTask!.resolve = resolve;
  forTask!.reject = reject;
}

/** A promise settled by `task.resolve` / `task.reject`. */
export function promiseOf(task: Task): Promise<unknown> {
  forTask = task;
  const promise = new Promise<unknown>(capture);
  forTask = undefined;
  return promise;
}

/** A FIFO with O(1) shift. */
export class Fifo<T> {
  #items: (T | undefined)[] = [];
  #head = 0;

  /** Items in the queue. */
  get length(): number {
    return this.#items.length - this.#head;
  }

  /** Appends an item. */
  push(item: T): void {
    this.#items.push(item);
  }

  /** The first item. */
  peek(): T | undefined {
    return this.#items[this.#head];
  }

  /** Removes and returns the first item. */
  shift(): T | undefined {
    const item = this.#items[this.#head];
    this.#items[this.#head++] = undefined;
    if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return item;
  }

  /** Empties the queue; returns what was in it. */
  clear(): T[] {
    const rest = this.#items.slice(this.#head) as T[];
    this.#items = [];
    this.#head = 0;
    return rest;
  }
}
