// A binary min-heap of timer nodes ordered by (deadline, seq). Each node keeps
// its heap index so that cancel is O(log n) without a search; seq keeps timers
// with equal deadlines in scheduling order.

/** One scheduled timer. */
export class TimerNode {
  deadline = 0;
  seq = 0;
  /** Position in the heap, -1 when not scheduled. */
  index = -1;
  intervalMs = 0;
  callback: (() => void) | (() => Promise<void>) | undefined;
  /** The registration token of a Timer source, -1 for callback timers. */
  token = -1;
  /** The loop's record of a Timer source. */
  entry: unknown = undefined;

  constructor(
    callback: (() => void) | (() => Promise<void>) | undefined,
    token: number,
  ) {
    this.callback = callback;
    this.token = token;
  }
}

export class TimerHeap {
  #nodes: TimerNode[] = [];
  #seq = 0;

  get size(): number {
    return this.#nodes.length;
  }

  peek(): TimerNode | undefined {
    return this.#nodes[0];
  }

  push(node: TimerNode, deadline: number): void {
    node.deadline = deadline;
    node.seq = this.#seq++;
    const nodes = this.#nodes;
    nodes.push(node);
    this.#sift(node, nodes.length - 1);
  }

  pop(): TimerNode | undefined {
    const nodes = this.#nodes;
    const top = nodes[0];
    if (top === undefined) return undefined;
    this.#removeAt(0);
    return top;
  }

  remove(node: TimerNode): boolean {
    const i = node.index;
    if (i < 0 || this.#nodes[i] !== node) return false;
    this.#removeAt(i);
    return true;
  }

  clear(): TimerNode[] {
    const nodes = this.#nodes;
    this.#nodes = [];
    for (const node of nodes) node.index = -1;
    return nodes;
  }

  #removeAt(i: number): void {
    const nodes = this.#nodes;
    nodes[i]!.index = -1;
    const last = nodes.pop()!;
    if (i < nodes.length) this.#sift(last, i);
  }

  #less(a: TimerNode, b: TimerNode): boolean {
    return a.deadline < b.deadline ||
      (a.deadline === b.deadline && a.seq < b.seq);
  }

  /** Puts `node` at slot `i`, keeping its back-pointer in step. */
  #place(node: TimerNode, i: number): void {
    this.#nodes[i] = node;
    node.index = i;
  }

  /**
   * Puts `node` into the hole at slot `i`, moved to where the order wants
   * it: up past later parents, else down past earlier children. (A node
   * that moved up is earlier than its new children already: the second loop
   * then stops at its first comparison.)
   */
  #sift(node: TimerNode, i: number): void {
    const nodes = this.#nodes;
    while (i > 0) {
      const p = (i - 1) >> 1;
      const parent = nodes[p]!;
      if (!this.#less(node, parent)) break;
      this.#place(parent, i);
      i = p;
    }
    const n = nodes.length;
    for (let c = 2 * i + 1; c < n; c = 2 * i + 1) {
      if (c + 1 < n && this.#less(nodes[c + 1]!, nodes[c]!)) c++;
      const child = nodes[c]!;
      if (!this.#less(child, node)) break;
      this.#place(child, i);
      i = c;
    }
    this.#place(node, i);
  }
}
