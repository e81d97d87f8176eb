import { strict as assert } from "node:assert";
import { xml, type Element } from "@xmpp/xml";
import { parseJID, type JID } from "../../src/jid.js";
import { createLogger } from "../../src/log.js";
import { Router } from "../../src/router.js";
import { Handoff } from "../../src/handoff.js";
import {
  Partition,
  type DomainPlacement,
  type ListedItem,
  type PartitionedRoute,
  type Placement,
} from "../../src/partition.js";

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

  describe("a partitioned service (issue 17: a cluster serves each room on one node)", () => {
    /** A placement that records what it is handed and what its domain seeds and lists. */
    function placement() {
      const dispatched: string[] = [];
      const writes: string[] = [];
      const p: Placement = {
        dispatch(route: PartitionedRoute, _stanza: Element, _from: JID, to: JID) {
          dispatched.push(`${route.partition.domain} ${to.toString()}`);
        },
        domain(partition: Partition): DomainPlacement {
          return {
            release: (local) => void writes.push(`release ${local}`),
            list: (local, item) => void writes.push(`list ${local} ${item?.name ?? "-"}`),
            seed: (local, item) => void writes.push(`seed ${local} ${item.name}`),
            listed: () => Promise.resolve(new Map<string, ListedItem>()),
            close: () => void writes.push(`close ${partition.domain}`),
          };
        },
      };
      return { p, dispatched, writes };
    }

    it("hands stanzas to its rooms to the placement once a cluster attached one; the domain itself stays here", () => {
      const router = new Router(new Set(["example.org"]), createLogger("silent"));
      const handled: string[] = [];
      const partition = new Partition("muc.example.org", { acquire: () => undefined });
      router.add("muc.example.org", {
        kind: "service",
        handler: (_s, _f, to) => void handled.push(to.toString()),
        partition,
      });
      const room = parseJID("room@muc.example.org/nick");
      router.route(chat(room.toString()), alice, room);
      assert.deepEqual(handled, ["room@muc.example.org/nick"], "one node: served here");

      const { p, dispatched } = placement();
      const detach = router.attachPlacement(p);
      router.route(chat(room.toString()), alice, room);
      const domain = parseJID("muc.example.org");
      router.route(chat(domain.toString()), alice, domain);
      assert.deepEqual(dispatched, ["muc.example.org room@muc.example.org/nick"]);
      assert.deepEqual(handled, ["room@muc.example.org/nick", "muc.example.org"]);

      detach();
      router.route(chat(room.toString()), alice, room);
      assert.equal(dispatched.length, 1, "detached: served here again");
      assert.equal(handled.length, 3);
    });

    it("keeps the listing here on one node and seeds the cluster's with it when a cluster attaches", async () => {
      const router = new Router(new Set(["example.org"]), createLogger("silent"));
      const partition = new Partition("muc.example.org", { acquire: () => undefined });
      const remove = router.add("muc.example.org", {
        kind: "service",
        handler: () => undefined,
        partition,
      });
      const item = (name: string): ListedItem => ({ name, count: 0, kept: true });
      partition.list("lobby", item("Lobby"));
      partition.seed("lobby", item("stale"));
      partition.seed("attic", item("Attic"));
      partition.list("gone", item("Gone"));
      partition.list("gone", null);
      partition.release("lobby");
      assert.deepEqual([...(await partition.listed()).keys()].sort(), ["attic", "lobby"]);
      assert.equal(
        (await partition.listed()).get("lobby")?.name,
        "Lobby",
        "a seed never overwrites",
      );

      const { p, writes } = placement();
      router.attachPlacement(p);
      partition.list("hall", item("Hall"));
      partition.release("hall");
      remove();
      assert.deepEqual(writes, [
        "seed lobby Lobby",
        "seed attic Attic",
        "list hall Hall",
        "release hall",
        "close muc.example.org",
      ]);
    });
  });
});
