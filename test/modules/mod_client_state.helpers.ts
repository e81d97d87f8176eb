// Shared by the mod_client_state tests: the nonzas, contacts made straight in the roster store,
// a round trip that proves a sender's stanzas were handled, and the held-stanza count as the
// outbound-queue metric reports it.
import { strict as assert } from "node:assert";
import type { Element } from "@xmpp/xml";
import { xml, type TestClient, type TestServer } from "../../src/testkit/index.js";

export const CSI = "urn:xmpp:csi:0";
export const DELAY = "urn:xmpp:delay";
export const CHATSTATES = "http://jabber.org/protocol/chatstates";

export const inactive = (): Element => xml("inactive", { xmlns: CSI });
export const active = (): Element => xml("active", { xmlns: CSI });

/**
 * A mutual subscription (RFC 6121 §3), written to both rosters before either logs in; accounts
 * not there yet are registered with `password`.
 */
export async function befriend(
  t: TestServer,
  a: string,
  b: string,
  password = (user: string) => `pw-${user}`,
): Promise<void> {
  const roster = t.server.ctx.stores.roster;
  const item = (jid: string) => ({
    jid: `${jid}@localhost`,
    name: undefined,
    subscription: "both" as const,
    ask: false,
    approved: false,
    pendingIn: false,
    groups: [],
  });
  for (const u of [a, b]) {
    if (!(await t.server.ctx.accounts.exists(u, "localhost"))) await t.register(u, password(u));
  }
  await roster.save("localhost", a, item(b));
  await roster.save("localhost", b, item(a));
}

let seq = 0;

/**
 * A ping to the server and its answer: the server handles a client's stanzas in order (RFC 6120
 * §10.1), so everything `c` sent before has been delivered or held by then.
 */
export async function roundTrip(c: TestClient): Promise<void> {
  const id = `sync${++seq}`;
  await c.send(
    xml("iq", { type: "get", id, to: "localhost" }, xml("ping", { xmlns: "urn:xmpp:ping" })),
  );
  await c.next((el) => el.is("iq") && el.attrs.id === id);
}

/** The longest outbound queue of any session, in stanzas (held ones count), from /metrics. */
export async function longestQueue(t: TestServer): Promise<number> {
  const text = await t.server.ctx.metrics.registry.metrics();
  const m = /^parley_outbound_queue\{unit="stanzas",stat="max"\} (\d+)/m.exec(text);
  assert.ok(m, "no parley_outbound_queue in /metrics");
  return Number(m[1]);
}

/** Whether the server held this stanza back for an inactive client (its XEP-0203 stamp). */
export const wasHeld = (el: Element): boolean =>
  el.getChild("delay", DELAY)?.getText() === "Client Inactive";

export const chatState = (to: string, state: string): Element =>
  xml("message", { to, type: "chat" }, xml(state, { xmlns: CHATSTATES }));

export const stateOf = (el: Element): string | undefined =>
  el.getChildElements().find((c) => c.getNS() === CHATSTATES)?.name;
