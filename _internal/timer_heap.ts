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
    node.index = nodes.length;
    nodes.push(node);
    this.#up(node.index);
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
    const removed = nodes[i]!;
    removed.index = -1;
    const last = nodes.pop()!;
    if (i === nodes.length) return;
    nodes[i] = last;
    last.index = i;
    if (i > 0 && this.#less(last, nodes[(i - 1) >> 1]!)) this.#up(i);
    else this.#down(i);
  }

  #less(a: TimerNode, b: TimerNode): boolean {
    return a.deadline < b.deadline ||
      (a.deadline === b.deadline && a.seq < b.seq);
  }

  #up(i: number): void {
    const nodes = this.#nodes;
    const node = nodes[i]!;
    while (i > 0) {
      const p = (i - 1) >> 1;
      const parent = nodes[p]!;
      if (!this.#less(node, parent)) break;
      nodes[i] = parent;
      parent.index = i;
      i = p;
    }
    nodes[i] = node;
    node.index = i;
  }

  #down(i: number): void {
    const nodes = this.#nodes;
    const n = nodes.length;
    const node = nodes[i]!;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      let c = l;
      if (r < n && this.#less(nodes[r]!, nodes[l]!)) c = r;
      const child = nodes[c]!;
      if (!this.#less(child, node)) break;
      nodes[i] = child;
      child.index = i;
      i = c;
    }
    nodes[i] = node;
    node.index = i;
  }
}
