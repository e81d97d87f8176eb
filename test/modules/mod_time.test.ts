import { strict as assert } from "node:assert";
import type { Element } from "@xmpp/xml";
import {
  errorCondition,
  startTestServer,
  xml,
  type TestClient,
  type TestServer,
} from "../../src/testkit/index.js";
import { timezoneOffset, utcDateTime } from "../../modules/mod_time.js";

const NS = "urn:xmpp:time";

describe("mod_time (XEP-0202)", () => {
  describe("formats", () => {
    it("writes the offset as a XEP-0082 TZD, ±hh:mm, with the right sign", () => {
      const at = (minutesWestOfUtc: number): Date =>
        Object.assign(new Date(0), { getTimezoneOffset: () => minutesWestOfUtc });
      assert.equal(timezoneOffset(at(0)), "+00:00");
      assert.equal(timezoneOffset(at(360)), "-06:00");
      assert.equal(timezoneOffset(at(-330)), "+05:30");
      assert.equal(timezoneOffset(at(-765)), "+12:45");
    });

    it("writes UTC as a XEP-0082 dateTime ending in Z", () => {
      assert.equal(
        utcDateTime(new Date(Date.UTC(2006, 11, 19, 17, 58, 35, 123))),
        "2006-12-19T17:58:35Z",
      );
    });
  });

  describe("on a running server", () => {
    let t: TestServer;
    let alice: TestClient;
    let n = 0;

    async function ask(type: "get" | "set", to: string): Promise<Element> {
      const id = `t${++n}`;
      await alice.send(xml("iq", { type, id, to }, xml("time", { xmlns: NS })));
      return alice.next((el) => el.name === "iq" && el.attrs.id === id);
    }

    before(async () => {
      t = await startTestServer({ modules: { mod_time: {}, mod_disco: {} } });
      alice = await t.client("alice");
    });
    after(async () => t.stop());

    it("answers with the server's offset in <tzo/> and its UTC time in <utc/> (XEP-0202 §2)", async () => {
      const res = await ask("get", "localhost");
      assert.equal(res.attrs.type, "result");
      const time = res.getChild("time", NS)!;
      assert.equal(time.getChildText("tzo"), timezoneOffset(new Date()));
      const utc = time.getChildText("utc")!;
      assert.match(utc, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
      assert.ok(!Number.isNaN(Date.parse(utc)));
    });

    it("advertises urn:xmpp:time in the host's disco#info (XEP-0202 §4)", async () => {
      const id = `t${++n}`;
      await alice.send(
        xml(
          "iq",
          { type: "get", id, to: "localhost" },
          xml("query", { xmlns: "http://jabber.org/protocol/disco#info" }),
        ),
      );
      const res = await alice.next((el) => el.attrs.id === id);
      const features = res
        .getChild("query", "http://jabber.org/protocol/disco#info")!
        .getChildren("feature")
        .map((f) => f.attrs.var);
      assert.ok(features.includes(NS));
    });

    it("returns service-unavailable for an IQ set, which the protocol does not define (XEP-0202 §3)", async () => {
      const res = await ask("set", "localhost");
      assert.equal(res.attrs.type, "error");
      assert.equal(errorCondition(res), "service-unavailable");
    });
  });
});
