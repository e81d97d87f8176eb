/**
 * Raw SOCKS5 clients for the mod_proxy65 tests: what a Requester or Target does on the wire
 * (RFC 1928 with XEP-0065's CONNECT), with a reader that waits for exact byte counts.
 */
import { createHash } from "node:crypto";
import { connect, type Socket } from "node:net";
import { xml, type TestClient } from "../../src/testkit/index.js";
import type { Element } from "@xmpp/xml";

export const NS_BYTESTREAMS = "http://jabber.org/protocol/bytestreams";

/** XEP-0065 §5.3.2: DST.ADDR = SHA1(SID + Requester JID + Target JID), in hex. */
export const dstAddr = (sid: string, requester: string, target: string): string =>
  createHash("sha1")
    .update(sid + requester + target)
    .digest("hex");

/** A TCP connection whose bytes are read by count, and which says when the server closed it. */
export class Peer {
  private buf = Buffer.alloc(0);
  private wake: (() => void) | undefined;
  ended = false;
  /** Resolves when the server ended its side (this side may still write: half-open). */
  readonly closed: Promise<void>;

  constructor(readonly socket: Socket) {
    socket.on("data", (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      this.wake?.();
    });
    socket.on("error", () => {});
    this.closed = new Promise((resolve) => {
      const ended = () => {
        this.ended = true;
        this.wake?.();
        resolve();
      };
      socket.on("end", ended);
      socket.on("close", ended);
    });
  }

  static open(port: number): Promise<Peer> {
    return new Promise((resolve, reject) => {
      const s = connect({ host: "127.0.0.1", port, allowHalfOpen: true }, () =>
        resolve(new Peer(s)),
      );
      s.once("error", reject);
    });
  }

  write(bytes: Buffer | number[]): void {
    this.socket.write(Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes));
  }

  /** Exactly `n` bytes; rejects if the connection ends first. */
  async read(n: number, ms = 5000): Promise<Buffer> {
    const deadline = Date.now() + ms;
    while (this.buf.length < n) {
      if (this.ended) throw new Error(`connection ended after ${this.buf.length} of ${n} bytes`);
      if (Date.now() > deadline) throw new Error(`timed out with ${this.buf.length} of ${n} bytes`);
      await new Promise<void>((r) => {
        this.wake = r;
        setTimeout(r, 50);
      });
    }
    const out = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(n);
    return out;
  }

  /** Everything until the other side ends its direction. */
  async readToEnd(ms = 10000): Promise<Buffer> {
    const deadline = Date.now() + ms;
    while (!this.ended) {
      if (Date.now() > deadline) throw new Error("timed out waiting for the end");
      await new Promise<void>((r) => {
        this.wake = r;
        setTimeout(r, 50);
      });
    }
    const out = this.buf;
    this.buf = Buffer.alloc(0);
    return out;
  }
}

/** The SOCKS5 request a XEP-0065 party sends: CONNECT, DOMAINNAME `addr`, port 0. */
export const connectRequest = (addr: string, port = 0): Buffer =>
  Buffer.concat([
    Buffer.from([5, 1, 0, 3, addr.length]),
    Buffer.from(addr, "latin1"),
    Buffer.from([port >> 8, port & 0xff]),
  ]);

/** Greets (no authentication) and CONNECTs with `hash`; resolves with the peer and the reply. */
export async function socks5(port: number, hash: string): Promise<{ peer: Peer; reply: Buffer }> {
  const peer = await Peer.open(port);
  peer.write([5, 1, 0]);
  const method = await peer.read(2);
  if (method[1] !== 0) throw new Error(`method ${method[1]}`);
  peer.write(connectRequest(hash));
  return { peer, reply: await peer.read(7 + hash.length) };
}

let n = 0;
/** Sends an IQ to `to` and waits for its answer. */
export async function iq(
  c: TestClient,
  type: string,
  to: string,
  child: Element,
): Promise<Element> {
  const id = `p${++n}`;
  await c.send(xml("iq", { type, id, to }, child));
  return c.next((el) => el.name === "iq" && el.attrs.id === id);
}

/** §6.3: the Requester asks the proxy to activate `sid` with `target`. */
export const activate = (c: TestClient, proxy: string, sid: string, target: string) =>
  iq(c, "set", proxy, xml("query", { xmlns: NS_BYTESTREAMS, sid }, xml("activate", {}, target)));
