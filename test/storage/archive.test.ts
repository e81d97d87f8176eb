import { strict as assert } from "node:assert";
import { ARCHIVE_PAGE_CAP } from "../../src/storage/archive-query.js";
import { buildRsm } from "../../src/xmpp/rsm.js";
import type {
  ArchivePage,
  ArchiveQuery,
  ArchiveStore,
  ArchiveUnknownId,
  NewArchiveEntry,
} from "../../src/storage/stores.js";
import { ARCHIVE_DRIVERS, type OpenStores } from "./drivers.js";

const ALICE = "alice@localhost";
const ROOM = "coven@conference.localhost";

function entry(body: string, ts: number, more: Partial<NewArchiveEntry> = {}): NewArchiveEntry {
  return {
    owner: ALICE,
    with: "bob@example.org/phone",
    ts,
    direction: "in",
    stanza: `<message type='chat'><body>${body}</body></message>`,
    ...more,
  };
}

const bodyOf = (stanza: string) => stanza.match(/<body>(.*)<\/body>/)![1]!;

function page(r: ArchivePage | ArchiveUnknownId): ArchivePage {
  assert.ok(!("unknownId" in r), `unexpected unknown id ${JSON.stringify(r)}`);
  return r;
}

const bodies = (r: ArchivePage | ArchiveUnknownId) => page(r).items.map((i) => bodyOf(i.stanza));

/** Appends `n` entries to alice's archive, "0".."n-1", one ms apart; returns their UIDs. */
async function fill(store: ArchiveStore, n: number, owner = ALICE): Promise<string[]> {
  const done = await store.append(
    Array.from({ length: n }, (_, i) => entry(String(i), 1000 + i, { owner })),
  );
  return done.map((d) => d.id);
}

const range = (from: number, to: number) =>
  Array.from({ length: to - from }, (_, i) => String(from + i));

