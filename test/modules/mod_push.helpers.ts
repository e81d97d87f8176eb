// Shared by the mod_push tests: enable/disable requests (XEP-0357 §5, §6), an app server that is
// a logged-in test client (the server reaches its full JID through the router, as it would reach
// a remote app server), and the notification's parts (§7).
import { strict as assert } from "node:assert";
import type { Element } from "@xmpp/xml";
import { xml, type TestClient } from "../../src/testkit/index.js";
import type { TestServer } from "../helpers/server.js";
import { form, iq, NS_PUBSUB } from "./mod_pubsub.helpers.js";
import { RawClient } from "../helpers/raw.js";

export const NS_PUSH = "urn:xmpp:push:0";
export const PUBLISH_OPTIONS = "http://jabber.org/protocol/pubsub#publish-options";

export function enable(
  c: TestClient,
  attrs: { jid?: string; node?: string },
  options?: Record<string, string>,
  to?: string,
): Promise<Element> {
  const payload = xml("enable", { xmlns: NS_PUSH, ...attrs });
  if (options) payload.append(form(PUBLISH_OPTIONS, options));
  return iq(c, "set", payload, to);
}

export function disable(c: TestClient, attrs: { jid?: string; node?: string }): Promise<Element> {
  return iq(c, "set", xml("disable", { xmlns: NS_PUSH, ...attrs }));
}

/** The next notification published to the app server `app` for one of `nodes`. */
export function nextPush(app: TestClient, ...nodes: string[]): Promise<Element> {
  return app.next(
    (el) =>
      el.name === "iq" &&
      el.attrs.type === "set" &&
      nodes.includes(String(publishOf(el)?.attrs.node)),
  );
}

/** The node a notification was published to. */
export function nodeOf(push: Element): string | undefined {
  return publishOf(push)?.attrs.node as string | undefined;
}

/** Answers a notification: a result, or an error of `type` with `condition`. */
export async function answer(
  app: TestClient,
  push: Element,
  error?: { type: string; condition: string },
): Promise<void> {
  const attrs = { id: push.attrs.id, to: push.attrs.from };
  if (!error) return app.send(xml("iq", { type: "result", ...attrs }));
  await app.send(
    xml(
      "iq",
      { type: "error", ...attrs },
      xml(
        "error",
        { type: error.type },
        xml(error.condition, { xmlns: "urn:ietf:params:xml:ns:xmpp-stanzas" }),
      ),
    ),
  );
}

function publishOf(push: Element): Element | undefined {
  return push.getChild("pubsub", NS_PUBSUB)?.getChild("publish");
}

/** The fields of the notification's urn:xmpp:push:summary form (§7), {} without one. */
export function summary(push: Element): Record<string, string> {
  const x = publishOf(push)
    ?.getChild("item")
    ?.getChild("notification", NS_PUSH)
    ?.getChild("x", "jabber:x:data");
  return fields(x);
}

/** The fields of the publish-options form sent with the notification (§7), {} without one. */
export function publishOptions(push: Element): Record<string, string> {
  const x = push
    .getChild("pubsub", NS_PUBSUB)
    ?.getChild("publish-options")
    ?.getChild("x", "jabber:x:data");
  return fields(x);
}

function fields(x: Element | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of x?.getChildren("field") ?? [])
    out[f.attrs.var as string] = f.getChildText("value") ?? "";
  return out;
}

/** The account's registrations as stored (the map store, on either engine). */
export async function stored(t: TestServer, user: string): Promise<unknown[]> {
  return [...(await t.server.ctx.stores.map("mod_push").all("localhost", user)).values()];
}

/** Waits for a log line (the server logs at debug in the kit). */
export async function logged(
  t: TestServer,
  pred: (line: Record<string, unknown>) => boolean,
  what: string,
): Promise<void> {
  for (let i = 0; i < 1000; i++) {
    if (t.logs.some(pred)) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  assert.fail(`no log line: ${what}`);
}

/** A chat message with a body, from `c` to `to`. */
export function chat(c: TestClient, to: string, body: string): Promise<void> {
  return c.send(xml("message", { to, type: "chat" }, xml("body", {}, body)));
}

/**
 * A phone for the hibernation cases: `user` registered and logged in over a raw stream as
 * `user@localhost/mobile`, XEP-0198 enabled with resumption, push enabled for `app` at `node`,
 * and available. The caller cuts its link to make the session hibernate.
 */
export async function resumablePhone(
  t: TestServer,
  app: TestClient,
  user: string,
  node: string,
): Promise<RawClient> {
  await t.register(user, `pw-${user}`);
  const raw = await RawClient.connect(t.port);
  await raw.login(user, `pw-${user}`, "mobile");
  raw.send("<enable xmlns='urn:xmpp:sm:3' resume='true'/>");
  await raw.readUntil("<enabled");
  raw.send(
    `<iq type='set' id='push1'><enable xmlns='${NS_PUSH}' jid='${app.jid}' node='${node}'/></iq>`,
  );
  assert.match(await raw.readUntil("push1"), /type="result"/);
  raw.send("<presence/>");
  await raw.readUntil("<presence");
  return raw;
}
