// Task names: the pool gives each task function it runs an index in a name
// table in shared memory (workers read names lazily). Only functions the
// task module exports get one: the first worker's ready message carries the
// export list, and a task naming anything else is refused without touching
// the table (names may come from client input). Until that list arrives,
// tasks of unknown names wait ("parked").

import {
  MAX_NAMES,
  NAME_BYTES,
  nameOffset,
  type SharedMemory,
} from "./_layout.ts";
import type { Task } from "./_task.ts";

const encoder = new TextEncoder();

/** The name table of one pool. */
export class TaskNames {
  #mem: SharedMemory;
  #indices = new Map<string, number>();
  #exports: Set<string> | undefined;
  #importError: unknown;
  /** Tasks waiting for the export list. */
  parked: Task[] = [];

  constructor(mem: SharedMemory) {
    this.#mem = mem;
  }

  /**
   * The index of `name`, registered if need be; -1 while the export list is
   * unknown (the task waits, parked); the error to refuse the task with when
   * the task module has no such function.
   */
  indexOf(name: string): number | Error {
    const index = this.#indices.get(name);
    if (index !== undefined) return index;
    if (this.#exports === undefined) return -1;
    return this.register(name) ?? this.#indices.get(name)!;
  }

  /** Sets the export list (or the import error) once; returns the parked. */
  setExports(exports: readonly string[], importError: unknown): Task[] {
    if (this.#exports !== undefined) return [];
    this.#exports = new Set(exports);
    this.#importError = importError;
    const parked = this.parked;
    this.parked = [];
    return parked;
  }

  /**
   * A parked task may go: registers its name (it gets its index) or returns
   * the error to reject it with.
   */
  unpark(task: Task): Error | undefined {
    task.parked = false;
    const error = this.register(task.name);
    if (error === undefined) task.fn = this.#indices.get(task.name)!;
    return error;
  }

  /**
   * Registers `name` if the task module exports such a function; otherwise
   * returns the error to reject its task with.
   */
  register(name: string): Error | undefined {
    if (this.#indices.has(name)) return undefined;
    if (this.#importError !== undefined) return this.#importError as Error;
    if (!this.#exports!.has(name)) {
      return new TypeError(
        `Cannot run task as '${name}' is not a function exported by the task module`,
      );
    }
    const index = this.#indices.size;
    const bytes = encoder.encode(name);
    if (index >= MAX_NAMES || bytes.length > NAME_BYTES - 4) {
      return new RangeError(
        `Cannot run task '${name}' as the pool knows ${MAX_NAMES} task names already, or the name is longer than ${
          NAME_BYTES - 4
        } bytes`,
      );
    }
    const at = nameOffset(this.#mem.lay, index);
    this.#mem.u8.set(bytes, at + 4);
    // Published before any task naming it (the ring's tail store follows).
    Atomics.store(this.#mem.i32, at >> 2, bytes.length);
    this.#indices.set(name, index);
    return undefined;
  }
}
