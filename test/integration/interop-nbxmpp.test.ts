import { strict as assert } from "node:assert";
import { xml } from "../helpers/client.js";
import { available, bodies, record } from "../helpers/interop-launcher.js";
import type { PythonClient } from "../helpers/python-client.js";
import { interopScenarios } from "./interop-scenarios.js";

// nbxmpp (python3-nbxmpp, Gajim's library) skips the -PLUS mechanisms (no channel binding
// through GLib) and takes the strongest SCRAM it knows that Parley offers.
describe("interop: nbxmpp (Gajim's library)", function () {
  this.timeout(15000);
  const { server, launcher } = interopScenarios({
    name: "nbxmpp",
    script: "nbxmpp_client.py",
    module: "nbxmpp",
    debianPackage: "python3-nbxmpp",
    mechanism: /^SCRAM-SHA-256$/,
  });

  it("a message sent as the link drops arrives once: nbxmpp resends what <resumed h/> does not count (XEP-0198 §4, §5)", async () => {
    const t = server();
    const a = await launcher.start("nbxmpp-drop");
    const full = "nbxmpp-drop@localhost/nbxmpp";
    const b = await t.client("nbxmpp-drop-peer");
    const bSaw = record(b);
    await available(a, full);
    await a.next("sm_enabled");
    // Both in one write: nbxmpp queues the message and drops the link in the same main-loop
    // turn, so the message may or may not have reached the server.
    a.send({ cmd: "message", to: b.jid, body: "last words", id: "d1" });
    a.send({ cmd: "cut" });
    await a.next("disconnected");
    await b.send(xml("message", { to: full, type: "chat" }, xml("body", {}, "meanwhile")));
    a.send({ cmd: "reconnect" });
    await a.next("resumed");
    await a.next("message", (e) => e.body === "meanwhile");
    a.send({ cmd: "message", to: b.jid, body: "back", id: "d2" });
    await b.next((el) => el.name === "message" && el.getChildText("body") === "back");
    const got = bSaw.filter((el) => el.name === "message").map((el) => el.getChildText("body"));
    assert.deepEqual(got, ["last words", "back"]);
    assert.deepEqual(bodies(a.events.filter((e) => e.event === "message")), ["meanwhile"]);
  });

  it("publishes Gajim's PEP nickname and XEP-0402 bookmarks through nbxmpp's modules and reads them back: presence model first, then nbxmpp's reconfigure-on-precondition-not-met makes it open (XEP-0163, XEP-0060 §7.1.5, XEP-0172, XEP-0402)", async () => {
    const NICK = "http://jabber.org/protocol/nick";
    const owner = "nbxmpp-pep";
    const a = await launcher.start(owner);
    const stranger = await launcher.start("nbxmpp-pep-stranger");
    const pep = async (c: PythonClient, cmd: string, args: Record<string, unknown> = {}) => {
      c.send({ cmd, ...args });
      return c.next("pep", (e) => e.cmd === cmd);
    };
    const read = { node: NICK, id: "current", jid: `${owner}@localhost` };

    const first = await pep(a, "pep_nick", { nick: "Ada", public: false });
    assert.equal(first.type, "result", JSON.stringify(first));
    const refused = await pep(stranger, "pep_item", read);
    assert.deepEqual(
      [refused.type, refused.condition, refused.app_condition],
      ["error", "not-authorized", "presence-subscription-required"],
      JSON.stringify(refused),
    );
    // Gajim's "public" nickname: publish-options access_model=open, unmet by the node, so
    // nbxmpp gets conflict/precondition-not-met, reconfigures the node and publishes again.
    const second = await pep(a, "pep_nick", { nick: "Ada Lovelace", public: true });
    assert.equal(second.type, "result", JSON.stringify(second));
    const seen = await pep(stranger, "pep_item", read);
    assert.equal(seen.type, "result", JSON.stringify(seen));
    assert.match(String((seen.data as { xml: string }).xml), />Ada Lovelace<\/nick>/);

    const room = "pep-room@conference.localhost";
    const stored = await pep(a, "pep_bookmarks_store", {
      room,
      name: "The room",
      nick: "ada",
      autojoin: true,
    });
    assert.equal(stored.type, "result", JSON.stringify(stored));
    // nbxmpp sends the publish and reports done without waiting for its answer, as Gajim
    // stores bookmarks; the read that follows may overtake it, so read until it is there.
    let bookmarks: unknown[] = [];
    for (let i = 0; i < 20 && bookmarks.length === 0; i++) {
      const got = await pep(a, "pep_bookmarks_get");
      assert.equal(got.type, "result", JSON.stringify(got));
      bookmarks = got.data as unknown[];
    }
    assert.deepEqual(bookmarks, [{ jid: room, name: "The room", nick: "ada", autojoin: true }]);
    const hidden = await pep(stranger, "pep_item", {
      node: "urn:xmpp:bookmarks:1",
      id: room,
      jid: `${owner}@localhost`,
    });
    assert.deepEqual(
      [hidden.type, hidden.condition, hidden.app_condition],
      ["error", "not-allowed", "closed-node"],
      "bookmarks are whitelist: nobody else reads them",
    );
  });
});
