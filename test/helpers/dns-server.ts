/*
 * A tiny authoritative DNS server over UDP on loopback, for tests that resolve names through a
 * node:dns Resolver pointed at it (`servers: [dns.address]`). It speaks just enough of the wire
 * format of RFC 1035 §4 to answer SRV (RFC 2782) and A questions for the names it was given.
 */
import { createSocket, type RemoteInfo } from "node:dgram";
import { once } from "node:events";
import { isIPv4 } from "node:net";

export type DnsRecord =
  | { type: "SRV"; priority: number; weight: number; port: number; target: string }
  | { type: "A"; address: string };

/** Owner name (no trailing dot, any case) -> its records. */
export type DnsZone = Record<string, DnsRecord[]>;

export interface TestDnsServer {
  /** "127.0.0.1:<port>", for ResolveOptions.servers or Resolver.setServers. */
  readonly address: string;
  /** Every question received, answered or not, e.g. { name: "_xmpp-server._tcp.a.test", type: "SRV" }. */
  readonly queries: { name: string; type: string }[];
  /** While true, questions are recorded but never answered, so resolvers time out. */
  silent: boolean;
  close(): Promise<void>;
}

/** RFC 1035 §3.2.2 TYPE values (SRV from RFC 2782), and §3.2.4 CLASS IN. */
const TYPE = { A: 1, SRV: 33 } as const;
const CLASS_IN = 1;
/** RFC 1035 §4.1.1 RCODE values. */
const RCODE = { NOERROR: 0, FORMERR: 1, NXDOMAIN: 3 } as const;
const TTL = 60;

function typeName(code: number): string {
  const entry = Object.entries(TYPE).find(([, c]) => c === code);
  return entry ? entry[0] : `TYPE${code}`;
}

function normalise(name: string): string {
  return name.toLowerCase().replace(/\.$/, "");
}

/** RFC 1035 §3.1: a name as length-prefixed labels ending in the zero-length root label. */
function encodeName(name: string): Buffer {
  const labels = normalise(name)
    .split(".")
    .filter((l) => l !== "");
  const parts = labels.map((l) => {
    const bytes = Buffer.from(l, "ascii");
    return Buffer.concat([Buffer.from([bytes.length]), bytes]);
  });
  return Buffer.concat([...parts, Buffer.from([0])]);
}

interface Question {
  name: string;
  type: number;
  /** The question section as received, echoed in the answer (RFC 1035 §4.1.2). */
  raw: Buffer;
}

/** The first question of a query (RFC 1035 §4.1.2); queries carry no name compression. */
function parseQuestion(msg: Buffer): Question | undefined {
  if (msg.length < 12 || msg.readUInt16BE(4) < 1) return undefined;
  const labels: string[] = [];
  let at = 12;
  for (;;) {
    if (at >= msg.length) return undefined;
    const len = msg[at]!;
    if (len === 0) break;
    if (len > 63 || at + 1 + len > msg.length) return undefined;
    labels.push(msg.toString("ascii", at + 1, at + 1 + len));
    at += 1 + len;
  }
  at += 1;
  if (at + 4 > msg.length) return undefined;
  return {
    name: normalise(labels.join(".")),
    type: msg.readUInt16BE(at),
    raw: msg.subarray(12, at + 4),
  };
}

/** RFC 1035 §4.1.3 resource record, its owner name a pointer to the question's name (§4.1.4). */
function encodeAnswer(record: DnsRecord): Buffer {
  let rdata: Buffer;
  if (record.type === "A") {
    rdata = Buffer.from(record.address.split(".").map(Number));
  } else {
    // RFC 2782: priority, weight, port, then the target, uncompressed; "." is the root alone.
    const fixed = Buffer.alloc(6);
    fixed.writeUInt16BE(record.priority, 0);
    fixed.writeUInt16BE(record.weight, 2);
    fixed.writeUInt16BE(record.port, 4);
    rdata = Buffer.concat([fixed, encodeName(record.target)]);
  }
  const head = Buffer.alloc(12);
  head.writeUInt16BE(0xc00c, 0);
  head.writeUInt16BE(TYPE[record.type], 2);
  head.writeUInt16BE(CLASS_IN, 4);
  head.writeUInt32BE(TTL, 6);
  head.writeUInt16BE(rdata.length, 10);
  return Buffer.concat([head, rdata]);
}

/** RFC 1035 §4.1.1 header of a response to `query`: same ID, opcode and RD; QR, AA and RA set. */
function header(query: Buffer, rcode: number, qdcount: number, ancount: number): Buffer {
  const h = Buffer.alloc(12);
  h.writeUInt16BE(query.readUInt16BE(0), 0);
  const opcodeAndRd = query[2]! & 0x79;
  h[2] = 0x80 | opcodeAndRd | 0x04;
  h[3] = 0x80 | rcode;
  h.writeUInt16BE(qdcount, 4);
  h.writeUInt16BE(ancount, 6);
  return h;
}

/**
 * The answer to one query: the records of the asked type, NODATA (NOERROR, no answers) when the
 * name has records of other types only, NXDOMAIN when the zone does not know the name.
 */
function respond(zone: Map<string, DnsRecord[]>, query: Buffer, q: Question | undefined): Buffer {
  if (!q) return header(query.length >= 12 ? query : Buffer.alloc(12), RCODE.FORMERR, 0, 0);
  const records = zone.get(q.name);
  if (!records) return Buffer.concat([header(query, RCODE.NXDOMAIN, 1, 0), q.raw]);
  const matching = records.filter((r) => TYPE[r.type] === q.type);
  return Buffer.concat([
    header(query, RCODE.NOERROR, 1, matching.length),
    q.raw,
    ...matching.map(encodeAnswer),
  ]);
}

/** Starts the server on 127.0.0.1 and a random port, answering from `zone`. */
export async function startDnsServer(zone: DnsZone): Promise<TestDnsServer> {
  const table = new Map<string, DnsRecord[]>();
  for (const [name, records] of Object.entries(zone)) {
    for (const r of records) {
      if (r.type === "A" && !isIPv4(r.address))
        throw new Error(`not an IPv4 address: ${r.address}`);
    }
    table.set(normalise(name), records);
  }
  const socket = createSocket("udp4");
  const queries: { name: string; type: string }[] = [];
  const server = {
    address: "",
    queries,
    silent: false,
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
  socket.on("message", (msg: Buffer, from: RemoteInfo) => {
    const q = parseQuestion(msg);
    if (q) queries.push({ name: q.name, type: typeName(q.type) });
    if (server.silent) return;
    socket.send(respond(table, msg, q), from.port, from.address);
  });
  socket.bind(0, "127.0.0.1");
  await once(socket, "listening");
  server.address = `127.0.0.1:${socket.address().port}`;
  return server;
}
