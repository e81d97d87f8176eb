import { strict as assert } from "node:assert";
import { xml, type Element } from "@xmpp/xml";
import { Accounts } from "../../src/auth/accounts.js";
import { LocalDelivery, type AccountLookup } from "../../src/delivery.js";
import { Hooks } from "../../src/hooks.js";
import { IqHandlers } from "../../src/iq.js";
import { IqRequests } from "../../src/iq-requests.js";
import { parseJID, type JID } from "../../src/jid.js";
import { createLogger } from "../../src/log.js";
import { isPromise } from "../../src/maybe.js";
import type { SessionHandle } from "../../src/session-handle.js";
import { SessionManager } from "../../src/sm.js";
import { SqliteStorage } from "../../src/storage/sqlite.js";
import { sqliteStores } from "../../src/storage/sqlite/index.js";
import { isStanzaError } from "../../src/xmpp/errors.js";

/** A bound, available session that keeps what it is given. */
function session(full: string, got: Element[]): SessionHandle {
  return {
    id: full,
    host: parseJID(full).domain,
    secure: true,
    live: true,
    remoteAddress: "127.0.0.1",
    jid: parseJID(full),
    log: createLogger("silent"),
    available: true,
    priority: 0,
    presence: null,
    deliver: (stanza) => void got.push(stanza),
    flushHeld: () => undefined,
    close: () => undefined,
  };
}

describe("local delivery asks the account store only for users with no resource (RFC 6121 §8.5)", () => {
  let storage: SqliteStorage;
  let delivery: LocalDelivery;
  let sm: SessionManager;
  let asked: string[];
  let answered: string[];
  const alice = parseJID("alice@localhost/phone");
  const chat = (to: string): Element =>
    xml("message", { from: alice.toString(), to, type: "chat" }, xml("body", {}, "hi"));

  beforeEach(async () => {
    storage = new SqliteStorage(":memory:");
    const accounts = new Accounts(sqliteStores(storage.db).accounts);
    for (const u of ["alice", "bob", "carol"]) await accounts.register(u, "localhost", `pw-${u}`);
    asked = [];
    const lookup: AccountLookup = {
      exists: (u, h) => {
        asked.push(`${u}@${h}`);
        return accounts.exists(u, h);
      },
    };
    sm = new SessionManager();
    // An IQ to a user's bare JID is answered for the user (§8.5.2.1.3), only if they exist.
    const iq = new IqHandlers();
    answered = [];
    iq.add("localhost", "account", "get", "urn:example:ping", "ping", (req) => {
      answered.push(req.to.toString());
      return null;
    });
    const router = { route: () => undefined, bounce: () => undefined };
    delivery = new LocalDelivery(sm, lookup, iq, new Hooks(), router, new IqRequests());
  });
  afterEach(() => storage.close());

  const to = (bare: string): JID => parseJID(bare);

  it("delivers to an online user's bare JID at once, without a store lookup", () => {
    const got: Element[] = [];
    sm.register(session("bob@localhost/desk", got));
    const done = delivery.deliver(chat("bob@localhost"), alice, to("bob@localhost"));
    assert.equal(isPromise(done), false);
    assert.equal(got.length, 1);
    assert.deepEqual(asked, []);
  });

  const ping = (bare: string): Element =>
    xml(
      "iq",
      { from: alice.toString(), to: bare, type: "get", id: "p1" },
      xml("ping", { xmlns: "urn:example:ping" }),
    );

  it("waits for the store when no resource is online, then serves a user who exists", async () => {
    const done = delivery.deliver(ping("carol@localhost"), alice, to("carol@localhost"));
    assert.ok(isPromise(done));
    await done;
    assert.deepEqual(answered, ["carol@localhost"]);
    assert.deepEqual(asked, ["carol@localhost"]);
  });

  it("ignores presence and refuses an IQ to a user who does not exist (§8.5.1)", async () => {
    const presence = xml("presence", { from: alice.toString(), to: "nobody@localhost" });
    await delivery.deliver(presence, alice, to("nobody@localhost"));
    await assert.rejects(
      Promise.resolve(delivery.deliver(ping("nobody@localhost"), alice, to("nobody@localhost"))),
      (e: unknown) => isStanzaError(e) && e.condition === "service-unavailable",
    );
    assert.deepEqual(answered, []);
    assert.deepEqual(asked, ["nobody@localhost", "nobody@localhost"]);
  });
});
