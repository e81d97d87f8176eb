import { strict as assert } from "node:assert";
import { xml, type Element } from "@xmpp/xml";
import { parseJID, type JID } from "../../src/jid.js";
import { createLogger } from "../../src/log.js";
import { Router } from "../../src/router.js";
import { Handoff } from "../../src/handoff.js";

type Seen = { stanza: Element; from: string; to: string; handoff?: Handoff | undefined };

/** A router for the host example.org whose local delivery and one service just record. */
function setup() {
  const router = new Router(new Set(["example.org"]), createLogger("silent"));
  const local: Seen[] = [];
  const service: Seen[] = [];
  const record =
    (into: Seen[]) =>
    (stanza: Element, from: JID, to: JID, handoff?: Handoff): void =>
      void into.push({ stanza, from: from.toString(), to: to.toString(), handoff });
  router.attachLocal({ deliver: record(local) });
  const remove = router.add("conference.example.org", {
    kind: "service",
    handler: record(service),
  });
  return { router, local, service, remove };
}

const alice = parseJID("alice@example.org/phone");
const chat = (to: string): Element =>
  xml("message", { from: alice.toString(), to, type: "chat", id: "m1" }, xml("body", {}, "hi"));

describe("the router's table of routes by domain (RFC 6120 §10)", () => {
  it("looks up a served host as local, a module's domain as a service, others as nothing", () => {
    const { router } = setup();
    assert.equal(router.lookup("example.org")?.kind, "local");
    assert.equal(router.lookup("conference.example.org")?.kind, "service");
    assert.equal(router.lookup("elsewhere.example"), undefined);
  });

  it("hands a stanza for a served host to local delivery, with the sender's handoff", () => {
    const { router, local, service } = setup();
    const handoff = {} as Handoff;
    router.route(chat("bob@example.org"), alice, parseJID("bob@example.org"), handoff);
    assert.equal(local.length, 1);
    assert.equal(local[0]!.to, "bob@example.org");
    assert.equal(local[0]!.handoff, handoff);
    assert.equal(service.length, 0);
  });

  it("hands a stanza for a service domain to its handler, with the sender's handoff", () => {
    const { router, local, service } = setup();
    const handoff = {} as Handoff;
    const room = parseJID("room@conference.example.org/nick");
    router.route(chat(room.toString()), alice, room, handoff);
    assert.equal(service.length, 1);
    assert.equal(service[0]!.to, "room@conference.example.org/nick");
    assert.equal(service[0]!.handoff, handoff);
    assert.equal(local.length, 0);
  });

  it("bounces a stanza for a domain not in the table with remote-server-not-found (RFC 6120 §10.4)", () => {
    const { router, local } = setup();
    router.route(chat("bob@elsewhere.example"), alice, parseJID("bob@elsewhere.example"));
    // The error goes back to the sender through the sender's own (local) route.
    assert.equal(local.length, 1);
    const { stanza, from, to } = local[0]!;
    assert.equal(to, alice.toString());
    assert.equal(from, "bob@elsewhere.example");
    assert.equal(stanza.attrs.type, "error");
    assert.equal(stanza.attrs.id, "m1");
    const error = stanza.getChild("error");
    assert.equal(error?.attrs.type, "cancel");
    assert.ok(error?.getChild("remote-server-not-found", "urn:ietf:params:xml:ns:xmpp-stanzas"));
  });

  it("forgets a service's route when it is removed, and refuses a domain already served", () => {
    const { router, remove } = setup();
    const handler = (): void => undefined;
    assert.throws(() => router.add("example.org", { kind: "service", handler }), /already/);
    assert.throws(() => router.add("conference.example.org", { kind: "service", handler }));
    remove();
    assert.equal(router.lookup("conference.example.org"), undefined);
  });

  it("bounces what a route throws, and never rejects when a delivery that waited fails", async () => {
    const { router, local } = setup();
    router.add("broken.example.org", {
      kind: "service",
      handler: () => {
        throw new Error("a bug");
      },
    });
    router.attachLocal({
      deliver: (stanza, from, to) =>
        to.local === "bob"
          ? Promise.reject(new Error("storage failed"))
          : void local.push({ stanza, from: from.toString(), to: to.toString() }),
    });
    router.route(chat("x@broken.example.org"), alice, parseJID("x@broken.example.org"));
    await router.route(chat("bob@example.org"), alice, parseJID("bob@example.org"));
    const conditions = local.map((s) => s.stanza.getChild("error")?.getChildElements()[0]?.name);
    assert.deepEqual(conditions, ["internal-server-error", "internal-server-error"]);
  });

  it("holds the sender's acknowledgement while a delivery waits, even when nobody awaits the route (XEP-0198 §4)", async () => {
    const router = new Router(new Set(["example.org"]), createLogger("silent"));
    let finish!: () => void;
    router.attachLocal({ deliver: () => new Promise<void>((r) => (finish = r)) });
    const handoff = new Handoff();
    let acked = false;
    void router.route(chat("bob@example.org"), alice, parseJID("bob@example.org"), handoff);
    handoff.whenSettled(() => (acked = true));
    await new Promise((r) => setImmediate(r));
    assert.equal(acked, false, "acknowledged before the delivery made its copy");
    finish();
    await new Promise((r) => setImmediate(r));
    assert.equal(acked, true);
  });
});
