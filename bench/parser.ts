// Micro-benchmark of the XMPP stream parser candidates (see docs/xml-parser.md).
//   npx tsx bench/parser.ts [messages=100000] [chunkBytes=16384] [--all]
// Feeds one c2s stream of ~300-byte chat messages in fixed-size chunks and reports MB/s and
// stanzas/s for each candidate, on a pure-ASCII stream and on a mixed one (1 message in 5
// carries non-ASCII text).
import os from "node:os";
import { performance } from "node:perf_hooks";
import * as xmppXml from "@xmpp/xml";
import sax from "sax";
import { SaxStreamParser } from "./lib/sax-stream-parser.js";
import { StrictStreamParser } from "../src/xml/strict-stream-parser.js";
import type { StreamParserHandlers, StreamParserLike } from "../src/xml/types.js";

const args = process.argv.slice(2).filter((a) => !a.startsWith("--"));
const ALL = process.argv.includes("--all"); // also the bare tokenizers, without Element building
const MESSAGES = Number(args[0] ?? 100_000);
const CHUNK = Number(args[1] ?? 16_384);
const ROUNDS = 3;
const RUN_MS = 200;

const HEADER =
  "<?xml version='1.0'?><stream:stream to='example.com' version='1.0' xml:lang='en' " +
  "xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>";
const WORDS = ["hello", "are", "you", "coming", "tonight", "ok", "see", "the", "docs", "build"];
const NON_ASCII = ["café", "naïve", "日本語", "😀", "Grüße", "привет"];

function message(i: number, mixed: boolean): string {
  const words: string[] = [];
  for (let w = 0; w < 12; w++) words.push(WORDS[(i * 7 + w * 3) % WORDS.length]);
  if (mixed && i % 5 === 0) words[3] = NON_ASCII[i % NON_ASCII.length];
  if (i % 4 === 0) words.push("&amp; &lt;3 it&apos;s");
  return (
    `<message to='romeo@example.net/orchard' from='juliet@example.com/balcony' ` +
    `type='chat' id='msg-${i.toString(36)}-a1b2c3' xml:lang='en'>` +
    `<body>${words.join(" ")}</body>` +
    `<active xmlns='http://jabber.org/protocol/chatstates'/>` +
    `<request xmlns='urn:xmpp:receipts'/></message>`
  );
}

function corpus(n: number, mixed: boolean): Buffer[] {
  const parts = [HEADER];
  for (let i = 0; i < n; i++) parts.push(message(i, mixed), i % 50 === 0 ? "\n" : "");
  const all = Buffer.from(parts.join(""));
  const chunks: Buffer[] = [];
  for (let o = 0; o < all.length; o += CHUNK) chunks.push(all.subarray(o, o + CHUNK));
  return chunks;
}

// @xmpp/xml's Parser (ltx tokenizer + Element building); src/types/xmpp-xml.d.ts leaves it out.
interface LtxStreamParser {
  on(event: string, fn: (arg: Error) => void): void;
  write(data: Buffer): void;
}
const LtxParser = (xmppXml as unknown as { Parser: new () => LtxStreamParser }).Parser;

interface LtxTokenizer {
  removeAllListeners(): void;
  on(event: string, fn: () => void): void;
  write(data: Buffer): void;
}

interface Candidate {
  name: string;
  /** Parses chunks until done or `deadline` (performance.now()); returns what it got through. */
  run(chunks: Buffer[], deadline: number): { stanzas: number; bytes: number };
}

/** Feeds chunks to `write` until done or past the deadline (checked every 16 chunks). */
function drive(chunks: Buffer[], deadline: number, write: (c: Buffer) => void): number {
  let bytes = 0;
  for (let i = 0; i < chunks.length; i++) {
    if ((i & 15) === 15 && performance.now() > deadline) break;
    write(chunks[i]);
    bytes += chunks[i].length;
  }
  return bytes;
}

function ours(name: string, make: (h: StreamParserHandlers) => StreamParserLike): Candidate {
  return {
    name,
    run(chunks, deadline) {
      let stanzas = 0;
      const p = make({
        streamStart() {},
        stanza() {
          stanzas++;
        },
        streamEnd() {},
        error(err) {
          throw err;
        },
      });
      return { bytes: drive(chunks, deadline, (c) => p.write(c)), stanzas };
    },
  };
}

