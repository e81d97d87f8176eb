// mod_muc over a store that answers later (as PostgreSQL does): IQ results wait for the commit,
// history is written in order behind the fan-out, failures are logged with the room, and
// writes of one room keep their order (a destroy behind a pending save, a room made again).
import { strict as assert } from "node:assert";
import type { Element } from "@xmpp/xml";
import type { MucStore } from "../../src/storage/stores.js";
import {
  errorCondition,
  startTestServer,
  type TestClient,
  type TestServer,
} from "../../src/testkit/index.js";
import {
  MUC,
  NS_OWNER,
  adminItem,
  configure,
  enter,
  id,
  instantRoom,
  iq,
  join,
  xml,
} from "./mod_muc.helpers.js";

type Write = "save" | "remove" | "addHistory";

/** Makes the store's `method` wait until released (or fail with `fail`); calls are recorded. */
function hold(store: MucStore, method: Write, fail?: Error) {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const calls: unknown[][] = [];
  const original = store[method] as (...args: unknown[]) => Promise<void>;
  (store as any)[method] = async (...args: unknown[]) => {
    calls.push(args);
    if (fail) throw fail;
    await gate;
    return original.apply(store, args);
  };
  return {
    calls,
    release,
    /** Back to the driver's own method. */
    restore: () => delete (store as any)[method],
  };
}

/** Sends an IQ set; `answer` is its answer to come (wrapped, so awaiting this does not wait). */
async function sendIq(
  c: TestClient,
  to: string,
  payload: Element,
): Promise<{ answer: Promise<Element> }> {
  const i = id();
  await c.send(xml("iq", { type: "set", to, id: i }, payload));
  return { answer: c.next((el) => el.name === "iq" && el.attrs.id === i) };
}

/** Fails if `p` settles within `ms`. */
async function pending(p: Promise<unknown>, ms = 150): Promise<void> {
  const early = await Promise.race([
    p.then(() => true),
    new Promise<false>((r) => setTimeout(() => r(false), ms)),
  ]);
  assert.equal(early, false, "answered before the store committed");
}

const persistent = configure({ "muc#roomconfig_persistentroom": "1" });
const destroy = xml("query", { xmlns: NS_OWNER }, xml("destroy", {}));

