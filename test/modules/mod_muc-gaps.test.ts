// mod_muc and the life of an occupant's session (XEP-0045 §7.14 with XEP-0198): a link that
// drops while stream management can resume it is a gap, not a departure; the occupant leaves
// only when its session really ends.
import { strict as assert } from "node:assert";
import { startTestServer, type TestServer } from "../../src/testkit/index.js";
import { RawClient } from "../helpers/raw.js";
import { MUC, instantRoom, xml } from "./mod_muc.helpers.js";

const SM = "urn:xmpp:sm:3";

describe("mod_muc: an occupant's resumable gap (XEP-0198) is not a departure", () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer({
      modules: { mod_muc: {}, mod_stream_mgmt: { resume_timeout: 60, max_resume_timeout: 60 } },
    });
  });
  after(async () => t.stop());

  /** Logs alice in by hand with resumable stream management, asking for `max` seconds. */
  async function resumable(max: number): Promise<RawClient & { smId: string }> {
    const c = await RawClient.connect(t.port);
    await c.login("alice", "pw-alice", "mobile");
    c.send(`<enable xmlns='${SM}' resume='true' max='${max}'/>`);
    const enabled = await c.readUntil(/<enabled[^>]*\/>/);
    return Object.assign(c, { smId: /id="([^"]+)"/.exec(enabled)?.[1] ?? "" });
  }

  it("keeps the occupant through a resumed gap, with what was said meanwhile; removes it when the session ends", async () => {
    await t.register("alice", "pw-alice");
    const b = await t.client("bob", { resource: "desk" });
    await instantRoom(b, "gap", "bob");
    const a = await resumable(60);
    a.send(
      `<presence to='gap@${MUC}/alice'><x xmlns='http://jabber.org/protocol/muc'/></presence>`,
    );
    await a.readUntil(/code=["']110["']/);
    await b.next((el) => el.attrs.from === `gap@${MUC}/alice` && !el.attrs.type);

    // The link drops without a goodbye: the session waits to be resumed.
    a.end();
    await b.send(
      xml("message", { to: `gap@${MUC}`, type: "groupchat", id: "away" }, xml("body", {}, "1")),
    );
    await b.next((el) => el.attrs.id === "away");

    const back = await RawClient.connect(t.port);
    await back.authenticate("alice", "pw-alice");
    back.send(`<resume xmlns='${SM}' previd='${a.smId}' h='0'/>`);
    const text = await back.readUntil(/id=["']away["']/, 10000);
    assert.match(text, /<resumed/);
    // Still an occupant: alice may speak, and bob never saw her leave.
    back.send(`<message to='gap@${MUC}' type='groupchat' id='back'><body>2</body></message>`);
    const echo = await b.next((el) => el.attrs.id === "back");
    assert.equal(echo.attrs.from, `gap@${MUC}/alice`);
    const left = await b
      .next((el) => el.attrs.from === `gap@${MUC}/alice` && el.attrs.type === "unavailable", 50)
      .catch(() => null);
    assert.equal(left, null, "bob saw alice leave during a resumable gap");

    // The session ends for good (stream closed): alice leaves the room.
    back.send("</stream:stream>");
    const gone = await b.next(
      (el) => el.attrs.from === `gap@${MUC}/alice` && el.attrs.type === "unavailable",
      10000,
    );
    assert.equal(
      gone.getChild("x", "http://jabber.org/protocol/muc#user")?.getChild("item")?.attrs.role,
      "none",
    );
    back.end();
    await b.stop();
  });

  it("removes the occupant when a gap outlasts the resumption time", async () => {
    const b = await t.client("bob", { resource: "desk2" });
    await instantRoom(b, "gap2", "bob");
    const a = await resumable(1);
    a.send(
      `<presence to='gap2@${MUC}/alice'><x xmlns='http://jabber.org/protocol/muc'/></presence>`,
    );
    await a.readUntil(/code=["']110["']/);
    a.end();
    // Nobody resumes it: after the (one-second) wait the session ends and alice leaves.
    await b.next(
      (el) => el.attrs.from === `gap2@${MUC}/alice` && el.attrs.type === "unavailable",
      10000,
    );
    await b.stop();
  });
});
