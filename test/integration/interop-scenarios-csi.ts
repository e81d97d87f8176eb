/**
 * Interop scenarios: client state indication (XEP-0352) through slixmpp's xep_0352 plugin, which
 * turns itself on when it sees the server's <csi/> feature and sends <active/>/<inactive/> (the
 * `csi` command in test/interop/slix_client.py). slixmpp reads the XEP-0203 stamp of what was held.
 */
import { strict as assert } from "node:assert";
import { xml } from "../helpers/client.js";
import { available, password, type ScenarioContext } from "../helpers/interop-launcher.js";
import type { PythonClient } from "../helpers/python-client.js";
import { befriend, longestQueue, roundTrip } from "../modules/mod_client_state.helpers.js";

export function csiScenarios({ lib, server, launcher, u }: ScenarioContext): void {
  /** A ping round trip: the server handled everything `c` sent before (RFC 6120 §10.1). */
  async function sync(c: PythonClient): Promise<void> {
    c.send({ cmd: "service", what: "ping", jid: "localhost" });
    await c.next("service", (e) => e.what === "ping");
  }

  it("is turned on by the <csi/> feature; while inactive a contact's presence waits, a message does not, and <active/> brings the latest presence, stamped (§3.2, §4)", async () => {
    const t = server();
    const [user, friend] = [u("csi"), u("csi-friend")];
    await befriend(t, user, friend, password);
    const c = await launcher.start(user);
    await c.next("csi_enabled"); // after XEP-0198's <enabled/>, in slixmpp's feature order
    const full = `${user}@localhost/${lib.name}`;
    await available(c, full);
    const f = await t.client(friend, { password: password(friend) });
    await f.send(xml("presence"));
    await c.next("presence", (e) => e.from === f.jid);

    c.send({ cmd: "csi", state: "inactive" });
    assert.equal((await c.next("csi")).enabled, true);
    await sync(c);
    const fromFriend = (kind: string) =>
      c.events.filter((e) => e.event === kind && e.from === f.jid);
    const seen = fromFriend("presence").length;
    await f.send(xml("presence", {}, xml("show", {}, "away")));
    await f.send(xml("message", { to: full, type: "chat" }, xml("body", {}, "wake")));
    const woke = await c.next("message", (e) => e.body === "wake");
    assert.equal(woke.delay, null, "a message with a body is not held");
    // The held presence came first, with the server's stamp.
    const away = fromFriend("presence").slice(seen);
    assert.equal(away.length, 1);
    assert.match(String(away[0]!.xml), /<show>away<\/show>[\s\S]*Client Inactive/);

    for (const show of ["xa", "dnd"]) await f.send(xml("presence", {}, xml("show", {}, show)));
    await roundTrip(f);
    assert.ok((await longestQueue(t)) >= 1, "held in the session's queue");
    c.send({ cmd: "csi", state: "active" });
    await sync(c);
    const latest = fromFriend("presence").slice(seen + 1);
    assert.equal(latest.length, 1, JSON.stringify(latest));
    assert.match(String(latest[0]!.xml), /<show>dnd<\/show>[\s\S]*Client Inactive/);
  });
}