describe("mod_muc over a store that answers later", () => {
  let t: TestServer;
  let store: MucStore;
  before(async () => {
    t = await startTestServer({ modules: { mod_muc: { history_size: 3 } } });
    store = t.server.ctx.stores.muc;
  });
  after(async () => t.stop());
  const stored = async (name: string) => (await store.load(MUC)).find((r) => r.name === name);

  it("answers configuration and affiliation IQs once the room is stored (§10.2, §9.3)", async () => {
    const a = await t.client("alice", { resource: "s1" });
    await instantRoom(a, "slow", "alice");
    const save = hold(store, "save");
    try {
      const { answer: configured } = await sendIq(a, `slow@${MUC}`, persistent);
      await pending(configured);
      assert.equal(save.calls.length, 1);
      assert.equal(await stored("slow"), undefined);
      save.release();
      assert.equal((await configured).attrs.type, "result");
      assert.ok(await stored("slow"));

      const h2 = hold(store, "save");
      const { answer: member } = await sendIq(
        a,
        `slow@${MUC}`,
        adminItem({ affiliation: "member", jid: "bob@localhost" }),
      );
      await pending(member);
      h2.release();
      assert.equal((await member).attrs.type, "result");
      assert.deepEqual(
        (await stored("slow"))!.affiliations.map((x) => [x.jid, x.affiliation]),
        [
          ["alice@localhost", "owner"],
          ["bob@localhost", "member"],
        ],
      );
    } finally {
      save.restore();
      await a.stop();
    }
  });

  it("answers internal-server-error when the room cannot be stored, and logs the room", async () => {
    const a = await t.client("alice", { resource: "s2" });
    await instantRoom(a, "broken", "alice");
    const save = hold(store, "save", new Error("disk full"));
    try {
      const res = await iq(a, "set", `broken@${MUC}`, persistent);
      assert.equal(res.attrs.type, "error");
      assert.equal(errorCondition(res), "internal-server-error");
      const line = t.logs.find((l) => l.room === `broken@${MUC}`);
      assert.equal(line?.msg, "could not store a room");
      assert.match(JSON.stringify(line?.err), /disk full/);
    } finally {
      save.restore();
    }
    // The next write goes through: one failure does not stop the room's writes.
    assert.equal((await iq(a, "set", `broken@${MUC}`, persistent)).attrs.type, "result");
    assert.ok(await stored("broken"));
    await a.stop();
  });

  it("reflects groupchat at once and stores its history in order behind it (§7.2.15)", async () => {
    const a = await t.client("alice", { resource: "s3" });
    const b = await t.client("bob", { resource: "s3" });
    await enter(a, "chatty", "alice");
    assert.equal((await iq(a, "set", `chatty@${MUC}`, persistent)).attrs.type, "result");
    await enter(b, "chatty", "bob");
    const add = hold(store, "addHistory");
    try {
      for (const n of [1, 2, 3, 4]) {
        await a.send(
          xml("message", { to: `chatty@${MUC}`, type: "groupchat" }, xml("body", {}, `m${n}`)),
        );
      }
      // The fan-out does not wait for the store.
      for (const n of [1, 2, 3, 4]) {
        await b.next((el) => el.name === "message" && el.getChildText("body") === `m${n}`);
      }
      assert.equal(add.calls.length, 1, "the next append waits for the one before");
      add.release();
      // An owner's IQ is answered after the room's earlier writes, the history's included.
      assert.equal((await iq(a, "set", `chatty@${MUC}`, persistent)).attrs.type, "result");
      const bodies = (await stored("chatty"))!.history.map(
        (h) => /<body>(m\d)</.exec(h.stanza)![1],
      );
      assert.deepEqual(bodies, ["m2", "m3", "m4"]);
    } finally {
      add.restore();
    }

    const broken = hold(store, "addHistory", new Error("no space"));
    try {
      await b.send(
        xml("message", { to: `chatty@${MUC}`, type: "groupchat" }, xml("body", {}, "lost copy")),
      );
      await a.next((el) => el.name === "message" && el.getChildText("body") === "lost copy");
      assert.equal((await iq(a, "set", `chatty@${MUC}`, persistent)).attrs.type, "result");
      const line = t.logs.find((l) => l.msg === "could not store history");
      assert.equal(line?.room, `chatty@${MUC}`);
    } finally {
      broken.restore();
    }
    await Promise.all([a.stop(), b.stop()]);
  });

  it("ends with the room removed when it is destroyed while its save is pending (§10.9)", async () => {
    const a = await t.client("alice", { resource: "s4" });
    await instantRoom(a, "race", "alice");
    const save = hold(store, "save");
    const { answer: configured } = await sendIq(a, `race@${MUC}`, persistent);
    const { answer: destroyed } = await sendIq(a, `race@${MUC}`, destroy);
    await pending(destroyed);
    save.release();
    save.restore();
    assert.equal((await configured).attrs.type, "result");
    assert.equal((await destroyed).attrs.type, "result");
    assert.equal(await stored("race"), undefined);
    await a.stop();
  });

  it("stores a room made again under the name of one whose removal is pending", async () => {
    const a = await t.client("alice", { resource: "s5" });
    await enter(a, "phoenix", "alice");
    assert.equal((await iq(a, "set", `phoenix@${MUC}`, persistent)).attrs.type, "result");
    const remove = hold(store, "remove");
    try {
      const { answer: destroyed } = await sendIq(a, `phoenix@${MUC}`, destroy);
      await a.next((el) => el.name === "presence" && el.attrs.type === "unavailable");
      // Made again at once, and configured (persistent, another title) before the removal ran.
      await join(a, "phoenix", "alice");
      const { answer: again } = await sendIq(
        a,
        `phoenix@${MUC}`,
        configure({ "muc#roomconfig_persistentroom": "1", "muc#roomconfig_roomname": "Again" }),
      );
      await pending(destroyed);
      remove.release();
      assert.equal((await destroyed).attrs.type, "result");
      assert.equal((await again).attrs.type, "result");
      assert.equal((await stored("phoenix"))?.config.title, "Again");
    } finally {
      remove.restore();
      await a.stop();
    }
  });
});
