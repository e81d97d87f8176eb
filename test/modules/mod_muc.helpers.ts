import { strict as assert } from "node:assert";
// Helpers for the mod_muc tests: joining, configuring and reading MUC payloads.
import type { Element } from "@xmpp/xml";
import { xml, type TestClient } from "../../src/testkit/index.js";

export const MUC = "conference.localhost";
export const NS_MUC = "http://jabber.org/protocol/muc";
export const NS_USER = "http://jabber.org/protocol/muc#user";
export const NS_ADMIN = "http://jabber.org/protocol/muc#admin";
export const NS_OWNER = "http://jabber.org/protocol/muc#owner";

let n = 0;
export function id(): string {
  return `m${++n}`;
}

/** The muc#user status codes of a stanza. */
export function codes(el: Element): number[] {
  const x = el.getChild("x", NS_USER);
  return (x?.getChildren("status") ?? []).map((s) => Number(s.attrs.code));
}

export function item(el: Element): Element | undefined {
  return el.getChild("x", NS_USER)?.getChild("item");
}

/** Sends the entering presence and waits for the self-presence (110), or the error. */
export async function join(
  c: TestClient,
  room: string,
  nick: string,
  x: Element[] = [],
): Promise<Element> {
  const to = `${room}@${MUC}/${nick}`;
  await c.send(xml("presence", { to }, xml("x", { xmlns: NS_MUC }, ...x)));
  return c.next(
    (el) =>
      el.name === "presence" &&
      el.attrs.from === to &&
      (el.attrs.type === "error" || codes(el).includes(110)),
  );
}

/** Joins and waits for the subject too (the last thing of entering, §7.2.16). */
export async function enter(c: TestClient, room: string, nick: string): Promise<Element> {
  const self = await join(c, room, nick);
  await c.next((el) => el.name === "message" && el.getChild("subject") !== undefined);
  return self;
}

export async function iq(
  c: TestClient,
  type: "get" | "set",
  to: string,
  payload: Element,
): Promise<Element> {
  const i = id();
  await c.send(xml("iq", { type, to, id: i }, payload));
  return c.next((el) => el.name === "iq" && el.attrs.id === i);
}

/** Creates a room and accepts the default configuration (instant room, §10.1.2). */
export async function instantRoom(c: TestClient, room: string, nick: string): Promise<void> {
  await enter(c, room, nick);
  const res = await iq(
    c,
    "set",
    `${room}@${MUC}`,
    xml("query", { xmlns: NS_OWNER }, xml("x", { xmlns: "jabber:x:data", type: "submit" })),
  );
  if (res.attrs.type !== "result") throw new Error(`instant room failed: ${res.toString()}`);
}

/**
 * Creates a persistent room titled `title` (an instant room, then configured) and sets its
 * subject; resolves once the subject came back.
 */
export async function persistentRoom(
  c: TestClient,
  room: string,
  nick: string,
  title: string,
  subject: string,
): Promise<void> {
  await instantRoom(c, room, nick);
  const to = `${room}@${MUC}`;
  const fields = { "muc#roomconfig_persistentroom": "1", "muc#roomconfig_roomname": title };
  const res = await iq(c, "set", to, configure(fields));
  if (res.attrs.type !== "result") throw new Error(`configuring failed: ${res.toString()}`);
  await c.send(xml("message", { to, type: "groupchat" }, xml("subject", {}, subject)));
  await c.next((el) => el.name === "message" && el.getChildText("subject") === subject);
}

export function configure(fields: Record<string, string>): Element {
  return xml(
    "query",
    { xmlns: NS_OWNER },
    xml(
      "x",
      { xmlns: "jabber:x:data", type: "submit" },
      xml(
        "field",
        { var: "FORM_TYPE" },
        xml("value", {}, "http://jabber.org/protocol/muc#roomconfig"),
      ),
      ...Object.entries(fields).map(([k, v]) => xml("field", { var: k }, xml("value", {}, v))),
    ),
  );
}

export function adminItem(attrs: Record<string, string>, reason?: string): Element {
  return xml(
    "query",
    { xmlns: NS_ADMIN },
    xml("item", attrs, ...(reason ? [xml("reason", {}, reason)] : [])),
  );
}

export const NS_MAM = "urn:xmpp:mam:2";

/** Sends a groupchat message and waits for its reflection. */
export async function say(c: TestClient, room: string, text: string): Promise<void> {
  const i = id();
  await c.send(xml("message", { to: room, type: "groupchat", id: i }, xml("body", {}, text)));
  await c.next((el) => el.name === "message" && el.attrs.id === i);
}

/** A MAM query to the room: the <result/> messages and the IQ answer. */
export async function mamQuery(
  c: TestClient,
  room: string,
  children: Element[] = [],
): Promise<{ results: Element[]; answer: Element }> {
  const i = id();
  const qid = `q-${i}`;
  await c.send(
    xml(
      "iq",
      { type: "set", to: room, id: i },
      xml("query", { xmlns: NS_MAM, queryid: qid }, ...children),
    ),
  );
  const results: Element[] = [];
  for (;;) {
    const el = await c.next(
      (e) =>
        (e.name === "iq" && e.attrs.id === i) ||
        (e.name === "message" && e.getChild("result", NS_MAM)?.attrs.queryid === qid),
    );
    if (el.name === "iq") return { results, answer: el };
    assert.equal(el.attrs.from, room);
    results.push(el);
  }
}

export function forwarded(result: Element): Element {
  return result
    .getChild("result", NS_MAM)!
    .getChild("forwarded", "urn:xmpp:forward:0")!
    .getChild("message")!;
}

export { xml };
