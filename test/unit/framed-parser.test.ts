import { strict as assert } from "node:assert";
import type { Element } from "@xmpp/xml";
import { FramedStreamParser, StreamParser } from "../../src/xml/stream-parser.js";
import type { StreamParserHandlers, StreamParserLimits } from "../../src/xml/types.js";
import { StreamError } from "../../src/xmpp/errors.js";
import { NS } from "../../src/xmpp/ns.js";
import { recording, type Recording } from "../helpers/parser-recorder.js";

// RFC 7395 (XMPP over WebSocket): one complete element per frame, parsed with the same
// restricted-XML rules (RFC 6120 §11) and limits as a TCP stream.

const LIMITS: StreamParserLimits = { maxStanzaSize: 1024, maxDepth: 64, maxAttributes: 64 };
const OPEN = `<open xmlns='${NS.framing}' to='example.com' version='1.0' xml:lang='en'/>`;
const CLOSE = `<close xmlns='${NS.framing}'/>`;

interface Recorder extends Recording {
  p: FramedStreamParser;
}

function recorder(limits = LIMITS, hooks: Partial<StreamParserHandlers> = {}): Recorder {
  const r = recording(hooks);
  return { ...r, p: new FramedStreamParser(r.handlers, limits) };
}

/** Feeds each frame as a Buffer (the WebSocket library's usual form). */
function frames(list: (string | Buffer)[], limits = LIMITS): Recorder {
  const r = recorder(limits);
  for (const f of list) r.p.write(typeof f === "string" ? Buffer.from(f) : f);
  return r;
}

/** The frames (after a good <open/>) must give exactly one error, `cond`, and nothing else. */
function expectError(frame: string | Buffer, cond: string, limits = LIMITS): void {
  for (const asString of [false, true]) {
    if (asString && typeof frame !== "string") continue;
    const r = recorder(limits);
    r.p.write(Buffer.from(OPEN));
    if (asString) r.p.write(frame);
    else r.p.write(typeof frame === "string" ? Buffer.from(frame) : frame);
    assert.deepEqual(
      r.events,
      ["start", "error:" + cond],
      `${asString ? "string" : "Buffer"} frame: ${String(frame)}`,
    );
    assert.ok(r.errors[0] instanceof StreamError);
  }
}

/** The first frame must give exactly one error, `cond`. */
function expectOpenError(frame: string, cond: string, limits = LIMITS): void {
  const r = frames([frame], limits);
  assert.deepEqual(r.events, ["error:" + cond], frame);
}

