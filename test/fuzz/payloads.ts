// Payloads of real XMPP extensions, with random (often wrong) values: what the stanza handlers
// of the shipped modules read. Each generator returns one well-formed child element.
import type { Rng } from "./prng.js";
import { NODES, anyElement, form, mucItem, pubsub, pubsubItem, randJid, rsm } from "./parts.js";
import { el, randText, some, text } from "./xml.js";

/** IQ payloads, one per extension the shipped modules serve (and some they do not). */
export const IQ_PAYLOADS: ((rng: Rng) => string)[] = [
  (r) =>
    el("query", {
      xmlns: "http://jabber.org/protocol/disco#info",
      node: r.chance(0.3) ? r.pick(NODES) : undefined,
    }),
  (r) =>
    el(
      "query",
      {
        xmlns: "http://jabber.org/protocol/disco#items",
        node: r.chance(0.3) ? r.pick(NODES) : undefined,
      },
      r.chance(0.2) ? rsm(r) : "",
    ),
  (r) =>
    el(
      "query",
      { xmlns: "jabber:iq:roster", ver: r.chance(0.3) ? randText(r, 10) : undefined },
      some(r, 2, (q) =>
        el(
          "item",
          {
            jid: randJid(q),
            name: q.chance(0.5) ? randText(q) : undefined,
            subscription: q.chance(0.4)
              ? q.pick(["remove", "both", "none", "to", "from", "x"])
              : undefined,
            ask: q.chance(0.1) ? "subscribe" : undefined,
          },
          some(q, 3, (g) => el("group", {}, text(randText(g)))),
        ),
      ),
    ),
  (r) =>
    el(
      "query",
      {
        xmlns: "urn:xmpp:mam:2",
        queryid: r.chance(0.7) ? randText(r, 12) : undefined,
        node: r.chance(0.1) ? r.pick(NODES) : undefined,
      },
      r.chance(0.7) ? form(r) : "",
      r.chance(0.6) ? rsm(r) : "",
      r.chance(0.1) ? el("flip-page") : "",
    ),
  (r) =>
    el(
      "prefs",
      {
        xmlns: "urn:xmpp:mam:2",
        default: r.pick(["always", "never", "roster", "bogus", undefined]),
      },
      r.chance(0.5)
        ? el(
            "always",
            {},
            some(r, 2, (q) => el("jid", {}, text(randJid(q)))),
          )
        : "",
      r.chance(0.5)
        ? el(
            "never",
            {},
            some(r, 2, (q) => el("jid", {}, text(randJid(q)))),
          )
        : "",
    ),
  () => el("metadata", { xmlns: "urn:xmpp:mam:2" }),
  (r) => el("query", { xmlns: "http://jabber.org/protocol/muc#admin" }, some(r, 3, mucItem)),
  (r) =>
    el(
      "query",
      { xmlns: "http://jabber.org/protocol/muc#owner" },
      r.chance(0.6) ? form(r) : "",
      r.chance(0.2)
        ? el(
            "destroy",
            { jid: r.chance(0.5) ? randJid(r) : undefined },
            el("reason", {}, text(randText(r))),
          )
        : "",
    ),
  () => el("unique", { xmlns: "http://jabber.org/protocol/muc#unique" }),
  pubsub,
  (r) =>
    el(r.pick(["enable", "disable"]), {
      xmlns: r.pick(["urn:xmpp:carbons:2", "urn:xmpp:carbons:1"]),
    }),
  () => el("blocklist", { xmlns: "urn:xmpp:blocking" }),
  (r) =>
    el(
      r.pick(["block", "unblock"]),
      { xmlns: "urn:xmpp:blocking" },
      some(r, 3, (q) => el("item", { jid: randJid(q) })),
    ),
  (r) =>
    el(
      "vCard",
      { xmlns: "vcard-temp" },
      r.chance(0.5)
        ? el("FN", {}, text(randText(r))) +
            el("PHOTO", {}, el("TYPE", {}, "image/png"), el("BINVAL", {}, text(randText(r, 200))))
        : "",
    ),
  (r) =>
    el(
      "query",
      { xmlns: "jabber:iq:private" },
      r.chance(0.8)
        ? el(
            r.pick(["storage", "exodus", "x"]),
            {
              xmlns: r.pick([
                "storage:bookmarks",
                "storage:rosternotes",
                "jabber:iq:private",
                "jabber:client",
                "x:y",
              ]),
            },
            some(r, 2, (q) => anyElement(q, 2)),
          )
        : "",
    ),
  () => el("ping", { xmlns: "urn:xmpp:ping" }),
  () => el("query", { xmlns: "jabber:iq:version" }),
  () => el("time", { xmlns: "urn:xmpp:time" }),
  () => el("query", { xmlns: "jabber:iq:last" }),
  (r) =>
    el(
      "query",
      { xmlns: "jabber:iq:register" },
      r.chance(0.5)
        ? el("username", {}, text(randText(r))) + el("password", {}, text(randText(r)))
        : "",
      r.chance(0.2) ? el("remove") : "",
    ),
  (r) =>
    el("request", {
      xmlns: "urn:xmpp:http:upload:0",
      filename: randText(r),
      size: r.pick(["1", "0", "-1", "104857601", "1e3", "abc", "99999999999999999999"]),
      "content-type": r.chance(0.5) ? r.pick(["image/png", "text/plain", "x\ny"]) : undefined,
    }),
  (r) =>
    el(
      "query",
      {
        xmlns: "http://jabber.org/protocol/bytestreams",
        sid: r.chance(0.7) ? randText(r, 16) : undefined,
      },
      r.chance(0.4) ? el("activate", {}, text(randJid(r))) : "",
    ),
  (r) =>
    el(
      r.pick(["enable", "disable"]),
      {
        xmlns: "urn:xmpp:push:0",
        jid: r.chance(0.8) ? randJid(r) : undefined,
        node: r.chance(0.8) ? randText(r, 16) : undefined,
      },
      r.chance(0.3) ? form(r) : "",
    ),
  (r) =>
    el("services", {
      xmlns: "urn:xmpp:extdisco:2",
      type: r.chance(0.5) ? r.pick(["stun", "turn", "x"]) : undefined,
    }),
  (r) =>
    el(
      "credentials",
      { xmlns: "urn:xmpp:extdisco:2" },
      el("service", { host: randText(r), type: "turn" }),
    ),
  (r) =>
    el(
      "bind",
      { xmlns: "urn:ietf:params:xml:ns:xmpp-bind" },
      r.chance(0.5) ? el("resource", {}, text(randText(r))) : "",
    ),
  () => el("session", { xmlns: "urn:ietf:params:xml:ns:xmpp-session" }),
  (r) => anyElement(r, 3),
];

