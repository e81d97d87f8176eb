import { strict as assert } from "node:assert";
import { AuthThrottle } from "../../src/auth/throttle.js";

describe("authentication throttle (repeated failures are slowed down)", () => {
  it("answers a first failure at once, then doubles the delay per failure up to the cap", () => {
    const t = new AuthThrottle(200, 1000);
    const now = 1_000_000;
    assert.equal(t.recordFailure("10.0.0.1", "alice", now), 0);
    assert.equal(t.recordFailure("10.0.0.1", "alice", now + 1), 200);
    assert.equal(t.recordFailure("10.0.0.1", "alice", now + 2), 400);
    assert.equal(t.recordFailure("10.0.0.1", "alice", now + 3), 800);
    assert.equal(t.recordFailure("10.0.0.1", "alice", now + 4), 1000);
  });

  it("counts per address and username, and forgets after a success or the window", () => {
    const t = new AuthThrottle(200, 8000, 60_000);
    t.recordFailure("10.0.0.1", "alice", 0);
    assert.equal(t.recordFailure("10.0.0.2", "alice", 1), 0, "another address starts afresh");
    assert.equal(t.recordFailure("10.0.0.1", "bob", 2), 0, "another user starts afresh");
    assert.equal(t.recordFailure("10.0.0.1", "alice", 3), 200);
    t.recordSuccess("10.0.0.1", "alice");
    assert.equal(t.recordFailure("10.0.0.1", "alice", 4), 0);
    assert.equal(t.recordFailure("10.0.0.1", "alice", 70_000), 0, "outside the window");
  });

  it("keeps its memory bounded", () => {
    const t = new AuthThrottle(200, 8000, 60_000, 100);
    for (let i = 0; i < 1000; i++) t.recordFailure(`10.0.${i >> 8}.${i & 255}`, "x", i);
    // The oldest entries were evicted: the first address starts afresh.
    assert.equal(t.recordFailure("10.0.0.0", "x", 2000), 0);
  });
});
