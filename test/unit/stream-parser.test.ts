import { strict as assert } from "node:assert";
import * as xmppXml from "@xmpp/xml";
import type { Element } from "@xmpp/xml";
import { StreamParser } from "../../src/xml/stream-parser.js";
import { SaxStreamParser } from "../../bench/lib/sax-stream-parser.js";
import type {
  StreamParserHandlers,
  StreamParserLike,
  StreamParserLimits,
} from "../../src/xml/types.js";
import { StreamError } from "../../src/xmpp/errors.js";
import { NS } from "../../src/xmpp/ns.js";
import { recording, type Recording } from "../helpers/parser-recorder.js";

// The production parser is always tested. PARSER_COMPARE=1 also runs the whole suite against the
// candidates that lost (see docs/xml-parser.md), to produce the pass/fail comparison.
type Factory = (h: StreamParserHandlers, l: StreamParserLimits) => StreamParserLike;

/** @xmpp/xml's ltx-based Parser behind our interface: a comparison candidate, no extra checks. */
function ltxCandidate(h: StreamParserHandlers, _l: StreamParserLimits): StreamParserLike {
  interface LtxParser {
    on(ev: string, fn: (x: any) => void): void;
    write(d: string): void;
  }
  const make = (): LtxParser => {
    const p = new (xmppXml as any).Parser() as LtxParser;
    p.on("start", (el: Element) => h.streamStart(el.attrs, el.name, el.getNS()));
    p.on("element", (el: Element) => {
      el.parent = null;
      el.attrs.xmlns ??= "jabber:client";
      h.stanza(el);
    });
    p.on("end", () => h.streamEnd());
    p.on("error", (e: Error) => {
      if (!dead) h.error(new StreamError("not-well-formed", e.message));
      dead = true;
    });
    return p;
  };
  let dead = false;
  let p = make();
  return {
    write(chunk) {
      if (dead) return;
      try {
        p.write(chunk.toString());
      } catch (e) {
        if (!dead) h.error(new StreamError("not-well-formed", String(e)));
        dead = true;
      }
    },
    reset() {
      p = make();
    },
    end() {},
    bufferedBytes: 0,
  };
}

const CANDIDATES: [string, Factory][] = [["StreamParser", (h, l) => new StreamParser(h, l)]];
if (process.env.PARSER_COMPARE) {
  CANDIDATES.push(["SaxStreamParser", (h, l) => new SaxStreamParser(h, l)]);
  CANDIDATES.push(["ltx (@xmpp/xml Parser)", ltxCandidate]);
}

const STREAM_ATTRS =
  "xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' " +
  "to='example.com' version='1.0'";
const HEADER = `<?xml version='1.0'?><stream:stream ${STREAM_ATTRS}>`;
const LIMITS: StreamParserLimits = { maxStanzaSize: 1024, maxDepth: 64, maxAttributes: 64 };

interface Recorder extends Recording {
  p: StreamParserLike;
}

/** Splits input the ways a socket might: one chunk, single bytes, or chunks of `n` bytes. */
type Split = "whole" | "bytes" | number;
const SPLITS: Split[] = ["whole", "bytes", 7];

function chunks(input: string | Buffer, split: Split): Buffer[] {
  const buf = typeof input === "string" ? Buffer.from(input) : input;
  const size = split === "whole" ? Math.max(buf.length, 1) : split === "bytes" ? 1 : split;
  const out: Buffer[] = [];
  for (let o = 0; o < buf.length; o += size) out.push(buf.subarray(o, o + size));
  return out;
}

