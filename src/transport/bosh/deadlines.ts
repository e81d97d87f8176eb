// The deadlines of every session of a BOSH connection manager on one clock timer. A session has
// at most one deadline at a time: its oldest held request's `wait` (XEP-0124 §8) or, with none
// held, its inactivity period (§10). They are kept by the second they fall in; a session costs
// an entry in its second's set, not a timer and a closure of its own, and the one timer is set
// for the earliest second. A deadline is never met early, and at most a second late.
import type { BoshClock, ClockTimer } from "./types.js";

/** Something with a deadline: `slot` is the manager's to keep (0 when there is none). */
export interface HasDeadline {
  deadlineSlot: number;
  /** Its deadline came (or passed); it sets the next one itself. */
  onDeadline(): void;
}

const SLOT_MS = 1000;

export class Deadlines<T extends HasDeadline> {
  private readonly slots = new Map<number, Set<T>>();
  /** The slots with a set, as a min-heap; a slot emptied since may still be in it. */
  private readonly heap: number[] = [];
  private timer: ClockTimer | null = null;
  private timerSlot = 0;

  constructor(private readonly clock: BoshClock) {}

  /** `item`'s deadline is `at` (ms on the clock), in place of any it had. */
  set(item: T, at: number): void {
    const slot = Math.ceil(at / SLOT_MS);
    if (item.deadlineSlot === slot) return;
    this.remove(item);
    let set = this.slots.get(slot);
    if (!set) {
      this.slots.set(slot, (set = new Set()));
      this.push(slot);
    }
    set.add(item);
    item.deadlineSlot = slot;
    this.arm();
  }

  /** `item` has no deadline any more. */
  clear(item: T): void {
    if (item.deadlineSlot === 0) return;
    this.remove(item);
    if (this.slots.size === 0) this.stop();
  }

  private remove(item: T): void {
    const slot = item.deadlineSlot;
    item.deadlineSlot = 0;
    const set = this.slots.get(slot);
    if (!set) return;
    set.delete(item);
    if (set.size === 0) this.slots.delete(slot);
  }

  /** The timer for the earliest slot with a set, or none. */
  private arm(): void {
    while (this.heap.length > 0 && !this.slots.has(this.heap[0]!)) this.pop();
    if (this.heap.length === 0) return this.stop();
    const slot = this.heap[0]!;
    if (this.timer !== null && this.timerSlot === slot) return;
    this.stop();
    this.timerSlot = slot;
    const ms = Math.max(0, slot * SLOT_MS - this.clock.now());
    this.timer = this.clock.setTimer(() => this.fire(), ms);
  }

  private stop(): void {
    if (this.timer !== null) this.clock.clearTimer(this.timer);
    this.timer = null;
  }

  /** Every item whose slot has come is told, after all of them were taken out. */
  private fire(): void {
    this.timer = null;
    const now = Math.floor(this.clock.now() / SLOT_MS);
    const due: T[] = [];
    while (this.heap.length > 0 && this.heap[0]! <= now) {
      const slot = this.pop();
      const set = this.slots.get(slot);
      if (!set) continue;
      this.slots.delete(slot);
      for (const item of set) {
        item.deadlineSlot = 0;
        due.push(item);
      }
    }
    for (const item of due) item.onDeadline();
    this.arm();
  }

  private push(slot: number): void {
    const h = this.heap;
    let i = h.length;
    h.push(slot);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (h[parent]! <= slot) break;
      h[i] = h[parent]!;
      i = parent;
    }
    h[i] = slot;
  }

  private pop(): number {
    const h = this.heap;
    const top = h[0]!;
    const last = h.pop()!;
    if (h.length > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= h.length) break;
        const c = l + 1 < h.length && h[l + 1]! < h[l]! ? l + 1 : l;
        if (h[c]! >= last) break;
        h[i] = h[c]!;
        i = c;
      }
      h[i] = last;
    }
    return top;
  }
}
