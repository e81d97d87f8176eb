import { strict as assert } from "node:assert";
import { Throttle } from "../../modules/mod_push/throttle.js";

/** A throttle over a clock and timers the test moves by hand. */
function harness(intervalMs: number) {
  let now = 1000;
  const sent: [string, number][] = [];
  const timers: { at: number; fn: () => void; cancelled: boolean }[] = [];
  const throttle = new Throttle<number>(
    intervalMs,
    (device, n) => sent.push([device, n]),
    (a, b) => a + b,
    (fn, ms) => {
      const timer = { at: now + ms, fn, cancelled: false };
      timers.push(timer);
      return () => (timer.cancelled = true);
    },
    () => now,
  );
  return {
    throttle,
    sent,
    /** Moves the clock, firing the timers due by then. */
    advance(ms: number) {
      now += ms;
      for (const t of timers.filter((t) => !t.cancelled && t.at <= now)) {
        t.cancelled = true;
        t.fn();
      }
    },
    pendingTimers: () => timers.filter((t) => !t.cancelled).length,
  };
}

describe("mod_push rate limit per device (Throttle)", () => {
  it("sends the first event at once and gathers the rest of the interval into one, sent at its end", () => {
    const h = harness(5000);
    h.throttle.offer("phone", 1);
    h.throttle.offer("phone", 1);
    h.throttle.offer("phone", 1);
    assert.deepEqual(h.sent, [["phone", 1]]);
    h.advance(4999);
    assert.deepEqual(h.sent, [["phone", 1]]);
    h.advance(1);
    assert.deepEqual(h.sent, [
      ["phone", 1],
      ["phone", 2],
    ]);
    // That send started a new interval: the next event waits for it too.
    h.throttle.offer("phone", 1);
    assert.equal(h.sent.length, 2);
    h.advance(5000);
    assert.deepEqual(h.sent.at(-1), ["phone", 1]);
  });

  it("limits each device on its own", () => {
    const h = harness(5000);
    h.throttle.offer("a", 1);
    h.throttle.offer("b", 1);
    h.throttle.offer("a", 1);
    assert.deepEqual(h.sent, [
      ["a", 1],
      ["b", 1],
    ]);
  });

  it("sends nothing gathered for a forgotten device (disabled, refused)", () => {
    const h = harness(5000);
    h.throttle.offer("phone", 1);
    h.throttle.offer("phone", 1);
    h.throttle.forget("phone");
    assert.equal(h.pendingTimers(), 0);
    h.advance(10000);
    assert.equal(h.sent.length, 1);
    // Forgotten, it starts afresh: sent at once.
    h.throttle.offer("phone", 1);
    assert.equal(h.sent.length, 2);
  });

  it("with an interval of 0 sends everything", () => {
    const h = harness(0);
    for (let i = 0; i < 3; i++) h.throttle.offer("phone", 1);
    assert.equal(h.sent.length, 3);
  });
});