for (const [label, make] of CANDIDATES) {
  function recorder(
    limits: StreamParserLimits = LIMITS,
    hooks: Partial<StreamParserHandlers> = {},
  ): Recorder {
    const r: Recorder = { ...recording(hooks), p: undefined as unknown as StreamParserLike };
    r.p = make(r.handlers, limits);
    return r;
  }

  function feed(input: string | Buffer, split: Split = "whole", limits = LIMITS): Recorder {
    const r = recorder(limits);
    for (const c of chunks(input, split)) r.p.write(c);
    return r;
  }

  /** Feeds `input` whole, byte by byte and in 7-byte chunks; all must give exactly one `cond`. */
  function expectError(input: string | Buffer, cond: string, limits = LIMITS): void {
    for (const split of SPLITS) {
      const r = feed(input, split, limits);
      assert.deepEqual(
        r.errors.map((e) => e.condition),
        [cond],
        `split=${split}: ${r.events.join(" | ")}`,
      );
      assert.ok(r.errors[0] instanceof StreamError);
    }
  }

  /** Feeds `input` three ways; none may error. Returns the stanzas of the whole-chunk run. */
  function expectOk(input: string | Buffer, limits = LIMITS): Element[] {
    let first: Recorder | undefined;
    for (const split of SPLITS) {
      const r = feed(input, split, limits);
      assert.deepEqual(r.errors, [], `split=${split}: ${r.errors.map(String).join(", ")}`);
      if (first === undefined) first = r;
      else assert.deepEqual(r.events, first.events, `split=${split} differs from one chunk`);
    }
    return first!.stanzas;
  }

  describe(`${label}: XMPP stream parsing (RFC 6120 §4, §11)`, () => {
    describe("stream header (RFC 6120 §4.8)", () => {
      it("§4.8: hands over the header's attributes, qualified name and namespace", () => {
        const r = feed(HEADER);
        assert.deepEqual(r.errors, []);
        assert.equal(r.starts.length, 1);
        assert.equal(r.starts[0].name, "stream:stream");
        assert.equal(r.starts[0].ns, NS.stream);
        assert.equal(r.starts[0].attrs.to, "example.com");
        assert.equal(r.starts[0].attrs.version, "1.0");
        assert.equal(r.starts[0].attrs.xmlns, "jabber:client");
      });

      it("§11.5: the XML declaration is optional", () => {
        const r = feed(`<stream:stream ${STREAM_ATTRS}>`);
        assert.deepEqual(r.events, ["start"]);
      });

      it("§4.8.2: jabber:server is accepted as the content namespace", () => {
        const r = feed(
          `<stream:stream xmlns='jabber:server' xmlns:stream='${NS.stream}'><message/>`,
        );
        assert.deepEqual(r.errors, []);
        assert.equal(r.stanzas[0].getNS(), "jabber:server");
      });

      it("XEP-0114: jabber:component:accept is accepted as the content namespace", () => {
        const r = feed(
          `<stream:stream xmlns='jabber:component:accept' xmlns:stream='${NS.stream}'><handshake/>`,
        );
        assert.deepEqual(r.errors, []);
        assert.equal(r.stanzas[0].getNS(), "jabber:component:accept");
      });

      it("§4.9.3.10 invalid-namespace: wrong stream namespace", () => {
        expectError(
          `<stream:stream xmlns='jabber:client' xmlns:stream='urn:wrong'>`,
          "invalid-namespace",
        );
      });

      it("§4.9.3.10 invalid-namespace: a root other than <stream/> (e.g. a stanza first)", () => {
        expectError(`<message xmlns='jabber:client'/>${HEADER}`, "invalid-namespace");
      });

      it("§4.9.3.10 invalid-namespace: missing or unsupported content namespace", () => {
        expectError(`<stream:stream xmlns:stream='${NS.stream}'>`, "invalid-namespace");
        expectError(
          `<stream:stream xmlns='urn:other' xmlns:stream='${NS.stream}'>`,
          "invalid-namespace",
        );
      });

      it("§4.9.3.2 bad-namespace-prefix: stream namespace under another prefix or none", () => {
        expectError(
          `<foo:stream xmlns='jabber:client' xmlns:foo='${NS.stream}'>`,
          "bad-namespace-prefix",
        );
        expectError(`<stream xmlns='${NS.stream}'>`, "bad-namespace-prefix");
      });

      it("§11.3 not-well-formed: unbound stream prefix", () => {
        expectError(`<stream:stream xmlns='jabber:client'>`, "not-well-formed");
      });

      it("§11.6 / §4.9.3.22 unsupported-encoding: a declaration naming another encoding", () => {
        expectError(`<?xml version='1.0' encoding='ISO-8859-1'?>`, "unsupported-encoding");
        const r = feed(`<?xml version='1.0' encoding='UTF-8'?><stream:stream ${STREAM_ATTRS}>`);
        assert.deepEqual(r.events, ["start"]);
      });

      it("§11.3 not-well-formed: text before the stream header", () => {
        expectError(`hello ${HEADER}`, "not-well-formed");
        expectError(`<?xml version='1.0'?>x<stream:stream ${STREAM_ATTRS}>`, "not-well-formed");
      });

      it("§4.9.3.18 policy-violation: header larger than maxHeaderSize", () => {
        const big = `<stream:stream ${STREAM_ATTRS} x='${"a".repeat(600)}'>`;
        expectError(big, "policy-violation", { ...LIMITS, maxHeaderSize: 512 });
        assert.deepEqual(feed(big, "whole", { ...LIMITS, maxHeaderSize: 1024 }).errors, []);
      });

      it("§4.9.3.18 policy-violation: an endless header is stopped at maxHeaderSize", () => {
        const r = recorder({ ...LIMITS, maxHeaderSize: 512 });
        r.p.write(Buffer.from(`<stream:stream ${STREAM_ATTRS} x='`));
        let fed = 0;
        while (r.errors.length === 0 && fed < 100_000) {
          r.p.write(Buffer.from("a".repeat(64)));
          fed += 64;
          assert.ok(r.p.bufferedBytes <= 512, `buffered ${r.p.bufferedBytes}`);
        }
        assert.deepEqual(r.events, ["error:policy-violation"]);
        assert.ok(fed <= 1024, `stopped after ${fed} bytes`);
      });
    });

    describe("restricted XML (RFC 6120 §11.1)", () => {
      it("§11.1 restricted-xml: comment inside a stanza", () => {
        expectError(`${HEADER}<message><!-- hi --><body/></message>`, "restricted-xml");
      });

      it("§11.1 restricted-xml: comment before the header and between stanzas", () => {
        expectError(`<!-- hi -->${HEADER}`, "restricted-xml");
        expectError(`${HEADER}<message/><!-- hi --><message/>`, "restricted-xml");
      });

      it("§11.1 restricted-xml: empty comment", () => {
        expectError(`${HEADER}<message><!----></message>`, "restricted-xml");
      });

      it("§11.1 restricted-xml: processing instruction after the header", () => {
        expectError(`${HEADER}<?foo bar?>`, "restricted-xml");
      });

      it("§11.1 restricted-xml: processing instruction inside a stanza", () => {
        expectError(`${HEADER}<message><?foo bar?></message>`, "restricted-xml");
      });

      it("§11.1 restricted-xml: a second XML declaration", () => {
        expectError(
          `<?xml version='1.0'?><?xml version='1.0'?><stream:stream ${STREAM_ATTRS}>`,
          "restricted-xml",
        );
        expectError(`${HEADER}<?xml version='1.0'?>`, "restricted-xml");
      });

      it("§11.1 restricted-xml: DOCTYPE before the stream", () => {
        expectError(
          `<?xml version='1.0'?><!DOCTYPE stream [<!ENTITY x 'y'>]><stream:stream ${STREAM_ATTRS}>`,
          "restricted-xml",
        );
        expectError(`<!DOCTYPE stream><stream:stream ${STREAM_ATTRS}>`, "restricted-xml");
      });

      it("§11.1 restricted-xml: entity reference &foo; in text", () => {
        expectError(`${HEADER}<message><body>a &foo; b</body></message>`, "restricted-xml");
      });

      it("§11.1 restricted-xml: entity reference in an attribute value", () => {
        expectError(`${HEADER}<message to='&nbsp;'/>`, "restricted-xml");
      });

      it("§11.1 allowed: the five predefined entities, in text and attributes", () => {
        const [m] = expectOk(
          `${HEADER}<message id='&amp;&lt;&gt;&quot;&apos;'><body>&amp;&lt;&gt;&quot;&apos;</body></message>`,
        );
        assert.equal(m.attrs.id, `&<>"'`);
        assert.equal(m.getChildText("body"), `&<>"'`);
      });

      it("§11.1 allowed: numeric character references &#x41; and &#65;", () => {
        const [m] = expectOk(
          `${HEADER}<message id='&#x41;'><body>&#65;&#x42;&#x1F600;</body></message>`,
        );
        assert.equal(m.attrs.id, "A");
        assert.equal(m.getChildText("body"), "AB\u{1F600}");
      });

      it("§11.3 not-well-formed: character references to characters illegal in XML", () => {
        for (const ref of ["&#0;", "&#x1;", "&#x1F;", "&#xFFFE;", "&#xD800;", "&#x110000;"]) {
          expectError(`${HEADER}<message><body>${ref}</body></message>`, "not-well-formed");
        }
        expectError(`${HEADER}<message id='&#x0;'/>`, "not-well-formed");
      });

      it("§11.3 not-well-formed: malformed references", () => {
        expectError(`${HEADER}<message><body>a & b</body></message>`, "not-well-formed");
        expectError(`${HEADER}<message><body>&amp</body></message>`, "not-well-formed");
        expectError(`${HEADER}<message><body>&#xZZ;</body></message>`, "not-well-formed");
      });

      it("§11.1 allowed: CDATA sections (RFC 6120 does not forbid them)", () => {
        const [m] = expectOk(
          `${HEADER}<message><body><![CDATA[<b>&amp;</b> ]] >]]></body></message>`,
        );
        assert.equal(m.getChildText("body"), "<b>&amp;</b> ]] >");
      });
    });

    describe("well-formedness (RFC 6120 §11.3)", () => {
      it("§11.3 not-well-formed: mismatched end tag", () => {
        expectError(`${HEADER}<message><body></message></body>`, "not-well-formed");
      });

      it("§11.3 not-well-formed: end tag of an element never opened", () => {
        expectError(`${HEADER}</message>`, "not-well-formed");
      });

      it("§11.3 not-well-formed: bad attribute syntax", () => {
        expectError(`${HEADER}<message to=juliet/>`, "not-well-formed");
        expectError(`${HEADER}<message to='a'id='b'/>`, "not-well-formed");
        expectError(`${HEADER}<message to='a<b'/>`, "not-well-formed");
        expectError(`${HEADER}<message to/>`, "not-well-formed");
        expectError(`${HEADER}<message to='a' / >`, "not-well-formed");
        expectError(`${HEADER}<message to='a"/><body/></message>`, "not-well-formed");
      });

      it("§11.3 not-well-formed: duplicate attributes", () => {
        expectError(`${HEADER}<message id='a' id='b'/>`, "not-well-formed");
      });

      it("§11.3 not-well-formed: same expanded attribute name through two prefixes", () => {
        expectError(
          `${HEADER}<message xmlns:a='urn:x' xmlns:b='urn:x' a:id='1' b:id='2'/>`,
          "not-well-formed",
        );
      });

      it("§11.3 not-well-formed: unbound element and attribute prefixes", () => {
        expectError(`${HEADER}<message><x:y/></message>`, "not-well-formed");
        expectError(`${HEADER}<message x:id='1'/>`, "not-well-formed");
      });

      it("§11.3 not-well-formed: illegal namespace declarations", () => {
        expectError(`${HEADER}<message xmlns:x=''/>`, "not-well-formed");
        expectError(`${HEADER}<message xmlns:xml='urn:not-xml'/>`, "not-well-formed");
      });

      it("§11.3 not-well-formed: ']]>' in character data", () => {
        expectError(`${HEADER}<message><body>a ]]> b</body></message>`, "not-well-formed");
      });

      it("§11.3 not-well-formed: '<' not starting a tag", () => {
        expectError(`${HEADER}<message><body>a < b</body></message>`, "not-well-formed");
      });

      it("§11.7: whitespace keepalives between stanzas are fine", () => {
        const out = expectOk(`${HEADER} \n\t <message/>\r\n  <presence/> \n`);
        assert.equal(out.length, 2);
      });

      it("§11.3 not-well-formed: text directly at stream level", () => {
        expectError(`${HEADER}<message/>hello<message/>`, "not-well-formed");
        expectError(`${HEADER} x`, "not-well-formed");
      });

      it("§11.3: attribute values are whitespace-normalized, line ends in text are LF", () => {
        const [m] = expectOk(`${HEADER}<message id='a\tb\r\nc'><body>x\r\ny\rz</body></message>`);
        assert.equal(m.attrs.id, "a b c");
        assert.equal(m.getChildText("body"), "x\ny\nz");
      });
    });

    describe("character encoding (RFC 6120 §11.6)", () => {
      it("§11.6 not-well-formed: invalid UTF-8 byte 0xFF", () => {
        const bad = Buffer.concat([
          Buffer.from(`${HEADER}<message><body>`),
          Buffer.from([0xff]),
          Buffer.from("</body></message>"),
        ]);
        expectError(bad, "not-well-formed");
      });

      it("§11.6 not-well-formed: UTF-8-encoded surrogate and overlong forms", () => {
        for (const bytes of [
          [0xed, 0xa0, 0x80],
          [0xc0, 0xbc],
          [0xe0, 0x80, 0xbc],
        ]) {
          const bad = Buffer.concat([
            Buffer.from(`${HEADER}<message><body>`),
            Buffer.from(bytes),
            Buffer.from("</body></message>"),
          ]);
          expectError(bad, "not-well-formed");
        }
      });

      it("§11.6: a multibyte character split across writes is decoded intact", () => {
        const text = "é€😀";
        const doc = Buffer.from(`${HEADER}<message id='${text}'><body>${text}</body></message>`);
        const at = doc.indexOf(Buffer.from("😀"));
        for (let cut = at - 5; cut <= at + 4; cut++) {
          const r = recorder();
          r.p.write(doc.subarray(0, cut));
          r.p.write(doc.subarray(cut));
          assert.deepEqual(r.errors, [], `cut at ${cut}`);
          assert.equal(r.stanzas[0].getChildText("body"), text);
          assert.equal(r.stanzas[0].attrs.id, text);
        }
        expectOk(doc);
      });

      it("§11.6 not-well-formed: a truncated multibyte character at end()", () => {
        const r = recorder();
        r.p.write(Buffer.from(`${HEADER}<message><body>`));
        r.p.write(Buffer.from([0xe2, 0x82]));
        r.p.end();
        assert.deepEqual(r.events, ["start", "error:not-well-formed"]);
      });

      it("§11.3 not-well-formed: raw control characters and U+FFFE/U+FFFF", () => {
        for (const ch of ["\u0000", "\u0001", "\u001b", "\uFFFE", "\uFFFF"]) {
          expectError(`${HEADER}<message><body>a${ch}b</body></message>`, "not-well-formed");
        }
        expectError(`${HEADER}<message id='\u0002'/>`, "not-well-formed");
      });

      it("§11.3 allowed: tab, CR, LF and non-ASCII characters", () => {
        const [m] = expectOk(`${HEADER}<message><body>\tÄ\n日本\u{10348}</body></message>`);
        assert.equal(m.getChildText("body"), "\tÄ\n日本\u{10348}");
      });
    });

    describe("resource limits (RFC 6120 §13.12, §4.9.3.18 policy-violation)", () => {
      const limit = 200;
      const small: StreamParserLimits = { maxStanzaSize: limit, maxDepth: 64, maxAttributes: 64 };
      const sized = (n: number): string => {
        const open = "<message><body>";
        const close = "</body></message>";
        return open + "x".repeat(n - open.length - close.length) + close;
      };

      it("§13.12: a stanza of exactly maxStanzaSize bytes is accepted", () => {
        const st = sized(limit);
        assert.equal(Buffer.byteLength(st), limit);
        assert.equal(expectOk(`${HEADER}${st}${st}`, small).length, 2);
      });

      it("§4.9.3.18: a stanza one byte over the limit, as one chunk and one byte at a time", () => {
        expectError(`${HEADER}${sized(limit + 1)}`, "policy-violation", small);
      });

      it("§4.9.3.18: the limit counts bytes, not characters", () => {
        const open = "<message><body>";
        const close = "</body></message>";
        const chars = limit - open.length - close.length;
        expectOk(`${HEADER}${open}${"x".repeat(chars)}${close}`, small);
        expectError(
          `${HEADER}${open}${"é".repeat(chars / 2 + 1)}${close}`,
          "policy-violation",
          small,
        );
      });

      it("§4.9.3.18: an oversize stanza is refused before it completes, memory stays bounded", () => {
        for (const split of ["bytes", "whole"] as const) {
          const r = recorder(small);
          r.p.write(Buffer.from(HEADER));
          const body = Buffer.from(`<message><body>${"y".repeat(10 * limit)}</body></message>`);
          for (const c of chunks(body, split)) {
            r.p.write(c);
            assert.ok(r.p.bufferedBytes <= limit, `buffered ${r.p.bufferedBytes} bytes`);
          }
          assert.deepEqual(r.events, ["start", "error:policy-violation"], split);
          assert.equal(r.p.bufferedBytes, 0);
        }
      });

      it("§4.9.3.18: an endless text node is stopped at the limit", () => {
        const r = recorder(small);
        r.p.write(Buffer.from(`${HEADER}<message><body>`));
        let fed = 0;
        while (r.errors.length === 0 && fed < 50 * limit) {
          r.p.write(Buffer.from("z".repeat(16)));
          fed += 16;
          assert.ok(r.p.bufferedBytes <= limit);
        }
        assert.deepEqual(r.events, ["start", "error:policy-violation"]);
        assert.ok(fed <= limit, `stopped after ${fed} bytes`);
      });

      it("§4.9.3.18: an endless attribute value is stopped at the limit", () => {
        const r = recorder(small);
        r.p.write(Buffer.from(`${HEADER}<message id='`));
        let fed = 0;
        while (r.errors.length === 0 && fed < 50 * limit) {
          r.p.write(Buffer.from("q".repeat(3)));
          fed += 3;
          assert.ok(r.p.bufferedBytes <= limit);
        }
        assert.deepEqual(r.events, ["start", "error:policy-violation"]);
        assert.ok(fed <= limit, `stopped after ${fed} bytes`);
      });

      it("§11.7: whitespace between stanzas does not count toward a stanza", () => {
        const st = sized(limit);
        const out = expectOk(
          `${HEADER}${" ".repeat(3 * limit)}${st}${"\n".repeat(3 * limit)}${st}`,
          small,
        );
        assert.equal(out.length, 2);
      });

      it("§4.9.3.18: depth bomb (nesting deeper than maxDepth)", () => {
        const l = { ...LIMITS, maxStanzaSize: 100_000, maxDepth: 64 };
        const nest = (d: number) => "<a>".repeat(d) + "</a>".repeat(d);
        expectOk(`${HEADER}${nest(64)}`, l);
        expectError(`${HEADER}${nest(65)}`, "policy-violation", l);
        expectError(`${HEADER}${"<a>".repeat(10_000)}`, "policy-violation", l);
      });

      it("§4.9.3.18: attribute bomb (more than maxAttributes on one element)", () => {
        const l = { ...LIMITS, maxStanzaSize: 100_000, maxAttributes: 64 };
        const attrs = (n: number) => Array.from({ length: n }, (_, i) => ` a${i}='v'`).join("");
        expectOk(`${HEADER}<message${attrs(64)}/>`, l);
        expectError(`${HEADER}<message${attrs(65)}/>`, "policy-violation", l);
        expectError(`${HEADER}<message><x${attrs(5000)}/></message>`, "policy-violation", l);
      });
    });

    describe("namespaces (RFC 6120 §4.8, §11.2)", () => {
      it("§4.8.2: a plain <message/> inherits the content namespace and stands alone", () => {
        const [m] = expectOk(`${HEADER}<message to='romeo@example.net'><body>hi</body></message>`);
        assert.equal(m.getNS(), "jabber:client");
        assert.equal(m.attrs.xmlns, "jabber:client");
        assert.equal(m.parent, null);
        assert.ok(m.is("message", "jabber:client"));
        assert.equal(m.getChild("body")!.getNS(), "jabber:client");
      });

      it("§4.8.2: a stanza declaring its own namespace keeps it", () => {
        const [m] = expectOk(
          `${HEADER}<auth xmlns='${NS.sasl}' mechanism='PLAIN'>AGp1bGlldAByMG0zMG15cjBtMzA=</auth>`,
        );
        assert.equal(m.getNS(), NS.sasl);
        assert.equal(m.getText(), "AGp1bGlldAByMG0zMG15cjBtMzA=");
      });

      it("§11.2: prefixed elements inside stanzas keep their namespaces", () => {
        const [m] = expectOk(
          `${HEADER}<message><x:event xmlns:x='urn:x'><x:item/><plain/></x:event><y:z xmlns:y='urn:y' y:a='1'/></message>`,
        );
        const ev = m.getChild("event", "urn:x")!;
        assert.ok(ev);
        assert.equal(ev.getChild("item")!.getNS(), "urn:x");
        assert.equal(ev.getChild("plain")!.getNS(), "jabber:client");
        assert.equal(m.getChild("z", "urn:y")!.attrs["y:a"], "1");
      });

      it("§4.8.5: stream-prefixed elements (<stream:features/>) resolve standalone", () => {
        const [f] = expectOk(
          `${HEADER}<stream:features><bind xmlns='${NS.bind}'/></stream:features>`,
        );
        assert.equal(f.getNS(), NS.stream);
        assert.equal(f.getChild("bind", NS.bind)!.getNS(), NS.bind);
      });

      it("§11.2: other prefixes declared on the stream header are carried into the stanza", () => {
        const r = feed(
          `<stream:stream xmlns='jabber:server' xmlns:stream='${NS.stream}' xmlns:db='jabber:server:dialback'>` +
            `<db:result from='a.example' to='b.example'>key</db:result>`,
        );
        assert.deepEqual(r.errors, []);
        assert.equal(r.stanzas[0].getNS(), "jabber:server:dialback");
      });
    });

    describe("stream lifecycle (RFC 6120 §4.3.3, §4.4)", () => {
      it("§4.4: </stream:stream> gives streamEnd", () => {
        const r = feed(`${HEADER}<message/></stream:stream>`);
        assert.deepEqual(r.events, ["start", 'stanza:<message xmlns="jabber:client"/>', "end"]);
        expectOk(`${HEADER}<message/></stream:stream>`);
      });

      it("§4.4 not-well-formed: closing the stream with the wrong name", () => {
        expectError(`${HEADER}</stream:foo>`, "not-well-formed");
      });

      it("§4.3.3: reset() after a header expects a new XML declaration and header", () => {
        const r = recorder();
        r.p.write(Buffer.from(`${HEADER}<starttls xmlns='${NS.tls}'/>`));
        r.p.reset();
        r.p.write(Buffer.from(`${HEADER}<message/>`));
        assert.deepEqual(r.errors, []);
        assert.deepEqual(
          r.events.map((e) => e.split(" ")[0]),
          ["start", "stanza:<starttls", "start", "stanza:<message"],
        );
      });

      it("§4.3.3: reset() drops input not yet parsed (no plaintext injection across STARTTLS)", () => {
        const r = recorder(LIMITS, {
          stanza(el) {
            if (el.name === "starttls") r.p.reset();
          },
        });
        r.p.write(
          Buffer.from(
            `${HEADER}<starttls xmlns='${NS.tls}'/><message><body>injected</body></message><pres`,
          ),
        );
        r.p.write(Buffer.from(`${HEADER}<presence/>`));
        assert.deepEqual(r.errors, []);
        assert.deepEqual(
          r.stanzas.map((s) => s.name),
          ["starttls", "presence"],
        );
      });

      it("nothing is emitted after an error, and error is called once", () => {
        const r = recorder();
        r.p.write(Buffer.from(`${HEADER}<message/><!-- x --><message/><a><b></a>`));
        r.p.write(Buffer.from(`<message/></stream:stream>`));
        r.p.reset();
        r.p.write(Buffer.from(`${HEADER}<message/>`));
        r.p.end();
        assert.deepEqual(r.events, [
          "start",
          'stanza:<message xmlns="jabber:client"/>',
          "error:restricted-xml",
        ]);
      });

      it("write() never throws: a throwing handler becomes an internal-server-error", () => {
        const r = recorder(LIMITS, {
          stanza() {
            throw new Error("boom");
          },
        });
        assert.doesNotThrow(() => r.p.write(Buffer.from(`${HEADER}<message/><message/>`)));
        assert.deepEqual(
          r.errors.map((e) => e.condition),
          ["internal-server-error"],
        );
      });

      it("end() inside a stanza is not-well-formed; between stanzas it is quiet", () => {
        const a = recorder();
        a.p.write(Buffer.from(`${HEADER}<message><body>`));
        a.p.end();
        assert.deepEqual(a.events, ["start", "error:not-well-formed"]);
        const b = recorder();
        b.p.write(Buffer.from(`${HEADER}<message/> `));
        b.p.end();
        b.p.write(Buffer.from("<message/>"));
        assert.deepEqual(b.errors, []);
        assert.equal(b.stanzas.length, 1);
      });

      it("every split of a varied stream gives the same stanzas as one chunk", () => {
        const doc = Buffer.from(
          `\uFEFF<?xml version="1.0" encoding="utf-8"?>\n<stream:stream ${STREAM_ATTRS} xml:lang='en'>` +
            `<message to="a@b" id='x>y' type="chat"><body>héllo &amp; &#x1F600; wörld</body>` +
            `<html xmlns='http://jabber.org/protocol/xhtml-im'><body xmlns='http://www.w3.org/1999/xhtml'>` +
            `<p style="a:b">x<![CDATA[ <y> ]]]]>z</p></body></html></message> \n` +
            `<iq type='get' id='1'><query xmlns='jabber:iq:roster'/></iq>` +
            `<presence><show>away</show><status xml:lang='fr'>ça</status></presence></stream:stream>`,
        );
        const whole = feed(doc);
        assert.deepEqual(whole.errors, []);
        assert.equal(whole.stanzas.length, 3);
        assert.equal(whole.stanzas[0].attrs.id, "x>y");
        assert.equal(whole.stanzas[0].getChildText("body"), "héllo & \u{1F600} wörld");
        for (let cut = 1; cut < doc.length; cut++) {
          const r = recorder();
          r.p.write(doc.subarray(0, cut));
          r.p.write(doc.subarray(cut));
          assert.deepEqual(r.events, whole.events, `cut at ${cut}`);
        }
        assert.deepEqual(feed(doc, "bytes").events, whole.events);
      });
    });
  });
}
