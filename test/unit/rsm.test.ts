import { strict as assert } from "node:assert";
import { xml, type Element } from "@xmpp/xml";
import { buildRsm, NS_RSM, paginate, parseRsm, type RsmRequest } from "../../src/xmpp/rsm.js";
import { StanzaError } from "../../src/xmpp/errors.js";

function set(...children: Element[]): Element {
  return xml("set", { xmlns: NS_RSM }, ...children);
}

function fails(condition: string, fn: () => unknown): void {
  assert.throws(fn, (err: unknown) => err instanceof StanzaError && err.condition === condition);
}

const ITEMS = ["a", "b", "c", "d", "e"];
const page = (req: RsmRequest | undefined): ReturnType<typeof paginate<string>> =>
  paginate(ITEMS, req, (s) => s);

describe("result set management (XEP-0059)", () => {
  describe("parseRsm", () => {
    it("reads max, after, before and index (§2.1, §2.2, §2.3, §2.6)", () => {
      assert.deepEqual(parseRsm(set(xml("max", {}, "10"), xml("after", {}, "x"))), {
        max: 10,
        after: "x",
      });
      assert.deepEqual(parseRsm(set(xml("max", {}, "10"), xml("before", {}, "y"))), {
        max: 10,
        before: "y",
      });
      assert.deepEqual(parseRsm(set(xml("max", {}, "3"), xml("index", {}, "6"))), {
        max: 3,
        index: 6,
      });
    });

    it("reads an empty <before/> as the last page (§2.5)", () => {
      assert.deepEqual(parseRsm(set(xml("max", {}, "2"), xml("before"))), { max: 2, before: "" });
    });

    it("returns undefined when the request has no <set/>", () => {
      assert.equal(parseRsm(undefined), undefined);
    });

    it("caps max at the server's limit, also when the client gave none (§2.1)", () => {
      assert.equal(parseRsm(set(xml("max", {}, "1000")), { maxCap: 50 })!.max, 50);
      assert.equal(parseRsm(set(xml("max", {}, "10")), { maxCap: 50 })!.max, 10);
      assert.equal(parseRsm(set(), { maxCap: 50 })!.max, 50);
      assert.equal(parseRsm(set())!.max, undefined);
    });

    it("accepts max 0, the count-only request (§2.7)", () => {
      assert.equal(parseRsm(set(xml("max", {}, "0")))!.max, 0);
    });

    it("refuses a malformed max or index with bad-request (§8 schema)", () => {
      for (const bad of ["-1", "ten", "", "1.5", "1e3", "99999999999999999999"]) {
        fails("bad-request", () => parseRsm(set(xml("max", {}, bad))));
      }
      fails("bad-request", () => parseRsm(set(xml("index", {}, "-2"))));
    });

    it("refuses an empty <after/> and a <set/> in another namespace with bad-request", () => {
      fails("bad-request", () => parseRsm(set(xml("after"))));
      fails("bad-request", () => parseRsm(xml("set", { xmlns: "urn:other" })));
    });
  });

  describe("buildRsm", () => {
    it("writes first with its index, last and count (§2.1, §2.6)", () => {
      const s = buildRsm({ first: "a", firstIndex: 0, last: "c", count: 5 });
      assert.equal(s.attrs.xmlns, NS_RSM);
      assert.equal(s.getChildText("first"), "a");
      assert.equal(s.getChild("first")!.attrs.index, "0");
      assert.equal(s.getChildText("last"), "c");
      assert.equal(s.getChildText("count"), "5");
    });

    it("writes only the count for an empty page (§2.7)", () => {
      const s = buildRsm({ count: 7 });
      assert.deepEqual(
        s.getChildElements().map((c) => c.name),
        ["count"],
      );
    });
  });

  describe("paginate", () => {
    it("limits the page to max (§2.1)", () => {
      const r = page({ max: 2 });
      assert.deepEqual(r.page, ["a", "b"]);
      assert.deepEqual(r.result, { first: "a", firstIndex: 0, last: "b", count: 5 });
    });

    it("pages forwards after a UID (§2.2)", () => {
      const r = page({ max: 2, after: "b" });
      assert.deepEqual(r.page, ["c", "d"]);
      assert.equal(r.result.firstIndex, 2);
      assert.deepEqual(page({ max: 2, after: "d" }).page, ["e"]);
    });

    it("pages backwards before a UID (§2.3)", () => {
      const r = page({ max: 2, before: "d" });
      assert.deepEqual(r.page, ["b", "c"]);
      assert.equal(r.result.firstIndex, 1);
      assert.deepEqual(page({ max: 2, before: "b" }).page, ["a"]);
    });

    it("answers an unknown after/before UID with item-not-found (§2.4)", () => {
      fails("item-not-found", () => page({ max: 2, after: "zz" }));
      fails("item-not-found", () => page({ max: 2, before: "zz" }));
    });

    it("returns the last page for an empty <before/> (§2.5)", () => {
      assert.deepEqual(page({ max: 2, before: "" }).page, ["d", "e"]);
    });

    it("starts at an index (§2.6); past the end is an empty page", () => {
      assert.deepEqual(page({ max: 2, index: 3 }).page, ["d", "e"]);
      assert.deepEqual(page({ max: 2, index: 9 }), { page: [], result: { count: 5 } });
    });

    it("gives the count alone for max 0 (§2.7)", () => {
      assert.deepEqual(page({ max: 0 }), { page: [], result: { count: 5 } });
    });

    it("returns everything when there is no limit", () => {
      assert.deepEqual(page(undefined).page, ITEMS);
    });
  });
});