/** Message children: bodies, chat states, receipts, MUC invites, carbons, MAM results... */
export const MESSAGE_PAYLOADS: ((rng: Rng) => string)[] = [
  (r) =>
    el(
      "body",
      { "xml:lang": r.chance(0.2) ? r.pick(["en", "de", "", "x-bogus"]) : undefined },
      text(randText(r, 200)),
    ),
  (r) => el("subject", {}, text(randText(r))),
  (r) => el("thread", {}, text(randText(r, 12))),
  (r) =>
    el(r.pick(["active", "composing", "paused", "inactive", "gone"]), {
      xmlns: "http://jabber.org/protocol/chatstates",
    }),
  (r) =>
    el(r.pick(["request", "received"]), {
      xmlns: "urn:xmpp:receipts",
      id: r.chance(0.5) ? randText(r, 10) : undefined,
    }),
  (r) =>
    el(r.pick(["markable", "displayed", "received", "acknowledged"]), {
      xmlns: "urn:xmpp:chat-markers:0",
      id: r.chance(0.5) ? randText(r, 10) : undefined,
    }),
  (r) =>
    el(
      "x",
      { xmlns: "http://jabber.org/protocol/muc#user" },
      some(r, 2, (q) =>
        el(
          q.pick(["invite", "decline"]),
          { to: randJid(q), from: q.chance(0.2) ? randJid(q) : undefined },
          el("reason", {}, text(randText(q))),
        ),
      ),
      r.chance(0.2) ? el("password", {}, text(randText(r))) : "",
    ),
  (r) =>
    el("x", {
      xmlns: "jabber:x:conference",
      jid: randJid(r),
      reason: r.chance(0.3) ? randText(r) : undefined,
    }),
  (r) =>
    el(r.pick(["private", "no-copy"]), { xmlns: r.pick(["urn:xmpp:carbons:2", "urn:xmpp:hints"]) }),
  (r) => el(r.pick(["no-store", "no-permanent-store", "store"]), { xmlns: "urn:xmpp:hints" }),
  (r) =>
    el(
      r.pick(["sent", "received"]),
      { xmlns: "urn:xmpp:carbons:2" },
      el(
        "forwarded",
        { xmlns: "urn:xmpp:forward:0" },
        el(
          "message",
          { xmlns: "jabber:client", from: randJid(r), to: randJid(r) },
          el("body", {}, "spoofed"),
        ),
      ),
    ),
  (r) =>
    el(
      "result",
      { xmlns: "urn:xmpp:mam:2", queryid: randText(r, 8), id: randText(r, 8) },
      el(
        "forwarded",
        { xmlns: "urn:xmpp:forward:0" },
        el("message", { xmlns: "jabber:client" }, el("body", {}, "spoofed")),
      ),
    ),
  (r) => el("stanza-id", { xmlns: "urn:xmpp:sid:0", id: randText(r, 12), by: randJid(r) }),
  (r) => el("origin-id", { xmlns: "urn:xmpp:sid:0", id: randText(r, 12) }),
  (r) =>
    el("delay", {
      xmlns: "urn:xmpp:delay",
      stamp: randText(r),
      from: r.chance(0.5) ? randJid(r) : undefined,
    }),
  (r) => el("replace", { xmlns: "urn:xmpp:message-correct:0", id: randText(r, 12) }),
  (r) => el("retract", { xmlns: "urn:xmpp:message-retract:1", id: randText(r, 12) }),
  (r) =>
    el(
      "encrypted",
      { xmlns: "eu.siacs.conversations.axolotl" },
      el("header", { sid: randText(r, 8) }, el("key", { rid: "1" }, "AAAA")),
      el("payload", {}, "AAAA"),
    ),
  (r) =>
    el(
      "event",
      { xmlns: "http://jabber.org/protocol/pubsub#event" },
      el("items", { node: r.pick(NODES) }, pubsubItem(r)),
    ),
  (r) => el("x", { xmlns: "jabber:x:oob" }, el("url", {}, text(randText(r)))),
  (r) => anyElement(r, 3),
];

