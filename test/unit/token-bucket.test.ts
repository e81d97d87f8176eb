import { strict as assert } from "node:assert";
import { TokenBucket } from "../../src/transport/token-bucket.js";
import { ReadControl } from "../../src/transport/read-control.js";

describe("token bucket (listener shaper: rate and burst_size, ejabberd_shaper)", () => {
  it("lets a burst through at once, then owes time for what goes past it", () => {
    const b = new TokenBucket(1000, 5000, 0);
    assert.equal(b.take(5000, 0), 0, "the whole burst is free");
    assert.equal(b.take(500, 0), 500, "500 bytes past empty at 1000 B/s: wait 500 ms");
    assert.equal(b.available(0), -500);
  });

  it("refills at the rate, never past the burst", () => {
    const b = new TokenBucket(1000, 2000, 0);
    b.take(2000, 0);
    assert.equal(b.available(1000), 1000, "one second refills 1000 bytes");
    assert.equal(b.available(60_000), 2000, "a long idle time refills only up to the burst");
  });

  it("over any span reads no more than burst + rate × time", () => {
    const b = new TokenBucket(3000, 20000, 0);
    let now = 0;
    let read = 0;
    // A reader that reads 4 KiB chunks whenever it is allowed, and waits as long as it is told.
    while (now < 10_000) {
      const wait = b.take(4096, now);
      read += 4096;
      now += wait;
    }
    assert.ok(read <= 20000 + 3000 * 10 + 4096, `read ${read} bytes in 10 s`);
    assert.ok(read >= 20000 + 3000 * 10 - 4096, "and the rate is not undercut either");
  });

  it("refuses a rate or burst that is not positive", () => {
    assert.throws(() => new TokenBucket(0, 100, 0), RangeError);
    assert.throws(() => new TokenBucket(100, -1, 0), RangeError);
  });
});

describe("read control: pause reasons and the shaper", () => {
  function control() {
    const events: string[] = [];
    const stats = { pauses: 0, shaped: 0 };
    const rc = new ReadControl(
      () => events.push("stop"),
      () => events.push("go"),
    );
    const s = {
      paused: () => void stats.pauses++,
      shaped: (d: 1 | -1) => void (stats.shaped += d),
    };
    return { rc, events, stats, s };
  }

  it("reads on only once every reason that paused it is released", () => {
    const { rc, events } = control();
    rc.pause("handler");
    rc.pause("backpressure");
    rc.resume("handler");
    assert.deepEqual(events, ["stop"], "still held by backpressure");
    rc.resume("backpressure");
    assert.deepEqual(events, ["stop", "go"]);
    rc.resume("backpressure");
    assert.deepEqual(events, ["stop", "go"], "releasing twice does nothing");
  });

  it("pauses a shaped connection once its bucket is empty, and counts it", () => {
    const { rc, events, stats, s } = control();
    rc.shape({ rate: 1000, burst: 1000 }, s, 0);
    rc.input(800, 0);
    assert.equal(rc.paused("shaper"), false);
    rc.input(800, 0);
    assert.equal(rc.paused("shaper"), true);
    assert.deepEqual(events, ["stop"]);
    assert.deepEqual(stats, { pauses: 1, shaped: 1 });
    assert.equal(rc.bytesIn, 1600);
    // Unshaped after authentication (`none: admin`): reading goes on at once.
    rc.shape(null, s);
    assert.equal(rc.paused(), false);
    assert.deepEqual(events, ["stop", "go"]);
    assert.deepEqual(stats, { pauses: 1, shaped: 0 });
  });

  it("an unshaped connection is only counted", () => {
    const { rc, events } = control();
    rc.input(1_000_000, 0);
    assert.equal(rc.bytesIn, 1_000_000);
    assert.deepEqual(events, []);
  });

  it("a closed connection no longer counts as shaped", () => {
    const { rc, stats, s } = control();
    rc.shape({ rate: 10, burst: 10 }, s, 0);
    rc.input(100, 0);
    assert.equal(stats.shaped, 1);
    rc.close();
    assert.equal(stats.shaped, 0);
    rc.pause("handler");
    assert.equal(rc.paused(), false, "nothing to pause once closed");
  });
});
