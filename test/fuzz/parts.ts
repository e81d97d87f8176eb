// The pieces payloads.ts builds with: addresses, data forms, result sets, pubsub and MUC
// requests, and arbitrary element trees, all with random (often wrong) values.
import type { Rng } from "./prng.js";
import { el, randText, some, text } from "./xml.js";

export const HOST = "localhost";
export const SERVICES = [`conference.${HOST}`, `pubsub.${HOST}`, `upload.${HOST}`, `proxy.${HOST}`];
const ROOMS = ["room0", "room1", "room2", "Room3", "r\u00f6\u00f6m"];
const USERS = ["fuzz0", "fuzz1", "fuzz2", "fuzz3", "nobody", "admin"];
export const NODES = [
  "urn:xmpp:microblog:0",
  "urn:xmpp:avatar:data",
  "urn:xmpp:avatar:metadata",
  "urn:xmpp:bookmarks:1",
  "eu.siacs.conversations.axolotl.devicelist",
  "http://jabber.org/protocol/nick",
  "node0",
  "node1",
  "",
];

/** A JID, valid mostly, for the addresses the handlers parse and route. */
export function randJid(rng: Rng): string {
  switch (rng.int(14)) {
    case 0:
      return HOST;
    case 1:
      return `${rng.pick(USERS)}@${HOST}`;
    case 2:
      return `${rng.pick(USERS)}@${HOST}/${rng.pick(["nowhere", "x", "res\u00e9"])}`;
    case 3:
    case 4:
      return `${rng.pick(ROOMS)}@conference.${HOST}`;
    case 5:
      return `${rng.pick(ROOMS)}@conference.${HOST}/${randText(rng, 12) || "nick"}`;
    case 6:
      return rng.pick(SERVICES);
    case 7:
      return rng.pick(["remote.example", "user@remote.example/r", "[::1]", "127.0.0.1"]);
    case 8:
      return rng.pick([
        "",
        "@",
        "@localhost",
        "a@b@c",
        "localhost/",
        "a@/r",
        "LOCALHOST",
        "a b@localhost",
        "x@localhost/\u00a0",
        "\u212a@localhost",
        ".localhost",
        "localhost.",
      ]);
    case 9:
      return "u".repeat(rng.range(1000, 1100)) + "@" + HOST;
    case 10:
      return `${randText(rng, 20)}@${HOST}`;
    case 11:
      return `${rng.pick(ROOMS)}@${rng.pick(SERVICES)}`;
    default:
      return randText(rng, 30);
  }
}

const FORM_VARS = [
  "FORM_TYPE",
  "with",
  "start",
  "end",
  "before-id",
  "after-id",
  "ids",
  "muc#roomconfig_roomname",
  "muc#roomconfig_persistentroom",
  "muc#roomconfig_maxusers",
  "muc#roomconfig_whois",
  "muc#roomconfig_roomsecret",
  "muc#roomconfig_passwordprotectedroom",
  "pubsub#max_items",
  "pubsub#access_model",
  "pubsub#persist_items",
  "pubsub#publish_model",
  "pubsub#notify_retract",
];
const FORM_TYPES = [
  "urn:xmpp:mam:2",
  "http://jabber.org/protocol/muc#roomconfig",
  "http://jabber.org/protocol/pubsub#node_config",
  "http://jabber.org/protocol/pubsub#publish-options",
  "urn:xmpp:push:summary",
  "jabber:iq:register",
];

/** A XEP-0004 data form. */
export function form(rng: Rng): string {
  const field = (r: Rng): string =>
    el(
      "field",
      {
        var: r.pick(FORM_VARS),
        type: r.chance(0.3)
          ? r.pick(["hidden", "boolean", "list-multi", "jid-single", "bogus"])
          : undefined,
      },
      some(r, 3, (q) => el("value", {}, text(q.chance(0.5) ? randJid(q) : randText(q)))),
    );
  return el(
    "x",
    {
      xmlns: "jabber:x:data",
      type: rng.pick(["submit", "form", "cancel", "result", "bogus", undefined]),
    },
    el("field", { var: "FORM_TYPE", type: "hidden" }, el("value", {}, text(rng.pick(FORM_TYPES)))),
    some(rng, 5, field),
  );
}

/** A XEP-0059 result set request. */
export function rsm(rng: Rng): string {
  return el(
    "set",
    { xmlns: "http://jabber.org/protocol/rsm" },
    rng.chance(0.6)
      ? el("max", {}, text(rng.pick(["0", "1", "10", "-5", "1000000", "abc", ""])))
      : "",
    rng.chance(0.3) ? el("before", {}, text(rng.chance(0.5) ? "" : randText(rng))) : "",
    rng.chance(0.3) ? el("after", {}, text(randText(rng))) : "",
    rng.chance(0.2) ? el("index", {}, text(rng.pick(["0", "5", "-1", "x"]))) : "",
  );
}