/** Presence children: MUC joins, caps, status, priority, vCard avatar updates. */
export const PRESENCE_PAYLOADS: ((rng: Rng) => string)[] = [
  (r) =>
    el(
      "x",
      { xmlns: "http://jabber.org/protocol/muc" },
      r.chance(0.3) ? el("password", {}, text(randText(r))) : "",
      r.chance(0.4)
        ? el("history", {
            maxstanzas: r.pick(["0", "5", "-1", "x", undefined]),
            seconds: r.chance(0.3) ? r.pick(["60", "-1", "1e9"]) : undefined,
            since: r.chance(0.2) ? randText(r) : undefined,
          })
        : "",
    ),
  (r) => el("x", { xmlns: "http://jabber.org/protocol/muc#user" }, some(r, 2, mucItem)),
  (r) => el("show", {}, r.pick(["away", "chat", "dnd", "xa", "bogus", ""])),
  (r) => el("status", {}, text(randText(r, 100))),
  (r) => el("priority", {}, r.pick(["0", "1", "-1", "127", "-128", "128", "x", ""])),
  (r) =>
    el("c", {
      xmlns: "http://jabber.org/protocol/caps",
      hash: r.pick(["sha-1", "sha-256", "md5"]),
      node: "https://fuzz.example",
      ver: r.chance(0.5) ? "QgayPKawpkPSDYmwT/WM94uAlu0=" : randText(r),
    }),
  (r) => el("x", { xmlns: "vcard-temp:x:update" }, el("photo", {}, text(randText(r, 40)))),
  (r) => el("nick", { xmlns: "http://jabber.org/protocol/nick" }, text(randText(r))),
  (r) => el("idle", { xmlns: "urn:xmpp:idle:1", since: randText(r) }),
  (r) => anyElement(r, 2),
];
