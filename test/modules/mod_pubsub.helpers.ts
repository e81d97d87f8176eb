// Shared by the mod_pubsub tests: pubsub IQs, entity capabilities a test client announces (and
// the disco#info answer the server asks for, XEP-0115 §6.2), and event predicates.
import { strict as assert } from "node:assert";
import type { Element } from "@xmpp/xml";
import { xml, type TestClient } from "../../src/testkit/index.js";
import { capsFor, clientInfo, serveDisco } from "./mod_caps.helpers.js";

export const NS_PUBSUB = "http://jabber.org/protocol/pubsub";
export const NS_OWNER = "http://jabber.org/protocol/pubsub#owner";
export const NS_EVENT = "http://jabber.org/protocol/pubsub#event";
export const NS_ERRORS = "http://jabber.org/protocol/pubsub#errors";

let seq = 0;
let capsSeq = 0;

export async function iq(
  c: TestClient,
  type: "get" | "set",
  payload: Element,
  to?: string,
): Promise<Element> {
  const id = `ps${++seq}`;
  await c.send(xml("iq", { type, id, to }, payload));
  return c.next((el) => el.name === "iq" && el.attrs.id === id);
}

/** A publish-options / configure form of field -> value. */
export function form(formType: string, fields: Record<string, string>): Element {
  return xml(
    "x",
    { xmlns: "jabber:x:data", type: "submit" },
    xml("field", { var: "FORM_TYPE", type: "hidden" }, xml("value", {}, formType)),
    ...Object.entries(fields).map(([k, v]) => xml("field", { var: k }, xml("value", {}, v))),
  );
}

export function publish(
  c: TestClient,
  node: string,
  payload: Element | undefined,
  opts: { id?: string; options?: Record<string, string>; to?: string } = {},
): Promise<Element> {
  const children: Element[] = [xml("publish", { node }, xml("item", { id: opts.id }, payload))];
  if (opts.options) {
    children.push(
      xml(
        "publish-options",
        {},
        form("http://jabber.org/protocol/pubsub#publish-options", opts.options),
      ),
    );
  }
  return iq(c, "set", xml("pubsub", { xmlns: NS_PUBSUB }, ...children), opts.to);
}

export function items(
  c: TestClient,
  to: string | undefined,
  node: string,
  attrs: { max_items?: string } = {},
  ids: string[] = [],
): Promise<Element> {
  return iq(
    c,
    "get",
    xml(
      "pubsub",
      { xmlns: NS_PUBSUB },
      xml("items", { node, ...attrs }, ...ids.map((id) => xml("item", { id }))),
    ),
    to,
  );
}

/** The <item/>s of an items result or an event. */
export function itemsOf(el: Element): Element[] {
  const holder = el.getChild("pubsub", NS_PUBSUB) ?? el.getChild("event", NS_EVENT);
  return holder?.getChild("items")?.getChildren("item") ?? [];
}

/** The pubsub-specific condition of an error, if any. */
export function pubsubCondition(el: Element): string | undefined {
  return el
    .getChild("error")
    ?.getChildElements()
    .find((c) => c.attrs.xmlns === NS_ERRORS)?.name;
}

/** A pubsub event message about `node` (of `kind`: items, retract in items, delete, purge). */
export function isEvent(node: string, from?: string): (el: Element) => boolean {
  return (el) => {
    if (el.name !== "message" || (from && el.attrs.from !== from)) return false;
    const ev = el.getChild("event", NS_EVENT);
    return ev?.getChildElements().some((c) => c.attrs.node === node) ?? false;
  };
}

/**
 * Sends available presence announcing caps with `features` (+ one unique to this call, so the
 * server has not seen the ver before), and answers the server's disco#info query for it as a
 * client library does (XEP-0115 §6.2). When the server knows the features is not observable
 * here: a test waits for something they cause (the last item of a node the client wants).
 */
export async function availableWithCaps(c: TestClient, features: string[]): Promise<void> {
  const info = clientInfo(`urn:parley:test:${++capsSeq}`, ...features);
  serveDisco(c, () => info);
  await c.send(xml("presence", {}, capsFor(info)));
}

/** A round trip: whatever the server sent `c` before is in by then. */
export async function sync(c: TestClient): Promise<void> {
  const res = await iq(c, "get", xml("ping", { xmlns: "urn:xmpp:ping" }), "localhost");
  assert.equal(res.attrs.type, "result");
}

export async function assertNone(c: TestClient, pred: (el: Element) => boolean): Promise<void> {
  await sync(c);
  const got = await c.next(pred, 1).catch(() => undefined);
  assert.equal(got, undefined, `unexpected stanza: ${got?.toString()}`);
}