const limits = { maxStanzaSize: 65_536, maxDepth: 64, maxAttributes: 64 };
const candidates: Candidate[] = [
  ours("(a) sax + RFC 6120 checks (SaxStreamParser)", (h) => new SaxStreamParser(h, limits)),
  {
    name: "(b) ltx via @xmpp/xml Parser (no checks)",
    run(chunks, deadline) {
      let stanzas = 0;
      const p = new LtxParser();
      p.on("element", () => stanzas++);
      p.on("error", (e: Error) => {
        throw e;
      });
      return { bytes: drive(chunks, deadline, (c) => p.write(c)), stanzas };
    },
  },
  ours(
    "(c) strict tokenizer -> ltx Elements (StrictStreamParser)",
    (h) => new StrictStreamParser(h, limits),
  ),
];
if (ALL) {
  candidates.push(
    {
      name: "(a') sax tokenizer only, no Elements (no checks)",
      run(chunks, deadline) {
        let depth = 0;
        let stanzas = 0;
        const p = sax.parser(true, { xmlns: true });
        p.onopentag = () => depth++;
        p.onclosetag = () => {
          if (--depth === 1) stanzas++;
        };
        const dec = new TextDecoder();
        return {
          bytes: drive(chunks, deadline, (c) => p.write(dec.decode(c, { stream: true }))),
          stanzas,
        };
      },
    },
    {
      name: "(b') ltx tokenizer only, no Elements (no checks)",
      run(chunks, deadline) {
        let depth = 0;
        let stanzas = 0;
        // The SaxLtx tokenizer that @xmpp/xml's Parser wraps, with Element building unhooked.
        const tok = (new LtxParser() as unknown as { parser: LtxTokenizer }).parser;
        tok.removeAllListeners();
        tok.on("startElement", () => depth++);
        tok.on("endElement", () => {
          if (--depth === 1) stanzas++;
        });
        return { bytes: drive(chunks, deadline, (c) => tok.write(c)), stanzas };
      },
    },
  );
}

/**
 * Candidates run round-robin, ROUNDS times, each run capped at RUN_MS; each keeps its best
 * throughput. Time is this process's CPU time (user + system), not wall time: the 2-core
 * machine is shared, and wall-clock figures swing by 2x with other processes' load.
 * Interleaving spreads that noise evenly over the candidates.
 */
function benchStream(chunks: Buffer[]): void {
  // Warm-up, and a sanity check: every candidate must see the same stanzas.
  const warm = chunks.slice(0, Math.ceil(chunks.length / 20));
  const counts = candidates.map((c) => c.run(warm, Infinity).stanzas);
  if (new Set(counts).size !== 1) throw new Error(`stanza counts differ: ${counts.join(", ")}`);
  const best = candidates.map(() => ({ mbs: 0, sps: 0 }));
  for (let round = 0; round < ROUNDS; round++) {
    candidates.forEach((c, i) => {
      const cpu0 = process.cpuUsage();
      const r = c.run(chunks, performance.now() + RUN_MS);
      const cpu = process.cpuUsage(cpu0);
      const sec = (cpu.user + cpu.system) / 1e6;
      if (r.bytes / sec / 1e6 > best[i].mbs)
        best[i] = { mbs: r.bytes / sec / 1e6, sps: r.stanzas / sec };
    });
  }
  candidates.forEach((c, i) => {
    console.log(
      `${c.name.padEnd(60)} ${best[i].mbs.toFixed(1).padStart(6)} MB/s ` +
        `${Math.round(best[i].sps).toLocaleString("en-US").padStart(9)} stanzas/s`,
    );
  });
}

console.log(
  `node ${process.version}, ${os.cpus().length} CPUs, ${MESSAGES} messages, ${CHUNK}-byte chunks, ` +
    `best of ${ROUNDS} interleaved runs of <= ${RUN_MS} ms, throughput per CPU-second`,
);
for (const mixed of [false, true]) {
  const chunks = corpus(MESSAGES, mixed);
  const bytes = chunks.reduce((n, c) => n + c.length, 0);
  console.log(
    `\n${mixed ? "mixed (20% non-ASCII)" : "ASCII"} stream: ${(bytes / 1e6).toFixed(1)} MB, ` +
      `${Math.round(bytes / MESSAGES)} bytes/stanza`,
  );
  benchStream(chunks);
}
