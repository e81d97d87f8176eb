import { strict as assert } from "node:assert";
import { Inbox, drainInbox } from "../../src/cluster/inbox.js";
import { keys } from "../../src/cluster/keys.js";
import type { InboxEntry, ReplyEntry } from "../../src/cluster/protocol.js";
import { connectRedis, closeRedis, type RedisClient } from "../../src/cluster/redis.js";
import { createLogger } from "../../src/log.js";
import { redisConfigFor, startRedis, type RedisInstance } from "../helpers/redis.js";
import { waitFor } from "../helpers/wait-for.js";

const log = createLogger("silent");

function reply(id: string): ReplyEntry {
  return { k: "r", id, e: "done" };
}

/**
 * The cluster inbox (src/cluster/inbox.ts) on a real Redis: what one node writes to another in
 * one turn travels as one stream entry, is handled in order, and leaves the stream only once
 * every entry in it is safe.
 */
describe("cluster inbox: batches of entries in one stream entry (issue 17)", function () {
  this.timeout(30_000);
  let redis: RedisInstance;
  const clients: RedisClient[] = [];
  const inboxes: Inbox[] = [];

  async function client(): Promise<RedisClient> {
    const c = await connectRedis(redisConfigFor(redis), log, "test");
    clients.push(c);
    return c;
  }

  /** Node `name`'s inbox, handing entries to `handle`. */
  async function inbox(
    name: string,
    handle: (entry: InboxEntry, done: () => void) => void,
  ): Promise<Inbox> {
    const main = await client();
    const reader = main.duplicate();
    await reader.connect();
    clients.push(reader);
    const i = new Inbox(main, reader, name, handle, log);
    await i.start();
    inboxes.push(i);
    return i;
  }

  before(async () => {
    redis = await startRedis();
  });
  after(async () => {
    for (const i of inboxes) await i.stop();
    for (const c of clients) await closeRedis(c);
    await redis?.stop();
  });

  it("writes what one turn sends a node as one stream entry, handled in order, acknowledged once all of it is safe", async () => {
    const got: string[] = [];
    const dones: (() => void)[] = [];
    await inbox("n1", (entry, done) => {
      got.push((entry as ReplyEntry).id);
      dones.push(done);
    });
    const sender = await inbox("n0", () => undefined);
    const r = await client();
    const sent = ["a", "b", "c"].map((id) => sender.send("n1", reply(id)));
    // Not written yet: the last one can still change (a fan-out taking more copies).
    assert.deepEqual((sender.lastQueued("n1") as ReplyEntry).id, "c");
    await Promise.all(sent);
    assert.equal(sender.lastQueued("n1"), undefined);
    await waitFor(() => got.length === 3);
    assert.deepEqual(got, ["a", "b", "c"]);
    // One stream entry for the three, still there while any of them is not safe.
    assert.equal(await r.xLen(keys.inbox("n1")), 1);
    dones[0]!();
    dones[2]!();
    await new Promise((res) => setTimeout(res, 100));
    assert.equal(await r.xLen(keys.inbox("n1")), 1, "one entry of three is not safe yet");
    dones[1]!();
    await waitFor(async () => (await r.xLen(keys.inbox("n1"))) === 0);
  });

  it("a node cleaning up after a dead one reads every entry of its batches, oldest first", async () => {
    const sender = await inbox("n2", () => undefined);
    // n3 has no reader: it died with these in its inbox.
    await Promise.all([sender.send("n3", reply("x")), sender.send("n3", reply("y"))]);
    await sender.send("n3", reply("z"));
    const seen: string[] = [];
    const n = await drainInbox(await client(), "n3", (e) => seen.push((e as ReplyEntry).id));
    assert.equal(n, 3);
    assert.deepEqual(seen, ["x", "y", "z"]);
  });

  it("drops an unreadable batch, and the unreadable entries of a batch, and handles the rest (bad input)", async () => {
    const got: string[] = [];
    await inbox("n4", (entry, done) => {
      got.push((entry as ReplyEntry).id);
      done();
    });
    const r = await client();
    await r.xAdd(keys.inbox("n4"), "*", { b: "[not json" });
    await r.xAdd(keys.inbox("n4"), "*", { b: JSON.stringify({ k: "r" }) });
    await r.xAdd(keys.inbox("n4"), "*", {
      b: JSON.stringify([{ k: "zz" }, 5, null, reply("ok")]),
    });
    await r.xAdd(keys.inbox("n4"), "*", { b: "[]" });
    await waitFor(() => got.length === 1);
    assert.deepEqual(got, ["ok"]);
    await waitFor(async () => (await r.xLen(keys.inbox("n4"))) === 0);
  });
});
