import { strict as assert } from "node:assert";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Element } from "@xmpp/xml";
import { connect, xml, type TestClient } from "../helpers/client.js";
import { registerUsers, startProcess } from "../helpers/server-process.js";
import { startRedis, type RedisInstance } from "../helpers/redis.js";
import { freshPgsql } from "../helpers/storage.js";
import { writeNodeConfigs, type NodeProcess } from "../helpers/cluster-nodes.js";
import {
  codes,
  persistentRoom,
  enter,
  id,
  instantRoom,
  iq,
  MUC,
  NS_MUC,
} from "../modules/mod_muc.helpers.js";
import { errorCondition } from "../../src/testkit/index.js";

const LEASE_SECONDS = 2;
/** Long enough for the lease to lapse, the death to be seen and the clean-up to run. */
const AFTER_DEATH_MS = 8 * LEASE_SECONDS * 1000;

const isPresenceFrom =
  (from: string, type?: string) =>
  (el: Element): boolean =>
    el.name === "presence" && el.attrs.from === from && el.attrs.type === type;

/**
 * Issue 17: the node serving a room is killed (SIGKILL: no goodbye). Three nodes as processes
 * on one PostgreSQL and one Redis. The room moves to the node that next gets a stanza for it,
 * loaded as stored; its occupants elsewhere learn it from a self-ping (XEP-0410) and join
 * again. Occupants the dead node served leave the rooms other nodes serve.
 */
describe("MUC in a cluster: the node serving a room is killed (issue 17; XEP-0410 §3)", function () {
  this.timeout(120_000);
  let dir: string;
  let redis: RedisInstance;
  const nodes = new Map<string, NodeProcess>();
  const clients: TestClient[] = [];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "parley-cluster-muc-kill-"));
    redis = await startRedis();
    const sql = await freshPgsql("clustermuckill");
    for (const [name, n] of await writeNodeConfigs(
      dir,
      redis,
      sql,
      ["a", "b", "c"],
      ["  mod_muc: {}"],
      LEASE_SECONDS,
    )) {
      nodes.set(name, n);
    }
    await registerUsers(nodes.get("a")!.file, ["olga", "kate", "leo"]);
    for (const n of nodes.values()) n.proc = await startProcess(n.file);
  });

  after(async () => {
    await Promise.all(clients.map((c) => c.stop()));
    for (const n of nodes.values()) n.proc?.kill("SIGKILL");
    await redis?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  async function login(node: string, user: string): Promise<TestClient> {
    const c = await connect({
      port: nodes.get(node)!.port,
      username: user,
      password: "pw",
      resource: "r",
    });
    clients.push(c);
    return c;
  }

  it("moves the room on next use as stored: a self-ping gets not-acceptable, rejoining works, and the dead node's occupant leaves the rooms other nodes serve", async () => {
    const kept = `kept@${MUC}`;
    const other = `other@${MUC}`;
    const olga = await login("a", "olga");
    const kate = await login("b", "kate");
    const leo = await login("c", "leo");

    // "kept" is node a's (olga is there); "other" is node b's (kate is there).
    await persistentRoom(olga, "kept", "olga", "Kept room", "before the crash");
    await instantRoom(kate, "other", "kate");
    await enter(kate, "kept", "kate");
    await enter(leo, "kept", "leo");
    await enter(olga, "other", "olga");
    await enter(leo, "other", "leo");
    await kate.next(isPresenceFrom(`${other}/leo`));

    const a = nodes.get("a")!;
    a.proc!.kill("SIGKILL");
    await new Promise<void>((r) => a.proc!.once("exit", () => r()));
    a.proc = null;

    // Node b serves "other": olga's session died with node a, so she leaves it (§7.14).
    await leo.next(isPresenceFrom(`${other}/olga`, "unavailable"), AFTER_DEATH_MS);
    await kate.next(isPresenceFrom(`${other}/olga`, "unavailable"), AFTER_DEATH_MS);

    // XEP-0410 §3: whatever node serves "kept" now does not know kate. The first ping may
    // have been handed to the dead node: the node cleaning up after it routes it again.
    const pingId = id();
    await kate.send(
      xml(
        "iq",
        { type: "get", to: `${kept}/kate`, id: pingId },
        xml("ping", { xmlns: "urn:xmpp:ping" }),
      ),
    );
    const pong = await kate.next(
      (el) => el.name === "iq" && el.attrs.id === pingId,
      AFTER_DEATH_MS,
    );
    assert.equal(pong.attrs.type, "error", pong.toString());
    assert.equal(errorCondition(pong), "not-acceptable");

    // Rejoining: the room as stored by node a (configuration, subject), not a new one.
    await kate.send(xml("presence", { to: `${kept}/kate` }, xml("x", { xmlns: NS_MUC })));
    const self = await kate.next(
      (el) => el.name === "presence" && el.attrs.from === `${kept}/kate` && codes(el).includes(110),
      AFTER_DEATH_MS,
    );
    assert.ok(!codes(self).includes(201), self.toString());
    const subject = await kate.next((el) => el.name === "message" && !!el.getChild("subject"));
    assert.equal(subject.getChildText("subject"), "before the crash");
    await enter(leo, "kept", "leo");
    const info = await iq(
      leo,
      "get",
      kept,
      xml("query", { xmlns: "http://jabber.org/protocol/disco#info" }),
    );
    assert.equal(info.getChild("query")?.getChild("identity")?.attrs.name, "Kept room");
    await leo.send(xml("message", { to: kept, type: "groupchat" }, xml("body", {}, "still on")));
    const m = await kate.next(
      (el) => el.name === "message" && el.getChildText("body") === "still on",
    );
    assert.equal(m.attrs.from, `${kept}/leo`);
  });
});
