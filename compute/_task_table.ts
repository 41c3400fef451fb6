// Pending tasks by id. Ids count up, so a direct-mapped array indexed by the
// low bits of the id hits almost always; the rare collision (a task still
// pending 65,536 ids later) falls back to a Map. About twice as fast as a Map
// alone on the hot path, which matters at a million tasks per second.

const SIZE = 65536;
const MASK = SIZE - 1;

/** A table of pending tasks keyed by their numeric id. */
export class TaskTable<T extends { readonly id: number }> {
  #slots: (T | undefined)[] = new Array(SIZE).fill(undefined);
  #spill = new Map<number, T>();
  #size = 0;

  /** Number of tasks in the table. */
  get size(): number {
    return this.#size;
  }

  /** The task with this id, if pending. */
  get(id: number): T | undefined {
    const t = this.#slots[id & MASK];
    if (t !== undefined && t.id === id) return t;
    return this.#spill.size === 0 ? undefined : this.#spill.get(id);
  }

  /** Adds a task (its id must not be in the table). */
  add(task: T): void {
    const i = task.id & MASK;
    if (this.#slots[i] === undefined) this.#slots[i] = task;
    else this.#spill.set(task.id, task);
    this.#size++;
  }

  /** Removes a task; returns whether it was there. */
  delete(task: T): boolean {
    const i = task.id & MASK;
    if (this.#slots[i] === task) {
      this.#slots[i] = undefined;
    } else if (!this.#spill.delete(task.id)) {
      return false;
    }
    this.#size--;
    return true;
  }

  /** Every task, in no particular order. */
  values(): T[] {
    const out: T[] = [];
    if (this.#size === 0) return out;
    for (const t of this.#slots) if (t !== undefined) out.push(t);
    for (const t of this.#spill.values()) out.push(t);
    return out;
  }
}
