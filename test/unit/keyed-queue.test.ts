import { strict as assert } from "node:assert";
import { KeyedQueue } from "../../src/keyed-queue.js";

/** A promise and the function that resolves it, so a test decides when a task ends. */
function gate(): { wait: Promise<void>; open: () => void } {
  let open!: () => void;
  const wait = new Promise<void>((r) => (open = r));
  return { wait, open };
}

describe("KeyedQueue", () => {
  it("runs one key's tasks one at a time, in order, and other keys' beside them", async () => {
    const q = new KeyedQueue();
    const log: string[] = [];
    const first = gate();
    const a1 = q.run("a", async () => {
      log.push("a1 start");
      await first.wait;
      log.push("a1 end");
    });
    const a2 = q.run("a", async () => void log.push("a2"));
    await q.run("b", async () => void log.push("b1"));
    assert.deepEqual(log, ["a1 start", "b1"], "b is not held up by a; a2 waits for a1");
    first.open();
    await Promise.all([a1, a2]);
    assert.deepEqual(log, ["a1 start", "b1", "a1 end", "a2"]);
  });

  it("fails only the task that failed, and settled() waits for what was queued", async () => {
    const q = new KeyedQueue();
    const failed = q.run("k", () => Promise.reject(new Error("boom")));
    const next = q.run("k", async () => "next");
    await assert.rejects(failed, /boom/);
    assert.equal(await next, "next");
    let done = false;
    const slow = gate();
    void q.run("k", async () => {
      await slow.wait;
      done = true;
    });
    const settled = q.settled("k");
    slow.open();
    await settled;
    assert.ok(done);
  });
});
