import { strict as assert } from "node:assert";
import { AuthThrottle } from "../../src/auth/throttle.js";

describe("authentication throttle (repeated failures are slowed down)", () => {
  it("answers a first failure at once, then doubles the delay per failure up to the cap", () => {
    const t = new AuthThrottle(200, 1000);
    const now = 1_000_000;
    const delays = [0, 1, 2, 3, 4].map(
      (i) => t.recordFailure("10.0.0.1", "alice", now + i).delayMs,
    );
    assert.deepEqual(delays, [0, 200, 400, 800, 1000]);
  });

  it("counts per address and username, and forgets the pair after a success or the window", () => {
    const t = new AuthThrottle(200, 8000, 60_000);
    t.recordFailure("10.0.0.1", "alice", 0);
    assert.equal(t.recordFailure("10.0.0.2", "alice", 1).delayMs, 0, "another address");
    assert.equal(t.recordFailure("10.0.0.1", "bob", 2).delayMs, 0, "another user");
    assert.equal(t.recordFailure("10.0.0.1", "alice", 3).delayMs, 200);
    t.recordSuccess("10.0.0.1", "alice");
    assert.equal(t.recordFailure("10.0.0.1", "alice", 4).delayMs, 0);
    assert.equal(t.recordFailure("10.0.0.1", "alice", 70_000).delayMs, 0, "outside the window");
  });

  it("slows one address guessing many accounts, each tried once", () => {
    const t = new AuthThrottle(200, 8000, 60_000, 1000, 5);
    const v = Array.from({ length: 8 }, (_, i) => t.recordFailure("192.0.2.9", `user${i}`, i));
    assert.deepEqual(
      v.map((x) => x.delayMs),
      [0, 0, 0, 0, 0, 200, 400, 800],
    );
    assert.equal(v[7]!.address, 8);
    assert.equal(t.recordFailure("192.0.2.10", "user99", 9).delayMs, 0, "others are not slowed");
  });

  it("slows many addresses guessing one account, whatever the address", () => {
    const t = new AuthThrottle(200, 8000, 60_000, 1000, 5);
    const v = Array.from({ length: 8 }, (_, i) => t.recordFailure(`198.51.100.${i}`, "alice", i));
    assert.deepEqual(
      v.map((x) => x.delayMs),
      [0, 0, 0, 0, 0, 200, 400, 800],
    );
    assert.equal(v[7]!.username, 8);
    // The owner's success does not wipe the count of guesses at the account.
    t.recordSuccess("203.0.113.1", "alice");
    assert.equal(t.recordFailure("198.51.100.77", "alice", 9).delayMs, 1600);
  });

  it("keeps its memory bounded", () => {
    const t = new AuthThrottle(200, 8000, 60_000, 100);
    for (let i = 0; i < 1000; i++) t.recordFailure(`10.0.${i >> 8}.${i & 255}`, `u${i}`, i);
    // The oldest entries were evicted: the first address starts afresh.
    assert.deepEqual(t.recordFailure("10.0.0.0", "u0", 2000).pair, 1);
  });
});
