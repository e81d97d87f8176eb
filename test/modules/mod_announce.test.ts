import { strict as assert } from "node:assert";
import type { Element } from "@xmpp/xml";
import { startTestServer, type TestServer } from "../helpers/server.js";
import { xml, type TestClient } from "../helpers/client.js";
import { errorCondition } from "../../src/testkit/index.js";
import {
  admin,
  admins,
  cmd,
  command,
  commandList,
  errors,
  field,
  runAdmin,
} from "./mod_adhoc.helpers.js";

const isHeadline = (el: Element) => el.is("message") && el.attrs.type === "headline";

/** Every stanza the client receives from now on. */
function record(c: TestClient): Element[] {
  const all: Element[] = [];
  c.xmpp.on("stanza", (el: Element) => all.push(el));
  return all;
}

let pings = 0;
/** Waits for the answer to a ping: whatever the server sent before it has arrived by then. */
async function settled(c: TestClient): Promise<void> {
  const id = `settle${++pings}`;
  await c.send(
    xml("iq", { type: "get", id, to: "localhost" }, xml("ping", { xmlns: "urn:xmpp:ping" })),
  );
  await c.next((el) => el.attrs.id === id);
}

describe("mod_announce (XEP-0133 §4.23–§4.26, ejabberd's mod_announce)", () => {
  let t: TestServer;
  let boss: TestClient;
  before(async () => {
    t = await startTestServer({
      modules: { mod_disco: {}, mod_adhoc: {}, mod_announce: {}, mod_ping: {} },
      config: admins("boss"),
    });
    boss = await t.client("boss");
  });
  after(async () => t.stop());

  /** A logged-in user who sent initial presence (RFC 6121 §4.2): what a client does. */
  async function online(user: string, resource?: string): Promise<TestClient> {
    const c = await t.client(user, resource ? { resource } : {});
    await c.send(xml("presence"));
    await c.next((el) => el.is("presence") && el.attrs.from === c.jid);
    return c;
  }

  it("offers its commands to admins only (access: announce)", async () => {
    const names = [...(await commandList(boss)).keys()];
    assert.deepEqual(names, ["announce", "set-motd", "edit-motd", "delete-motd"].map(admin));
    const alice = await t.client("alice");
    assert.deepEqual([...(await commandList(alice))], []);
    assert.equal(errors(await command(alice, admin("announce"))).condition, "forbidden");
  });

  it("sends an announcement to every session online on the host, as a headline from the server (§4.23)", async () => {
    const a1 = await online("ann", "one");
    const a2 = await online("ann", "two");
    const b = await t.client("bob"); // bound, no presence yet: it has a session all the same
    const got = [a1, a2, b].map((c) => c.next(isHeadline));
    const res = await runAdmin(boss, "announce", {
      announcement: ["Going down for maintenance", "in 2 minutes."],
    });
    assert.equal(cmd(res).attrs.status, "completed");
    for (const [i, p] of got.entries()) {
      const m = await p;
      assert.equal(m.attrs.from, "localhost");
      assert.equal(m.attrs.to, [a1, a2, b][i]!.jid);
      assert.equal(m.getChildText("body"), "Going down for maintenance\nin 2 minutes.");
    }
    // Not stored for later: someone logging in afterwards gets nothing.
    const late = await t.client("latecomer");
    const seen = record(late);
    await late.send(xml("presence"));
    await settled(late);
    assert.equal(seen.filter(isHeadline).length, 0);
  });

  it("sends the message of the day to those online, and once to each other user at their next login (§4.24)", async () => {
    const here = await online("carol");
    const now = here.next(isHeadline);
    await runAdmin(boss, "set-motd", { motd: ["Welcome back!", "-- the admins"] });
    assert.equal((await now).getChildText("body"), "Welcome back!\n-- the admins");

    const dave = await t.client("dave", { resource: "a" });
    const first = dave.next(isHeadline);
    await dave.send(xml("presence"));
    assert.equal((await first).getChildText("body"), "Welcome back!\n-- the admins");

    // Neither carol's nor dave's next session gets it again.
    for (const user of ["carol", "dave"]) {
      const again = await t.client(user, { resource: "b" });
      const seen = record(again);
      await again.send(xml("presence"));
      await settled(again);
      assert.equal(seen.filter(isHeadline).length, 0, `${user} got it once only`);
    }
  });

  it("edits the message of the day without sending it again to those who had it, and deletes it (§4.25, §4.26)", async () => {
    await runAdmin(boss, "set-motd", { motd: "Teh party is tonight" });
    const erin = await t.client("erin");
    const had = erin.next(isHeadline);
    await erin.send(xml("presence"));
    assert.equal((await had).getChildText("body"), "Teh party is tonight");
    const seen = record(erin);
    const form = cmd(await command(boss, admin("edit-motd")));
    assert.deepEqual(field(form, "motd"), ["Teh party is tonight"]);
    await runAdmin(boss, "edit-motd", { motd: "The party is tonight" });
    await settled(erin);
    assert.deepEqual(
      seen.filter(isHeadline).map((m) => m.getChildText("body")),
      [],
      "erin had it already",
    );
    const frank = await t.client("frank");
    const got = frank.next(isHeadline);
    await frank.send(xml("presence"));
    assert.equal((await got).getChildText("body"), "The party is tonight");

    assert.equal(cmd(await command(boss, admin("delete-motd"))).attrs.status, "completed");
    const gina = await t.client("gina");
    const none = record(gina);
    await gina.send(xml("presence"));
    await settled(gina);
    assert.equal(none.filter(isHeadline).length, 0);
  });

  it("takes ejabberd's messages to host/announce/online and host/announce/motd from an admin, and bounces a user's with forbidden", async () => {
    const hana = await online("hana");
    const got = hana.next((el) => isHeadline(el) && el.getChildText("subject") === "Notice");
    await boss.send(
      xml(
        "message",
        { to: "localhost/announce/online", id: "an1" },
        xml("subject", {}, "Notice"),
        xml("body", {}, "Upgrade at noon"),
      ),
    );
    const m = await got;
    assert.equal(m.getChildText("body"), "Upgrade at noon");
    assert.equal(m.getChildText("subject"), "Notice");

    await boss.send(xml("message", { to: "localhost/announce/motd" }, xml("body", {}, "Hi all")));
    const ivan = await t.client("ivan");
    const motd = ivan.next(isHeadline);
    await ivan.send(xml("presence"));
    assert.equal((await motd).getChildText("body"), "Hi all");
    await boss.send(xml("message", { to: "localhost/announce/motd/delete" }, xml("body")));

    await hana.send(
      xml("message", { to: "localhost/announce/online", id: "an2" }, xml("body", {}, "spam")),
    );
    const bounce = await hana.next((el) => el.attrs.id === "an2");
    assert.equal(bounce.attrs.type, "error");
    assert.equal(errorCondition(bounce), "forbidden");
  });
});
