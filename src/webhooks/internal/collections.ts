/**
 * The two containers the memory outbox needs, small enough to read and cheap per element: a FIFO
 * that does not copy on every shift, and a binary min-heap.
 */

/** First in, first out; `shift` is O(1) amortised (the array is compacted now and then). */
export class Fifo<A> {
  private items: Array<A | undefined> = []
  private head = 0

  get length() {
    return this.items.length - this.head
  }

  push(item: A) {
    this.items.push(item)
  }

  shift(): A | undefined {
    if (this.head === this.items.length) return undefined
    const item = this.items[this.head]
    this.items[this.head++] = undefined
    // Compact once the dead prefix is both large and most of the array.
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head)
      this.head = 0
    }
    return item
  }

  /** Empties the queue, returning what it held in order. */
  drain(): Array<A> {
    const rest = this.items.slice(this.head) as Array<A>
    this.items = []
    this.head = 0
    return rest
  }
}

/** The smallest element first, by `compare`. */
export class MinHeap<A> {
  private readonly items: Array<A> = []

  constructor(private readonly compare: (a: A, b: A) => number) {}

  get length() {
    return this.items.length
  }

  peek(): A | undefined {
    return this.items[0]
  }

  push(item: A) {
    const items = this.items
    items.push(item)
    let i = items.length - 1
    while (i > 0) {
      const parent = (i - 1) >> 1
      if (this.compare(items[i]!, items[parent]!) >= 0) break
      ;[items[i], items[parent]] = [items[parent]!, items[i]!]
      i = parent
    }
  }

  pop(): A | undefined {
    const items = this.items
    const top = items[0]
    const last = items.pop()
    if (items.length > 0 && last !== undefined) {
      items[0] = last
      let i = 0
      for (;;) {
        const left = 2 * i + 1
        const right = left + 1
        let smallest = i
        if (left < items.length && this.compare(items[left]!, items[smallest]!) < 0) smallest = left
        if (right < items.length && this.compare(items[right]!, items[smallest]!) < 0) smallest = right
        if (smallest === i) break
        ;[items[i], items[smallest]] = [items[smallest]!, items[i]!]
        i = smallest
      }
    }
    return top
  }

  /** Empties the heap, returning what it held in no particular order. */
  drain(): Array<A> {
    return this.items.splice(0)
  }
}