export function pubsubItem(rng: Rng): string {
  return el(
    "item",
    { id: rng.chance(0.7) ? rng.pick(["current", "1", "2", randText(rng, 20)]) : undefined },
    rng.chance(0.7) ? anyElement(rng, 3) : "",
  );
}

const PUBSUB_OPS: ((rng: Rng, node: string) => string)[] = [
  (r, node) => el("publish", { node }, some(r, 2, pubsubItem)),
  (r, node) =>
    el(
      "items",
      { node, max_items: r.chance(0.3) ? r.pick(["1", "0", "-1", "x"]) : undefined },
      some(r, 2, pubsubItem),
    ),
  (r, node) =>
    el("retract", { node, notify: r.pick(["true", "1", undefined]) }, some(r, 2, pubsubItem)),
  (r, node) => el("subscribe", { node, jid: randJid(r) }),
  (r, node) => el("unsubscribe", { node, jid: randJid(r) }),
  (_r, node) => el("create", { node }),
  (_r, node) => el("subscriptions", { node }),
  (_r, node) => el("affiliations", { node }),
  (r, node) => el("options", { node, jid: randJid(r) }),
];
const PUBSUB_OWNER_OPS: ((rng: Rng, node: string) => string)[] = [
  (r, node) => el("configure", { node }, r.chance(0.5) ? form(r) : ""),
  (_r, node) => el("delete", { node }),
  (_r, node) => el("purge", { node }),
  (_r, node) => el("default", { node }),
  (r, node) =>
    el(
      "subscriptions",
      { node },
      some(r, 2, (q) =>
        el("subscription", { jid: randJid(q), subscription: q.pick(["none", "subscribed", "x"]) }),
      ),
    ),
  (r, node) =>
    el(
      "affiliations",
      { node },
      some(r, 2, (q) =>
        el("affiliation", {
          jid: randJid(q),
          affiliation: q.pick(["owner", "publisher", "none", "outcast", "x"]),
        }),
      ),
    ),
];

/** XEP-0060: a pubsub request, with publish-options or a configure form at times. */
export function pubsub(rng: Rng): string {
  const node = rng.pick(NODES);
  if (rng.chance(0.25)) {
    return el(
      "pubsub",
      { xmlns: "http://jabber.org/protocol/pubsub#owner" },
      rng.pick(PUBSUB_OWNER_OPS)(rng, node),
    );
  }
  return el(
    "pubsub",
    { xmlns: "http://jabber.org/protocol/pubsub" },
    rng.pick(PUBSUB_OPS)(rng, node),
    rng.chance(0.2) ? el("publish-options", {}, form(rng)) : "",
    rng.chance(0.1) ? rsm(rng) : "",
  );
}

export function mucItem(rng: Rng): string {
  return el(
    "item",
    {
      jid: rng.chance(0.5) ? randJid(rng) : undefined,
      nick: rng.chance(0.5) ? randText(rng, 12) : undefined,
      affiliation: rng.chance(0.6)
        ? rng.pick(["owner", "admin", "member", "outcast", "none", "bogus"])
        : undefined,
      role: rng.chance(0.5)
        ? rng.pick(["moderator", "participant", "visitor", "none", "bogus"])
        : undefined,
    },
    rng.chance(0.3) ? el("reason", {}, text(randText(rng))) : "",
  );
}

const ANY_NS = [
  "urn:fuzz:a",
  "jabber:client",
  "urn:ietf:params:xml:ns:xmpp-stanzas",
  "",
  "http://jabber.org/protocol/muc",
  "urn:xmpp:sm:3",
];
const ANY_NAMES = [
  "x",
  "query",
  "item",
  "body",
  "error",
  "a",
  "b",
  "data",
  "message",
  "iq",
  "presence",
];

/** An arbitrary element tree, `depth` levels at most. */
export function anyElement(rng: Rng, depth: number): string {
  const attrs: Record<string, string | undefined> = {};
  if (rng.chance(0.6)) attrs.xmlns = rng.pick(ANY_NS);
  for (let n = rng.int(4); n > 0; n--)
    attrs[rng.pick(["id", "type", "jid", "node", "to", "from", "name", "var"])] = randText(rng);
  const kids =
    depth <= 1
      ? ""
      : some(rng, 3, (r) => (r.chance(0.3) ? text(randText(r)) : anyElement(r, depth - 1)));
  return el(rng.pick(ANY_NAMES), attrs, kids);
}
