import { strict as assert } from "node:assert";
import { Registry } from "prom-client";
import { Backpressure, type Consumer, type Producer } from "../../src/backpressure.js";
import { InputMetrics } from "../../src/input-metrics.js";
import { ReadControl } from "../../src/transport/read-control.js";
import { createLogger } from "../../src/log.js";

const log = createLogger("silent");

function producer(): Producer & { bytes(n: number): void } {
  const reads = new ReadControl(
    () => undefined,
    () => undefined,
  );
  return { reads, log, bytes: (n) => reads.input(n) };
}

function consumer(): Consumer & { queuedBytes: number; cut: number } {
  return {
    queuedBytes: 0,
    log,
    cut: 0,
    cutOff() {
      this.cut++;
    },
  };
}

function setup(highWater = 1000) {
  const metrics = new InputMetrics(new Registry());
  const senders = new Map<string, Producer>();
  const bp = new Backpressure(
    () => highWater,
    metrics,
    (from) => senders.get(from),
  );
  return { bp, senders };
}

describe("backpressure: who waits for whose outbound queue", () => {
  it("pauses the producer of what was queued only once the recipient is over the mark, until it is down to half", () => {
    const { bp } = setup();
    const a = producer();
    const b = consumer();
    bp.current = a;
    b.queuedBytes = 1000;
    bp.queued(b, undefined);
    assert.equal(a.reads.paused(), false, "at the mark is not over it");
    b.queuedBytes = 1001;
    bp.queued(b, undefined);
    assert.equal(a.reads.paused("backpressure"), true);
    b.queuedBytes = 600;
    bp.written(b);
    assert.equal(a.reads.paused(), true, "not yet down to half");
    b.queuedBytes = 500;
    bp.written(b);
    assert.equal(a.reads.paused(), false);
  });

  it("finds the sender by `from` when no handling is under way (an async delivery)", () => {
    const { bp, senders } = setup();
    const a = producer();
    senders.set("a@localhost/r", a);
    const b = consumer();
    b.queuedBytes = 5000;
    bp.queued(b, "a@localhost/r");
    assert.equal(a.reads.paused("backpressure"), true);
    bp.queued(b, "nobody@localhost/x"); // unknown senders are left alone
    b.queuedBytes = 400;
    bp.written(b);
    assert.equal(a.reads.paused(), false);
  });

  it("a producer behind two full recipients is read again only once both caught up or ended", () => {
    const { bp } = setup();
    const a = producer();
    const [b, c] = [consumer(), consumer()];
    bp.current = a;
    b.queuedBytes = c.queuedBytes = 2000;
    bp.queued(b, undefined);
    bp.queued(c, undefined);
    b.queuedBytes = 0;
    bp.written(b);
    assert.equal(a.reads.paused("backpressure"), true, "still behind c");
    bp.ended(c);
    assert.equal(a.reads.paused(), false);
  });

  it("cuts off a recipient that made no progress for a minute while others waited for it", () => {
    const { bp } = setup();
    const a = producer();
    const b = consumer();
    bp.current = a;
    b.queuedBytes = 2000;
    bp.queued(b, undefined, 0);
    bp.tick([], 0, 500, 30_000);
    assert.equal(b.cut, 0);
    bp.written(b, 40_000); // some progress, still over half
    bp.tick([], 0, 500, 90_000);
    assert.equal(b.cut, 0, "a minute since the last progress is not over yet");
    bp.tick([], 0, 500, 100_001);
    assert.equal(b.cut, 1);
    assert.equal(a.reads.paused(), false, "its senders are released");
  });

  it("while the event loop lags, pauses the busiest connections for one second, not everyone", () => {
    const { bp } = setup();
    const ps = Array.from({ length: 40 }, () => producer());
    bp.tick(ps, 0, 500); // the first tick only records the byte counts
    ps.forEach((p, i) => p.bytes(i === 7 ? 1_000_000 : i === 3 ? 500_000 : 1000));
    bp.tick(ps, 800, 500);
    const paused = ps.flatMap((p, i) => (p.reads.paused("lag") ? [i] : []));
    assert.deepEqual(paused, [3, 7], "the top 5%: two of forty");
    ps.forEach((p) => p.bytes(10));
    bp.tick(ps, 100, 500);
    assert.equal(
      ps.some((p) => p.reads.paused()),
      false,
      "released once the lag is gone",
    );
  });
});
