// Shared by the mod_roster test files: roster IQs, predicates for the stanzas the server sends,
// and the subscription handshake most presence tests start from.
import { strict as assert } from "node:assert";
import type { Element } from "@xmpp/xml";
import { xml, type TestClient, type TestServer } from "../../src/testkit/index.js";

export const NS_ROSTER = "jabber:iq:roster";
let seq = 0;
let users = 0;

/** A user name no other test uses, so each test starts with empty rosters. */
export function fresh(base: string): string {
  return `${base}${++users}`;
}

export function bare(c: TestClient): string {
  return c.jid.split("/")[0]!;
}

/** Sends an IQ and resolves with the answer (result or error). */
export async function iq(
  c: TestClient,
  type: "get" | "set",
  payload: Element,
  to?: string,
): Promise<Element> {
  const id = `r${++seq}`;
  await c.send(xml("iq", { type, id, to }, payload));
  return c.next((el) => el.name === "iq" && el.attrs.id === id);
}

/** Roster get (RFC 6121 §2.1.3), with the cached version when given (§2.6.2). */
export function rosterGet(c: TestClient, ver?: string, to?: string): Promise<Element> {
  return iq(c, "get", xml("query", { xmlns: NS_ROSTER, ver }), to);
}

/** Roster set with one item (§2.1.5). */
export function rosterSet(
  c: TestClient,
  attrs: Record<string, string | undefined>,
  groups: string[] = [],
  to?: string,
): Promise<Element> {
  return iq(
    c,
    "set",
    xml(
      "query",
      { xmlns: NS_ROSTER },
      xml("item", attrs, ...groups.map((g) => xml("group", {}, g))),
    ),
    to,
  );
}

/** The items of a roster result or push. */
export function itemsOf(el: Element): Element[] {
  return el.getChild("query", NS_ROSTER)?.getChildren("item") ?? [];
}

export function groupsOf(item: Element): string[] {
  return item.getChildren("group").map((g) => g.getText());
}

/** A roster push (§2.1.6) about `jid`. */
export function isPush(jid: string): (el: Element) => boolean {
  return (el) =>
    el.name === "iq" && el.attrs.type === "set" && itemsOf(el).some((i) => i.attrs.jid === jid);
}

/** The item a push carries. */
export async function nextPush(c: TestClient, jid: string): Promise<Element> {
  const push = await c.next(isPush(jid));
  return itemsOf(push)[0]!;
}

/** A presence stanza of `type` (undefined: available) from `from` (bare or full JID). */
export function isPresence(from: string, type?: string): (el: Element) => boolean {
  return (el) =>
    el.name === "presence" &&
    el.attrs.type === type &&
    (el.attrs.from === from || el.attrs.from?.startsWith(`${from}/`) === true);
}

export function presence(to: string, type: string): Element {
  return xml("presence", { to, type });
}

/** Sends initial (or updated) presence and waits for it to come back (RFC 6121 §4.2.2). */
export async function online(c: TestClient, status?: string): Promise<void> {
  await c.send(xml("presence", {}, status ? xml("status", {}, status) : undefined));
  await c.next((el) => el.name === "presence" && el.attrs.from === c.jid && !el.attrs.type);
}

/** A round trip to the server: everything it sent this client before is in by then. */
export async function sync(c: TestClient): Promise<void> {
  const res = await iq(c, "get", xml("ping", { xmlns: "urn:xmpp:ping" }), "localhost");
  assert.equal(res.attrs.type, "result");
}

/** Asserts that nothing matching `pred` arrived (call after sync()). */
export async function assertNone(c: TestClient, pred: (el: Element) => boolean): Promise<void> {
  const got = await c.next(pred, 1).catch(() => undefined);
  assert.equal(got, undefined, `unexpected stanza: ${got?.toString()}`);
}

/** A logged-in user that requested the roster and is available. */
export async function ready(t: TestServer, user: string, resource?: string): Promise<TestClient> {
  const c = await t.client(user, { resource });
  await rosterGet(c);
  await online(c);
  return c;
}

/**
 * The handshake of RFC 6121 §3.1: `a` asks to see `b`'s presence and `b` approves. Both are
 * interested and available; returns once both got their pushes and `a` got `b`'s presence.
 */
export async function subscribe(a: TestClient, b: TestClient): Promise<void> {
  await a.send(presence(bare(b), "subscribe"));
  await nextPush(a, bare(b));
  await b.next(isPresence(bare(a), "subscribe"));
  await b.send(presence(bare(a), "subscribed"));
  await nextPush(b, bare(a));
  await a.next(isPresence(bare(b), "subscribed"));
  await nextPush(a, bare(b));
  await a.next(isPresence(b.jid));
}
