// A small authoritative DNS server for a federation namespace (netns.ts), on 127.0.0.1:53 where
// its resolv.conf points. /etc/hosts is enough for resolvers that go through
// getaddrinfo (Parley, ejabberd's native lookup), but Prosody 0.12 asks DNS itself and never reads
// /etc/hosts (net.dns; libunbound too, with Prosody's default hoststxt = false), and every server
// asks DNS for SRV records (RFC 6120 §3.2.1) before it falls back to the domain's address. So the
// same table as the hosts file is served here: A records for the test names, no data for any other
// type of a known name (no SRV, no AAAA: the fallback of RFC 6120 §3.2.2 applies), NXDOMAIN for
// names we do not know. Nothing is forwarded anywhere. UDP only: every answer is small.
import dgram from "node:dgram";

const TYPE_A = 1;
const CLASS_IN = 1;

export interface DnsServer {
  /** Queries answered so far, as "name TYPE" (e.g. "_xmpp-server._tcp.prosody.test 33"). */
  queries: string[];
  close(): Promise<void>;
}

/** The question of a query: its name (lowercased), type, class, and where the question ends. */
function parseQuestion(msg: Buffer): { name: string; type: number; cls: number; end: number } {
  const labels: string[] = [];
  let at = 12;
  for (;;) {
    const len = msg[at];
    if (len === undefined) throw new Error("truncated name");
    if (len === 0) break;
    if (len > 63) throw new Error("compressed or bad label in a question");
    labels.push(msg.toString("latin1", at + 1, at + 1 + len).toLowerCase());
    at += 1 + len;
  }
  at += 1;
  if (at + 4 > msg.length) throw new Error("truncated question");
  return {
    name: labels.join("."),
    type: msg.readUInt16BE(at),
    cls: msg.readUInt16BE(at + 2),
    end: at + 4,
  };
}

/** The answer to one query (RFC 1035 §4.1): authoritative, no recursion, the question echoed. */
export function answer(msg: Buffer, table: Map<string, string>): { reply: Buffer; asked: string } {
  const q = parseQuestion(msg);
  const address = table.get(q.name);
  const rcode = address === undefined ? 3 : 0; // NXDOMAIN for a name we do not serve
  const records: Buffer[] = [];
  if (address !== undefined && q.type === TYPE_A && q.cls === CLASS_IN) {
    const rr = Buffer.alloc(16);
    rr.writeUInt16BE(0xc00c, 0); // the name: a pointer to the question's
    rr.writeUInt16BE(TYPE_A, 2);
    rr.writeUInt16BE(CLASS_IN, 4);
    rr.writeUInt32BE(60, 6); // TTL
    rr.writeUInt16BE(4, 10);
    address.split(".").forEach((octet, i) => rr.writeUInt8(Number(octet), 12 + i));
    records.push(rr);
  }
  const header = Buffer.alloc(12);
  header.writeUInt16BE(msg.readUInt16BE(0), 0); // the query's id
  const rd = msg.readUInt8(2) & 0x01;
  header.writeUInt8(0x84 | rd, 2); // QR, AA, RD as asked
  header.writeUInt8(rcode, 3); // RA clear: we recurse for nobody
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(records.length, 6);
  return {
    reply: Buffer.concat([header, msg.subarray(12, q.end), ...records]),
    asked: `${q.name} ${q.type}`,
  };
}

/** Serves `table` (lowercased name → IPv4 address) on `host`:53 until closed. */
export function startDns(table: Map<string, string>, host = "127.0.0.1"): Promise<DnsServer> {
  const sock = dgram.createSocket("udp4");
  const queries: string[] = [];
  sock.on("message", (msg, rinfo) => {
    try {
      const { reply, asked } = answer(msg, table);
      queries.push(asked);
      sock.send(reply, rinfo.port, rinfo.address);
    } catch {
      // not a query we can read: no answer, as for any malformed packet
    }
  });
  return new Promise((resolve, reject) => {
    sock.once("error", reject);
    sock.bind(53, host, () => {
      sock.removeListener("error", reject);
      resolve({ queries, close: () => new Promise((r) => sock.close(() => r())) });
    });
  });
}