describe("FramedStreamParser: XMPP over WebSocket (RFC 7395)", () => {
  describe("opening and closing (RFC 7395 §3.4, §3.6)", () => {
    it("§3.4: <open/> is the stream start, with its attributes as sent", () => {
      const r = frames([OPEN]);
      assert.deepEqual(r.events, ["start"]);
      assert.equal(r.starts[0].name, "open");
      assert.equal(r.starts[0].ns, NS.framing);
      assert.deepEqual(r.starts[0].attrs, {
        xmlns: NS.framing,
        to: "example.com",
        version: "1.0",
        "xml:lang": "en",
      });
    });

    it("§3.4: the version is handed over as sent (the session answers unsupported-version)", () => {
      const r = frames([`<open xmlns='${NS.framing}' to='example.com' version='0.9'/>`]);
      assert.deepEqual(r.events, ["start"]);
      assert.equal(r.starts[0].attrs.version, "0.9");
    });

    it("§3.4: <open></open> and a prefixed <f:open/> are the same stream start", () => {
      const a = frames([`<open xmlns='${NS.framing}' to='example.com' version='1.0'></open>`]);
      assert.deepEqual(a.events, ["start"]);
      const b = frames([`<f:open xmlns:f='${NS.framing}' to='example.com' version='1.0'/>`]);
      assert.deepEqual(b.events, ["start"]);
      assert.equal(b.starts[0].name, "f:open");
      assert.equal(b.starts[0].ns, NS.framing);
    });

    it("§3.6: <close/> is the stream end", () => {
      const r = frames([OPEN, `<message xmlns='jabber:client'/>`, CLOSE]);
      assert.deepEqual(r.events, ["start", 'stanza:<message xmlns="jabber:client"/>', "end"]);
    });

    it("§3.6 not-well-formed: a frame after <close/>; a blank one is ignored", () => {
      const r = frames([OPEN, CLOSE, " ", "<message/>"]);
      assert.deepEqual(r.events, ["start", "end", "error:not-well-formed"]);
    });

    it("§3.5: after reset() (stream restart) the client opens anew with <open/>", () => {
      const r = recorder(LIMITS, {
        stanza(el) {
          if (el.name === "auth") r.p.reset();
        },
      });
      for (const f of [OPEN, `<auth xmlns='${NS.sasl}' mechanism='PLAIN'>AGEAYg==</auth>`, OPEN])
        r.p.write(Buffer.from(f));
      r.p.write(Buffer.from(`<iq xmlns='jabber:client' type='set' id='b'/>`));
      assert.deepEqual(r.errors, []);
      assert.deepEqual(
        r.events.map((e) => e.split(" ")[0]),
        ["start", "stanza:<auth", "start", "stanza:<iq"],
      );
    });

    it("§3.5: after reset() a stanza before the new <open/> is invalid-namespace", () => {
      const r = frames([OPEN]);
      r.p.reset();
      r.p.write(Buffer.from(`<message xmlns='jabber:client'/>`));
      assert.deepEqual(r.events, ["start", "error:invalid-namespace"]);
    });

    it("§3.5 unsupported-stanza-type: <open/> again without a restart", () => {
      expectError(OPEN, "unsupported-stanza-type");
    });
  });

  describe("stream header namespace (RFC 7395 §3.3.2)", () => {
    it("§3.3.2 invalid-namespace: <open/> without the framing namespace", () => {
      expectOpenError(`<open to='example.com' version='1.0'/>`, "invalid-namespace");
      expectOpenError(`<open xmlns='jabber:client' to='example.com'/>`, "invalid-namespace");
    });

    it("§3.3.2 invalid-namespace: a <stream:stream> header in framed mode", () => {
      const header =
        `<stream:stream xmlns='jabber:client' xmlns:stream='${NS.stream}' ` +
        `to='example.com' version='1.0'`;
      expectOpenError(header + ">", "invalid-namespace");
      expectOpenError(header + "/>", "invalid-namespace");
      expectError(header + "/>", "invalid-namespace");
    });

    it("§3.4 invalid-namespace: a stanza or <close/> before <open/>", () => {
      expectOpenError(`<message xmlns='jabber:client'/>`, "invalid-namespace");
      expectOpenError(CLOSE, "invalid-namespace");
    });

    it("§3.3.2 invalid-namespace: <close/> without the framing namespace", () => {
      expectError(`<close/>`, "invalid-namespace");
      expectError(`<close xmlns='jabber:client'/>`, "invalid-namespace");
    });
  });

  describe("frames (RFC 7395 §3.3.3)", () => {
    it("§3.3.3: a stanza that declares jabber:client keeps it", () => {
      const r = frames([OPEN, `<message xmlns='jabber:client' to='a@b'><body>hi</body></message>`]);
      assert.deepEqual(r.errors, []);
      assert.equal(r.stanzas[0].getNS(), NS.client);
      assert.equal(r.stanzas[0].parent, null);
      assert.equal(r.stanzas[0].getChildText("body"), "hi");
    });

    it("§3.3.3: a stanza without xmlns resolves to jabber:client, as over TCP", () => {
      const r = frames([OPEN, `<presence><show>away</show></presence>`]);
      assert.deepEqual(r.errors, []);
      assert.equal(r.stanzas[0].getNS(), NS.client);
      assert.equal(r.stanzas[0].getChild("show")?.getNS(), NS.client);
    });

    it("§3.3.3: stream-namespace elements declare their own prefix, or none", () => {
      const r = frames([
        OPEN,
        `<stream:error xmlns:stream='${NS.stream}'><conflict xmlns='${NS.streams}'/></stream:error>`,
        `<error xmlns='${NS.stream}'><conflict xmlns='${NS.streams}'/></error>`,
      ]);
      assert.deepEqual(r.errors, []);
      assert.deepEqual(
        r.stanzas.map((el) => [el.getName(), el.getNS()]),
        [
          ["error", NS.stream],
          ["error", NS.stream],
        ],
      );
    });

    it("§3.3.3 not-well-formed: the stream: prefix is not bound by the framing", () => {
      expectError(
        `<stream:error><conflict xmlns='${NS.streams}'/></stream:error>`,
        "not-well-formed",
      );
    });

    it("§3.3.3: the Elements are the ones the TCP parser gives for the same stanzas", () => {
      const stanzas = [
        `<message xmlns='jabber:client' to='romeo@example.net' type='chat' id='a1'>` +
          `<body>h&#xE9;llo &amp; w\u00F6rld</body><active xmlns='http://jabber.org/protocol/chatstates'/></message>`,
        `<iq type='get' id='r1'><query xmlns='jabber:iq:roster'/></iq>`,
        `<presence><status xml:lang='fr'>\u00E7a</status><c xmlns='http://jabber.org/protocol/caps' hash='sha-1' node='n' ver='v'/></presence>`,
        `<r xmlns='urn:xmpp:sm:3'/>`,
        `<message><body><![CDATA[<not a tag>]]></body><x:y xmlns:x='urn:x' x:a='1'/></message>`,
      ];
      const framed = frames([OPEN, ...stanzas]);
      const tcp: Element[] = [];
      const p = new StreamParser(
        {
          streamStart() {},
          stanza: (el) => tcp.push(el),
          streamEnd() {},
          error: (e) => assert.fail(e.message),
        },
        LIMITS,
      );
      p.write(
        Buffer.from(
          `<stream:stream xmlns='jabber:client' xmlns:stream='${NS.stream}' to='example.com' version='1.0'>` +
            stanzas.join(""),
        ),
      );
      assert.deepEqual(framed.errors, []);
      assert.deepEqual(
        framed.stanzas.map((el) => [el.toString(), el.getNS()]),
        tcp.map((el) => [el.toString(), el.getNS()]),
      );
    });

    it("§3.3.3: a Buffer and a string frame give the same result; UTF-8 is decoded whole", () => {
      const frame = `<message xmlns='jabber:client'><body>\u65E5\u672C \u{1F600}</body></message>`;
      const a = frames([OPEN, frame]);
      const b = recorder();
      b.p.write(OPEN);
      b.p.write(frame);
      assert.deepEqual(a.errors, []);
      assert.deepEqual(b.events, a.events);
      assert.equal(a.stanzas[0].getChildText("body"), "\u65E5\u672C \u{1F600}");
    });

    it("§3.3.3: blanks around the element and an XML declaration are allowed", () => {
      const r = frames([
        `<?xml version='1.0' encoding='UTF-8'?>\n${OPEN}\n`,
        `  <message xmlns='jabber:client'/>\r\n`,
        `<?xml version='1.0'?><presence/>`,
      ]);
      assert.deepEqual(r.errors, []);
      assert.deepEqual(r.events.length, 3);
    });

    it("RFC 6120 §4.6.1: a blank frame (a whitespace keepalive) is ignored", () => {
      const r = frames([OPEN, " ", "\n", "", `<presence/>`]);
      assert.deepEqual(r.errors, []);
      assert.equal(r.stanzas.length, 1);
    });

    it("§3.3.3 not-well-formed: more than one element in a frame; nothing of it is delivered", () => {
      expectError(`<message xmlns='jabber:client'/><presence/>`, "not-well-formed");
      expectError(`<presence/>${CLOSE}`, "not-well-formed");
    });

    it("§3.3.3 not-well-formed: a partial element", () => {
      expectError(`<message xmlns='jabber:client'><body>hi</body>`, "not-well-formed");
      expectError(`<message xmlns='jabber:client' to='a@b'`, "not-well-formed");
      expectError(`<message><body>hi</body></mess`, "not-well-formed");
      expectError(`<`, "not-well-formed");
      expectError(`<presence/><`, "not-well-formed");
      expectError(`<presence/><!-`, "not-well-formed");
      expectError(`<?xml version='1.0'?>`, "not-well-formed");
      expectOpenError(`<open xmlns='${NS.framing}' to='example.com'>`, "not-well-formed");
    });

    it("§3.3.3 not-well-formed: text or an end tag outside the element", () => {
      expectError(`hello`, "not-well-formed");
      expectError(`<presence/>hello`, "not-well-formed");
      expectError(`</message>`, "not-well-formed");
      expectError(`<presence/></presence>`, "not-well-formed");
      expectOpenError(
        `<open xmlns='${NS.framing}' to='example.com'><x/></open>`,
        "not-well-formed",
      );
    });
  });

  describe("restricted XML and encoding (RFC 6120 §11)", () => {
    it("§11.1 restricted-xml: comments, inside or after the element", () => {
      expectError(`<message><!-- x --></message>`, "restricted-xml");
      expectError(`<!-- x --><message/>`, "restricted-xml");
      expectError(`<message/><!-- x -->`, "restricted-xml");
      expectOpenError(`<!-- x -->${OPEN}`, "restricted-xml");
    });

    it("§11.1 restricted-xml: processing instructions and DTDs", () => {
      expectError(`<message><?pi x?></message>`, "restricted-xml");
      expectError(`<?pi x?><message/>`, "restricted-xml");
      expectOpenError(`<!DOCTYPE open>${OPEN}`, "restricted-xml");
    });

    it("§11.1 restricted-xml: entity references beyond the predefined five", () => {
      expectError(`<message><body>&foo;</body></message>`, "restricted-xml");
      expectError(`<message id='&foo;'/>`, "restricted-xml");
    });

    it("§11.6 not-well-formed: invalid UTF-8, truncated UTF-8, lone surrogates", () => {
      expectError(
        Buffer.from([...Buffer.from("<message><body>"), 0xff, ...Buffer.from("</body></message>")]),
        "not-well-formed",
      );
      expectError(Buffer.from([...Buffer.from("<message/>"), 0xe6, 0x97]), "not-well-formed");
      const r = recorder();
      r.p.write(OPEN);
      r.p.write("<message><body>\uD800</body></message>");
      assert.deepEqual(r.events, ["start", "error:not-well-formed"]);
    });

    it("§11.3 not-well-formed: characters XML forbids, mismatched tags", () => {
      expectError("<message><body>\u0001</body></message>", "not-well-formed");
      expectError("<message><body></message></body>", "not-well-formed");
    });

    it("§11.6 unsupported-encoding: a declaration naming another encoding", () => {
      expectOpenError(`<?xml version='1.0' encoding='ISO-8859-1'?>${OPEN}`, "unsupported-encoding");
    });
  });

  describe("resource limits (RFC 6120 §13.12, §4.9.3.18 policy-violation)", () => {
    const small: StreamParserLimits = { maxStanzaSize: 64, maxDepth: 3, maxAttributes: 4 };

    it("§13.12: a frame of exactly maxStanzaSize bytes is accepted, one byte more is not", () => {
      const fit = (n: number): string => `<message><body>${"a".repeat(n - 32)}</body></message>`;
      assert.equal(Buffer.byteLength(fit(64)), 64);
      const r = frames([OPEN, fit(64)], small);
      assert.deepEqual(r.errors, []);
      expectError(fit(65), "policy-violation", small);
    });

    it("§4.9.3.18: the limit counts bytes, not characters", () => {
      const body = "\u00E9".repeat(20); // 40 bytes in 20 characters
      expectError(`<message><body>${body}</body></message>`, "policy-violation", small);
    });

    it("§4.9.3.18: the <open/> frame gets the header budget (maxHeaderSize)", () => {
      const big = `<open xmlns='${NS.framing}' to='example.com' x='${"a".repeat(200)}'/>`;
      expectOpenError(big, "policy-violation", { ...LIMITS, maxHeaderSize: 128 });
    });

    it("§4.9.3.18: depth bomb and attribute bomb", () => {
      expectError(`<a><b><c><d/></c></b></a>`, "policy-violation", small);
      expectError(`<a v='0' w='1' x='2' y='3' z='4'/>`, "policy-violation", small);
    });
  });

  describe("lifecycle", () => {
    it("nothing is delivered after an error, and error is called once", () => {
      const r = frames([OPEN, `<message/><presence/>`, `<message/>`, CLOSE]);
      r.p.reset();
      r.p.write(Buffer.from(OPEN));
      r.p.end();
      assert.deepEqual(r.events, ["start", "error:not-well-formed"]);
    });

    it("write() never throws: a throwing handler becomes an internal-server-error", () => {
      const r = recorder(LIMITS, {
        stanza() {
          throw new Error("boom");
        },
      });
      r.p.write(Buffer.from(OPEN));
      assert.doesNotThrow(() => r.p.write(Buffer.from(`<message/>`)));
      assert.deepEqual(
        r.errors.map((e) => e.condition),
        ["internal-server-error"],
      );
    });

    it("end() is quiet; nothing is held between frames", () => {
      const r = frames([OPEN, `<message/>`]);
      assert.equal(r.p.bufferedBytes, 0);
      r.p.end();
      r.p.write(Buffer.from(`<presence/>`));
      assert.deepEqual(r.errors, []);
      assert.equal(r.stanzas.length, 1);
    });
  });
});
