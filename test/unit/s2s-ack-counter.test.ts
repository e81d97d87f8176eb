import { strict as assert } from "node:assert";
import { AckCounter } from "../../src/s2s/ack-counter.js";

const tick = () => new Promise<void>((r) => setImmediate(r));

describe("XEP-0198 acknowledgements on an incoming s2s stream (AckCounter)", () => {
  it("counts a stanza once every copy of it is safe, in arrival order (XEP-0198 §4)", async () => {
    const sent: number[] = [];
    const acks = new AckCounter((h) => sent.push(h));
    const first = acks.next();
    const hold1 = first.track(); // a copy still on its way
    const second = acks.next();
    const hold2 = second.track();
    await tick();
    acks.request();
    assert.deepEqual(sent, [0]);
    hold2(); // the second is safe, but the first is not: h stays 0
    await tick();
    assert.deepEqual(sent, [0]);
    hold1();
    await tick();
    assert.deepEqual(sent, [0, 2], "the owed answer goes out unasked once both are safe");
  });

  it("answers <r/> with everything when nothing waits, and owes nothing after", async () => {
    const sent: number[] = [];
    const acks = new AckCounter((h) => sent.push(h));
    acks.next();
    acks.next();
    await tick();
    acks.request();
    const third = acks.next().track();
    third();
    await tick();
    assert.deepEqual(sent, [2]);
    acks.request();
    assert.deepEqual(sent, [2, 3]);
  });
});
