import { strict as assert } from "node:assert";
import { Deadlines, type HasDeadline } from "../../src/transport/bosh/deadlines.js";
import { FakeClock } from "../helpers/bosh-fakes.js";

// The one timer a BOSH connection manager keeps for the deadlines of all its sessions
// (XEP-0124 §8 wait, §10 inactivity), on a clock the test moves.

class Item implements HasDeadline {
  deadlineSlot = 0;
  /** Clock times at which it was told its deadline came. */
  fired: number[] = [];
  next: number | null = null;
  constructor(
    private readonly clock: FakeClock,
    private readonly d: Deadlines<Item>,
  ) {}
  onDeadline(): void {
    this.fired.push(this.clock.now());
    if (this.next !== null) {
      const at = this.next;
      this.next = null;
      this.d.set(this, at);
    }
  }
}

function setup(n: number) {
  const clock = new FakeClock();
  const d = new Deadlines<Item>(clock);
  const items = Array.from({ length: n }, () => new Item(clock, d));
  return { clock, d, items, t0: clock.now() };
}

describe("BOSH deadlines: one timer for every session of a manager", () => {
  it("tells each item at its deadline, never before, and keeps one clock timer for all", () => {
    const { clock, d, items, t0 } = setup(3);
    d.set(items[0]!, t0 + 30_000);
    d.set(items[1]!, t0 + 60_000);
    d.set(items[2]!, t0 + 10_000);
    assert.equal(clock.pending, 1);
    clock.advance(9_999);
    assert.deepEqual(
      items.map((i) => i.fired.length),
      [0, 0, 0],
    );
    clock.advance(1);
    assert.deepEqual(items[2]!.fired, [t0 + 10_000]);
    clock.advance(50_000);
    assert.deepEqual(items[0]!.fired, [t0 + 30_000]);
    assert.deepEqual(items[1]!.fired, [t0 + 60_000]);
    assert.equal(clock.pending, 0, "no timer once nothing is due");
  });

  it("meets a deadline between seconds at most a second late, never early", () => {
    const { clock, d, items, t0 } = setup(1);
    d.set(items[0]!, t0 + 1_500);
    clock.advance(1_499);
    assert.equal(items[0]!.fired.length, 0);
    clock.advance(1_000);
    assert.equal(items[0]!.fired.length, 1);
    assert.ok(items[0]!.fired[0]! >= t0 + 1_500 && items[0]!.fired[0]! <= t0 + 2_500);
  });

  it("moves an item's deadline when set again, and forgets it when cleared", () => {
    const { clock, d, items, t0 } = setup(2);
    d.set(items[0]!, t0 + 5_000);
    d.set(items[0]!, t0 + 20_000);
    d.set(items[1]!, t0 + 8_000);
    d.clear(items[1]!);
    clock.advance(10_000);
    assert.deepEqual(
      items.map((i) => i.fired.length),
      [0, 0],
      "neither the old deadline nor the cleared one",
    );
    clock.advance(10_000);
    assert.deepEqual(items[0]!.fired, [t0 + 20_000]);
    d.set(items[1]!, t0 + 30_000);
    d.clear(items[1]!);
    assert.equal(clock.pending, 0, "clearing the last deadline stops the timer");
  });

  it("lets an item set its next deadline when told, and tells every item of the same second", () => {
    const { clock, d, items, t0 } = setup(3);
    for (const i of items) d.set(i, t0 + 4_000);
    items[0]!.next = t0 + 9_000;
    clock.advance(4_000);
    assert.deepEqual(
      items.map((i) => i.fired.length),
      [1, 1, 1],
    );
    assert.equal(clock.pending, 1, "the next deadline has the timer");
    clock.advance(5_000);
    assert.deepEqual(items[0]!.fired, [t0 + 4_000, t0 + 9_000]);
    assert.equal(clock.pending, 0);
  });

  it("keeps its order through many deadlines set out of order", () => {
    const { clock, d, t0 } = setup(0);
    const items = Array.from({ length: 200 }, () => new Item(clock, d));
    // A spread of deadlines over 100 seconds, in a scrambled order.
    items.forEach((item, k) => d.set(item, t0 + ((k * 37) % 100) * 1000 + 1000));
    for (let s = 0; s <= 101; s++) {
      clock.advance(1000);
      for (const [k, item] of items.entries()) {
        if (item.fired.length === 0) continue;
        const due = t0 + ((k * 37) % 100) * 1000 + 1000;
        assert.equal(item.fired[0], due, `item ${k}`);
      }
    }
    assert.ok(items.every((i) => i.fired.length === 1));
    assert.equal(clock.pending, 0);
  });
});
