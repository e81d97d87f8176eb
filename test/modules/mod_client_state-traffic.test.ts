// What XEP-0352 is for, measured: two phones of two users with the same 100 chatty contacts, in
// the same run; one told the server it is <inactive/>, the other did not. Every contact changes
// its presence and types to both (composing, paused) three times over. The phones count the
// reads their sockets delivered (each one a wake-up of a sleeping radio) and the bytes.
import { strict as assert } from "node:assert";
import { startTestServer, type TestServer } from "../../src/testkit/index.js";
import { RawClient } from "../helpers/raw.js";
import { befriend } from "./mod_client_state.helpers.js";

const CONTACTS = 100;
const ROUNDS = 3;
const SHOWS = ["away", "dnd", "chat"];

describe("mod_client_state: an inactive phone with 100 chatty contacts (XEP-0352 §1)", function () {
  this.timeout(120000);
  let t: TestServer;
  before(async () => {
    t = await startTestServer({
      modules: {
        mod_roster: {},
        mod_ping: {},
        mod_client_state: {},
      },
    });
  });
  after(async () => t.stop());

  let seq = 0;
  /** A ping round trip: everything the server wrote to `c` before the pong has arrived. */
  async function sync(c: RawClient): Promise<void> {
    const id = `p${++seq}`;
    c.send(`<iq type='get' id='${id}' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>`);
    await c.readUntil(new RegExp(`id="${id}"`), 30000);
  }

  async function online(user: string, resource: string): Promise<RawClient> {
    const c = await RawClient.connect(t.port, { noDelay: true });
    await c.login(user, `pw-${user}`, resource);
    c.send("<presence/>");
    await sync(c);
    return c;
  }

  it("sends the inactive phone far fewer writes and bytes, and still the latest of everything", async () => {
    const names = Array.from({ length: CONTACTS }, (_, i) => `chatty${i}`);
    for (const n of names) {
      await befriend(t, "csi", n);
      await befriend(t, "plain", n);
    }
    const csi = await online("csi", "phone");
    const plain = await online("plain", "phone");
    const contacts: RawClient[] = [];
    for (let i = 0; i < names.length; i += 10) {
      contacts.push(...(await Promise.all(names.slice(i, i + 10).map((n) => online(n, "r")))));
    }
    await sync(csi);
    await sync(plain);

    csi.send("<inactive xmlns='urn:xmpp:csi:0'/>");
    await sync(csi); // handled before anything below (RFC 6120 §10.1)
    const start = { csi: mark(csi), plain: mark(plain) };
    // One contact at a time, one event at a time, each handled before the next (a round trip):
    // updates spread over time, as they come to a phone in a pocket, not in one burst.
    for (let round = 0; round < ROUNDS; round++) {
      for (const c of contacts) {
        c.send(`<presence><show>${SHOWS[round]}</show><status>round ${round}</status></presence>`);
        await sync(c);
        for (const state of ["composing", "paused"]) {
          for (const to of ["csi@localhost/phone", "plain@localhost/phone"]) {
            c.send(
              `<message to='${to}' type='chat'><${state} xmlns='http://jabber.org/protocol/chatstates'/></message>`,
            );
          }
          await sync(c);
        }
      }
    }
    await sync(plain);
    const whileInactive = since(csi, start.csi);
    csi.send("<active xmlns='urn:xmpp:csi:0'/>");
    await sync(csi);
    const got = { csi: since(csi, start.csi), plain: since(plain, start.plain) };
    console.log(
      `      ${CONTACTS} contacts, ${ROUNDS} rounds: without CSI ${got.plain.reads} reads, ` +
        `${got.plain.bytes} bytes, ${got.plain.stanzas} stanzas; inactive ` +
        `${whileInactive.reads} reads, ${whileInactive.bytes} bytes while inactive, ` +
        `${got.csi.reads} reads, ${got.csi.bytes} bytes, ${got.csi.stanzas} stanzas in all`,
    );

    // Everything reached the phone that did not say it was inactive...
    assert.equal(got.plain.stanzas, CONTACTS * ROUNDS * 3 + 1, "every update, and the pong");
    // ... and the inactive one has each contact's latest presence and chat state.
    const text = csi.consumed.slice(start.csi.consumed);
    for (const n of names) {
      const last = (re: string): string | undefined =>
        [...text.matchAll(new RegExp(re, "g"))].at(-1)?.[0];
      const presence = last(`<presence [^>]*from="${n}@localhost/r"[\\s\\S]*?</presence>`);
      assert.match(presence ?? "", /round 2/, `${n}'s latest presence`);
      const state = last(`<message [^>]*from="${n}@localhost/r"[\\s\\S]*?</message>`);
      assert.match(state ?? "", /<paused /, `${n}'s latest chat state`);
    }
    // 200 entries (a presence and a chat state per contact) fit in queue_size (256): nothing
    // woke the phone while it was inactive, and <active/> brought the latest of each, once.
    assert.equal(whileInactive.reads, 0, "nothing was written while inactive");
    assert.equal(got.csi.stanzas, CONTACTS * 2 + 1, "one presence, one chat state each, the pong");
    assert.ok(
      got.csi.reads * 10 <= got.plain.reads,
      `inactive: ${got.csi.reads} reads, active: ${got.plain.reads}`,
    );
    assert.ok(
      got.csi.bytes * 2 < got.plain.bytes,
      `inactive: ${got.csi.bytes} bytes, active: ${got.plain.bytes}`,
    );
    for (const c of [csi, plain, ...contacts]) c.end();
  });
});

interface Mark {
  reads: number;
  bytes: number;
  consumed: number;
}

function mark(c: RawClient): Mark {
  return { reads: c.reads, bytes: c.bytesRead, consumed: c.consumed.length + c.received.length };
}

/** Reads, bytes and top-level stanzas since `m` (readUntil has consumed all of it). */
function since(c: RawClient, m: Mark): { reads: number; bytes: number; stanzas: number } {
  const text = (c.consumed + c.received).slice(m.consumed);
  const stanzas = (text.match(/<(message|presence|iq)[ >]/g) ?? []).length;
  return { reads: c.reads - m.reads, bytes: c.bytesRead - m.bytes, stanzas };
}