for (const driver of ARCHIVE_DRIVERS) {
  describe(`archive store on ${driver.name} (XEP-0313; design: one suite, every driver)`, function () {
    this.timeout(30_000);
    let s: OpenStores;
    let store: ArchiveStore;
    beforeEach(async () => {
      s = await driver.open();
      store = s.stores.archive;
    });
    afterEach(async () => s.close());

    it("appends a batch, gives each entry a new opaque UID (XEP-0359), and finds it by UID", async () => {
      const stanza = "<message type='chat'><body>naïve 😀 &amp; &lt;x&gt;\n\ttabs</body></message>";
      const done = await store.append([
        entry("1", 5000, { direction: "out", originId: "c-1", stanza }),
        entry("2", 5001, { owner: ROOM, with: "witch@localhost/broom", nick: "first" }),
      ]);
      assert.equal(done.length, 2);
      assert.notEqual(done[0]!.id, done[1]!.id);
      for (const d of done) assert.doesNotMatch(d.id, /^[0-9]*$/, "a UID reveals no order or size");
      assert.deepEqual(
        done.map((d) => d.ts),
        [5000, 5001],
      );
      assert.deepEqual(await store.get(ALICE, done[0]!.id), {
        id: done[0]!.id,
        owner: ALICE,
        with: "bob@example.org/phone",
        ts: 5000,
        direction: "out",
        originId: "c-1",
        stanza,
      });
      assert.deepEqual(await store.get(ROOM, done[1]!.id), {
        id: done[1]!.id,
        owner: ROOM,
        with: "witch@localhost/broom",
        ts: 5001,
        direction: "in",
        nick: "first",
        stanza: entry("2", 0).stanza,
      });
      assert.equal(await store.get(ALICE, done[1]!.id), undefined, "another owner's UID");
      assert.equal(await store.get(ALICE, "no-such-id"), undefined);
      assert.deepEqual(await store.append([]), []);
    });

    it("keeps the order of appending, and never stores a time older than the archive's newest (§3.1)", async () => {
      await store.append([entry("a", 3000), entry("b", 3000), entry("c", 3000)]);
      // The clock went back: stored at the newest time so far, still after "c".
      const [late] = await store.append([entry("d", 1000)]);
      assert.equal(late!.ts, 3000);
      // Another archive is not held back by alice's times.
      const [other] = await store.append([entry("x", 1000, { owner: ROOM })]);
      assert.equal(other!.ts, 1000);
      assert.deepEqual(bodies(await store.query(ALICE, { max: 10 })), ["a", "b", "c", "d"]);
      assert.deepEqual(bodies(await store.query(ALICE, { max: 10, end: 2000 })), []);
      assert.deepEqual(bodies(await store.query(ALICE, { max: 2, before: "" })), ["c", "d"]);
    });

    it("pages forward with RSM <after/> across page boundaries, no gap or duplicate (§4.3.2)", async () => {
      await fill(store, 25);
      const seen: string[] = [];
      const completes: boolean[] = [];
      let after: string | undefined;
      for (;;) {
        const p = page(await store.query(ALICE, { max: 10, ...(after && { after }) }));
        seen.push(...p.items.map((i) => bodyOf(i.stanza)));
        completes.push(p.complete);
        assert.equal(p.first, p.items[0]?.id);
        assert.equal(p.last, p.items[p.items.length - 1]?.id);
        if (p.complete) break;
        after = p.last;
      }
      assert.deepEqual(seen, range(0, 25));
      assert.deepEqual(completes, [false, false, true]);
    });

    it("pages backward from the last page with RSM <before/>, each page oldest first (§4.3.3)", async () => {
      await fill(store, 25);
      const pages: string[][] = [];
      const completes: boolean[] = [];
      let before = "";
      for (;;) {
        const p = page(await store.query(ALICE, { max: 10, before }));
        pages.push(p.items.map((i) => bodyOf(i.stanza)));
        completes.push(p.complete);
        if (p.complete) break;
        before = p.first!;
      }
      assert.deepEqual(pages, [range(15, 25), range(5, 15), range(0, 5)]);
      assert.deepEqual(completes, [false, false, true]);
    });

    it("says complete when a page ends exactly at either end of the result set", async () => {
      const ids = await fill(store, 20);
      const second = page(await store.query(ALICE, { max: 10, after: ids[9] }));
      assert.deepEqual([second.items.length, second.complete], [10, true]);
      const first = page(await store.query(ALICE, { max: 10, before: ids[10] }));
      assert.deepEqual([first.items.length, first.complete], [10, true]);
      const all = page(await store.query(ALICE, { max: 20 }));
      assert.deepEqual([all.items.length, all.complete], [20, true]);
      const short = page(await store.query(ALICE, { max: 19 }));
      assert.deepEqual([short.items.length, short.complete], [19, false]);
      const past = page(await store.query(ALICE, { max: 10, after: ids[19] }));
      assert.deepEqual(past, { items: [], complete: true });
      const empty = page(await store.query(ROOM, { max: 10, before: "" }));
      assert.deepEqual(empty, { items: [], complete: true });
    });

    it("matches 'with' as a bare JID with any resource or none, a full JID only itself (§4.1.1)", async () => {
      await store.append([
        entry("phone", 1, { with: "bob@example.org/phone" }),
        entry("laptop", 2, { with: "bob@example.org/laptop", direction: "out" }),
        entry("bare", 3, { with: "bob@example.org" }),
        entry("carol", 4, { with: "carol@example.org/phone" }),
        entry("self", 5, { with: ALICE }),
      ]);
      const w = async (jid: string) => bodies(await store.query(ALICE, { max: 10, with: jid }));
      assert.deepEqual(await w("bob@example.org"), ["phone", "laptop", "bare"]);
      assert.deepEqual(await w("bob@example.org/laptop"), ["laptop"]);
      assert.deepEqual(await w("bob@example.org/tablet"), []);
      assert.deepEqual(await w("carol@example.org"), ["carol"]);
      assert.deepEqual(await w(ALICE), ["self"]);
      assert.deepEqual(await w("example.org"), []);
    });

    it("bounds by time inclusively at both ends (§4.1.2), also when paging", async () => {
      await store.append(["a", "b", "c", "d", "e"].map((b, i) => entry(b, (i + 1) * 1000)));
      const t = async (q: Partial<ArchiveQuery>) =>
        bodies(await store.query(ALICE, { max: 10, ...q }));
      assert.deepEqual(await t({ start: 2000, end: 4000 }), ["b", "c", "d"]);
      assert.deepEqual(await t({ start: 2001 }), ["c", "d", "e"]);
      assert.deepEqual(await t({ end: 1999 }), ["a"]);
      assert.deepEqual(await t({ start: 3000, end: 3000 }), ["c"]);
      assert.deepEqual(await t({ start: 4001, end: 3999 }), []);
      const p1 = page(await store.query(ALICE, { max: 2, start: 2000, end: 4000 }));
      assert.equal(p1.complete, false);
      const p2 = await store.query(ALICE, { max: 2, start: 2000, end: 4000, after: p1.last });
      assert.deepEqual([bodies(p2), page(p2).complete], [["d"], true]);
      const last = await store.query(ALICE, { max: 2, start: 2000, end: 4000, before: "" });
      assert.deepEqual(bodies(last), ["c", "d"]);
    });

    it("fetches entries by UID (§4.1.3 'ids'), oldest first, within the other filters", async () => {
      const ids = await fill(store, 5);
      const [roomId] = await fill(store, 1, ROOM);
      assert.deepEqual(bodies(await store.query(ALICE, { max: 10, ids: [ids[3]!, ids[1]!] })), [
        "1",
        "3",
      ]);
      assert.deepEqual(
        bodies(await store.query(ALICE, { max: 10, ids: [ids[3]!], end: 1002 })),
        [],
      );
      assert.deepEqual(bodies(await store.query(ALICE, { max: 10, ids: [] })), []);
      assert.deepEqual(await store.query(ALICE, { max: 10, ids: [ids[0]!, "nope"] }), {
        unknownId: "nope",
      });
      assert.deepEqual(await store.query(ALICE, { max: 10, ids: [roomId!] }), {
        unknownId: roomId,
      });
    });

    it("answers an unknown after-id, before-id, RSM after or before with that UID (item-not-found)", async () => {
      await fill(store, 3);
      const [roomId] = await fill(store, 1, ROOM);
      for (const field of ["afterId", "beforeId", "after", "before"] as const) {
        assert.deepEqual(await store.query(ALICE, { max: 10, [field]: "nope" }), {
          unknownId: "nope",
        });
        assert.deepEqual(await store.query(ALICE, { max: 10, [field]: roomId }), {
          unknownId: roomId,
        });
      }
    });

    it("takes after-id and before-id as exclusive bounds, paging forward within them (§4.1.3, §9)", async () => {
      const ids = await fill(store, 10);
      const between = { afterId: ids[2], beforeId: ids[8] };
      assert.deepEqual(bodies(await store.query(ALICE, { max: 10, ...between })), range(3, 8));
      // before-id does not page backward: the first two of the range, not the last two.
      const p1 = page(await store.query(ALICE, { max: 2, ...between }));
      assert.deepEqual([bodies(p1), p1.complete], [["3", "4"], false]);
      // RSM paging inside the range; the later of after-id and <after/> wins.
      const p2 = await store.query(ALICE, { max: 2, ...between, after: p1.last });
      assert.deepEqual(bodies(p2), ["5", "6"]);
      const p3 = page(await store.query(ALICE, { max: 2, ...between, after: ids[6] }));
      assert.deepEqual([bodies(p3), p3.complete], [["7"], true]);
      const early = await store.query(ALICE, { max: 10, ...between, after: ids[0] });
      assert.deepEqual(bodies(early), range(3, 8));
      // <before/> inside the range counts back from the range's end.
      const back = page(await store.query(ALICE, { max: 2, ...between, before: "" }));
      assert.deepEqual([bodies(back), back.complete], [["6", "7"], false]);
      // Both RSM cursors: the page between them, counted from <before/>.
      const both = await store.query(ALICE, { max: 10, after: ids[0], before: ids[4] });
      assert.deepEqual(bodies(both), ["1", "2", "3"]);
    });

    it("counts the result set and the first item's index when cheap (RSM <count/>, §4.3.2)", async () => {
      const ids = await fill(store, 25);
      const p2 = page(await store.query(ALICE, { max: 10, after: ids[9], countLimit: 100 }));
      assert.deepEqual([p2.count, p2.firstIndex], [25, 10]);
      // A page is an RSM result as it is (XEP-0059 §2.1).
      const rsm = buildRsm(p2);
      assert.equal(rsm.getChild("first")?.attrs.index, "10");
      assert.equal(rsm.getChildText("first"), ids[10]);
      assert.equal(rsm.getChildText("last"), ids[19]);
      assert.equal(rsm.getChildText("count"), "25");
      const last = page(await store.query(ALICE, { max: 10, before: "", countLimit: 100 }));
      assert.deepEqual([last.count, last.firstIndex], [25, 15]);
      // after-id belongs to the set; RSM <after/> only pages in it.
      const set = page(
        await store.query(ALICE, { max: 5, afterId: ids[4], after: ids[9], countLimit: 100 }),
      );
      assert.deepEqual([set.count, set.firstIndex, bodies(set)[0]], [20, 5, "10"]);
      const filtered = page(await store.query(ALICE, { max: 5, start: 1020, countLimit: 25 }));
      assert.deepEqual([filtered.count, filtered.firstIndex], [5, 0]);
      const exact = page(await store.query(ALICE, { max: 5, countLimit: 25 }));
      assert.equal(exact.count, 25);
      const tooMany = page(await store.query(ALICE, { max: 5, countLimit: 24 }));
      assert.deepEqual([tooMany.count, tooMany.firstIndex], [undefined, undefined]);
      const none = page(await store.query(ALICE, { max: 5 }));
      assert.equal(none.count, undefined);
      // <max>0</max>: the count alone (XEP-0059 §2.7).
      const onlyCount = page(await store.query(ALICE, { max: 0, countLimit: 100 }));
      assert.deepEqual(onlyCount, { items: [], complete: false, count: 25 });
      const emptyCount = page(await store.query(ROOM, { max: 0, countLimit: 100 }));
      assert.deepEqual(emptyCount, { items: [], complete: true, count: 0 });
    });

    it(`returns at most ${ARCHIVE_PAGE_CAP} items whatever max asks`, async () => {
      await fill(store, ARCHIVE_PAGE_CAP + 1);
      const p = page(await store.query(ALICE, { max: 1_000_000 }));
      assert.equal(p.items.length, ARCHIVE_PAGE_CAP);
      assert.equal(p.complete, false);
      const rest = page(await store.query(ALICE, { max: 1_000_000, after: p.last }));
      assert.deepEqual([bodies(rest), rest.complete], [[String(ARCHIVE_PAGE_CAP)], true]);
    });

    it("keeps owners' archives apart (§3.3)", async () => {
      await fill(store, 3);
      await fill(store, 2, ROOM);
      assert.deepEqual(bodies(await store.query(ROOM, { max: 10 })), ["0", "1"]);
      assert.equal(await store.count(ALICE), 3);
      assert.equal(await store.count(ROOM), 2);
      assert.equal(await store.count("nobody@localhost"), 0);
    });

    it("stores a batch whole or not at all", async () => {
      await fill(store, 2);
      const bad = entry("bad", 3000, { direction: "sideways" as "in" });
      await assert.rejects(
        store.append([entry("x", 2000), entry("y", 2000, { owner: ROOM }), bad]),
      );
      await assert.rejects(store.append([entry("z", 2000), entry("w", 2000, { owner: "a@b/c" })]));
      assert.deepEqual(bodies(await store.query(ALICE, { max: 10 })), ["0", "1"]);
      assert.equal(await store.count(ROOM), 0);
    });

    it("expires one domain's entries older than a cutoff, oldest first, in steps (§3.2)", async () => {
      const ids = await fill(store, 10);
      await fill(store, 10, ROOM);
      await store.append([entry("elsewhere", 1000, { owner: "dave@example.org" })]);
      assert.equal(await store.deleteOlderThan("localhost", 1005, 3), 3);
      assert.deepEqual(bodies(await store.query(ALICE, { max: 10 })), range(3, 10));
      assert.equal(await store.deleteOlderThan("localhost", 1005), 2);
      assert.equal(await store.deleteOlderThan("localhost", 1005), 0);
      assert.deepEqual(bodies(await store.query(ALICE, { max: 10 })), range(5, 10));
      assert.equal(await store.count(ROOM), 10, "the MUC service is another domain");
      assert.equal(await store.count("dave@example.org"), 1);
      assert.equal(await store.deleteOlderThan("conference.localhost", 1_000_000), 10);
      assert.deepEqual(await store.query(ALICE, { max: 10, after: ids[0] }), {
        unknownId: ids[0],
      });
    });

    it("removes one owner's whole archive (account removed, room destroyed)", async () => {
      await fill(store, 3);
      const [roomId] = await fill(store, 2, ROOM);
      await store.removeArchive(ALICE);
      await store.removeArchive("nobody@localhost");
      assert.equal(await store.count(ALICE), 0);
      assert.deepEqual(page(await store.query(ALICE, { max: 10 })).items, []);
      assert.equal(await store.count(ROOM), 2);
      assert.ok(await store.get(ROOM, roomId!));
      // A new archive for the same owner starts empty and works as before.
      await fill(store, 1);
      assert.deepEqual(bodies(await store.query(ALICE, { max: 10 })), ["0"]);
    });

    it("finds the newest message a peer's retraction names, by origin-id or message id, in one direction (XEP-0424)", async () => {
      const [a, b, c, d, e] = await store.append([
        entry("a", 1000, { originId: "o-1", messageId: "m-1" }),
        entry("b", 1001, { originId: "o-2", messageId: "dup" }),
        entry("c", 1002, { messageId: "dup" }),
        entry("d", 1003, { direction: "out", originId: "o-1" }),
        entry("e", 1004, { with: "eve@example.org", originId: "o-1" }),
      ]);
      await store.append([entry("room", 1005, { owner: ROOM, originId: "o-1" })]);
      const find = (peer: string, dir: "in" | "out", id: string) =>
        store.findByClientId(ALICE, peer, dir, id).then((r) => r?.id);
      assert.equal(await find("bob@example.org", "in", "o-1"), a!.id);
      assert.equal(await find("bob@example.org", "in", "m-1"), a!.id);
      // The same id twice (clients without XEP-0359): the newest.
      assert.equal(await find("bob@example.org", "in", "dup"), c!.id);
      assert.equal(await find("bob@example.org", "out", "o-1"), d!.id);
      assert.equal(await find("eve@example.org", "in", "o-1"), e!.id);
      assert.equal(await find("mallory@example.org", "in", "o-1"), undefined, "another peer's");
      assert.equal(await find("bob@example.org", "in", "o-9"), undefined);
      assert.equal(await find("bob@example.org", "in", b!.id), undefined, "a UID is no client id");
      const row = await store.get(ALICE, a!.id);
      assert.equal(row?.messageId, "m-1");
    });

    it("replaces an entry's stanza in place, as a tombstone does (XEP-0424 §4)", async () => {
      const ids = await fill(store, 3);
      const tomb =
        "<message type='chat' id='x'><retracted xmlns='urn:xmpp:message-retract:1' id='r'/></message>";
      assert.equal(await store.replaceStanza(ALICE, ids[1]!, tomb), true);
      const items = page(await store.query(ALICE, { max: 10 })).items;
      assert.deepEqual(
        items.map((i) => [i.id, i.ts, i.stanza]),
        [
          [ids[0], 1000, entry("0", 0).stanza],
          [ids[1], 1001, tomb],
          [ids[2], 1002, entry("2", 0).stanza],
        ],
      );
      assert.equal(await store.replaceStanza(ALICE, "no-such-id", tomb), false);
      assert.equal(await store.replaceStanza(ROOM, ids[0]!, tomb), false, "another owner's UID");
      assert.equal((await store.get(ALICE, ids[0]!))?.stanza, entry("0", 0).stanza);
    });
  });
}
