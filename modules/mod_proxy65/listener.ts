// The proxy's TCP side: a SOCKS5 listener (RFC 1928 as XEP-0065 uses it, socks5.ts) whose
// connections wait, paired by hash (pairing.ts), until the Requester activates the bytestream
// over XMPP; then their bytes are relayed (relay.ts). Limits for what is never activated
// (XEP-0065 §11.3, denial of service): a wait of activation_timeout, max_connections_per_ip,
// and a cap on bytes sent before activation, which are dropped (§10.1).
//
// One listener serves every virtual host configured with the same ip and port (openListener).
import { createServer, type Server, type Socket } from "node:net";
import type { Logger } from "../../src/moduleapi.js";
import { Pairing, type ActivationRefusal } from "./pairing.js";
import { relay } from "./relay.js";
import { readGreeting, readRequest, reply, Reply } from "./socks5.js";

/** Bytes a client may send before activation (dropped); more, and it is cut off. */
const MAX_EARLY_BYTES = 65536;

export interface ListenerLimits {
  readonly activationTimeoutMs: number;
  readonly maxPerIp: number;
}

interface Conn {
  readonly socket: Socket;
  /** The bytestream's hash, once the SOCKS5 request named it. */
  hash?: string;
  timer: NodeJS.Timeout;
  /** Hands the socket over to the relay: the handshake's handlers let go. */
  detach(): void;
}

export class ProxyListener {
  readonly pairing = new Pairing<Conn>();
  private readonly server: Server;
  private readonly conns = new Set<Conn>();
  private readonly perIp = new Map<string, number>();

  constructor(
    public limits: ListenerLimits,
    private readonly log: Logger,
  ) {
    // Half-open: a sender's FIN must reach the receiver while the other direction goes on.
    this.server = createServer({ allowHalfOpen: true }, (s) => this.accept(s));
  }

  listen(ip: string, port: number): Promise<void> {
    return new Promise((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen({ host: ip, port, exclusive: true }, () => {
        this.server.off("error", reject);
        this.server.on("error", (err) => this.log.error({ err }, "SOCKS5 listener failed"));
        resolve();
      });
    });
  }

  /** The port bound (the one chosen when the option said 0). */
  get port(): number {
    const a = this.server.address();
    return typeof a === "object" && a !== null ? a.port : 0;
  }

  /**
   * Stops listening and ends every connection, waiting or relaying; resolves once the port is
   * free again (a restarted module binds it anew).
   */
  close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const c of this.conns) c.socket.destroy();
    return closed;
  }

  /**
   * The Requester asked to activate the bytestream `hash` (XEP-0065 §6.3): its two connections
   * start relaying, or the reason it cannot be done comes back.
   */
  activate(
    hash: string,
    initiator: string,
    maxPerInitiator: number,
    rate: number,
  ): ActivationRefusal | null {
    const r = this.pairing.activate(hash, initiator, maxPerInitiator);
    if ("refused" in r) return r.refused;
    for (const c of [r.target, r.requester]) c.detach();
    relay(r.target.socket, r.requester.socket, rate);
    this.log.debug({ hash, initiator }, "bytestream activated");
    return null;
  }

  private accept(socket: Socket): void {
    const ip = socket.remoteAddress ?? "";
    const count = (this.perIp.get(ip) ?? 0) + 1;
    if (count > this.limits.maxPerIp) {
      this.log.debug({ ip }, "SOCKS5 connection refused: max_connections_per_ip");
      socket.destroy();
      return;
    }
    this.perIp.set(ip, count);
    socket.setKeepAlive(true, 60_000);

    let stage: "greeting" | "request" | "waiting" | "done" = "greeting";
    let buf: Buffer = Buffer.alloc(0);
    let early = 0;
    const refuse = (why: string, answer?: Buffer) => {
      this.log.debug({ ip, why }, "SOCKS5 connection refused");
      stage = "done";
      if (answer) socket.end(answer);
      else socket.destroy();
    };
    const onData = (chunk: Buffer) => {
      if (stage === "done") return;
      if (stage === "waiting") {
        early += chunk.length;
        if (early > MAX_EARLY_BYTES) refuse("too many bytes before activation");
        return;
      }
      buf = buf.length > 0 ? Buffer.concat([buf, chunk]) : chunk;
      if (stage === "greeting") {
        const g = readGreeting(buf);
        if (g.kind === "more") return;
        if (g.kind === "bad") return refuse(g.why, g.reply);
        socket.write(g.reply);
        buf = buf.subarray(g.consumed);
        stage = "request";
      }
      const r = readRequest(buf);
      if (r.kind === "more") return;
      if (r.kind === "bad") return refuse(r.why, r.reply);
      if (!this.pairing.connect(r.hash, conn)) {
        return refuse(
          "the bytestream has its two connections",
          reply(Reply.notAllowed, r.addr, r.port),
        );
      }
      conn.hash = r.hash;
      socket.write(reply(Reply.succeeded, r.addr, r.port));
      stage = "waiting";
      early = buf.length - r.consumed;
      buf = Buffer.alloc(0);
    };
    // A client that half-closes before activation has nothing more to relay.
    const onEnd = () => socket.destroy();
    const conn: Conn = {
      socket,
      timer: setTimeout(() => {
        this.log.debug({ ip, stage }, "SOCKS5 connection not activated in time");
        socket.destroy();
      }, this.limits.activationTimeoutMs),
      detach: () => {
        clearTimeout(conn.timer);
        socket.off("data", onData);
        socket.off("end", onEnd);
      },
    };
    this.conns.add(conn);
    socket.on("data", onData);
    socket.on("end", onEnd);
    socket.on("error", (err) =>
      this.log.debug({ ip, err: err.message }, "SOCKS5 connection error"),
    );
    socket.on("close", () => {
      clearTimeout(conn.timer);
      this.conns.delete(conn);
      const left = (this.perIp.get(ip) ?? 1) - 1;
      if (left > 0) this.perIp.set(ip, left);
      else this.perIp.delete(ip);
      if (conn.hash !== undefined) this.pairing.disconnect(conn.hash, conn);
    });
  }
}

const shared = new Map<string, { listener: Promise<ProxyListener>; users: number }>();

/**
 * The listener on ip:port, opened by the first host that asks and closed when the last one
 * releases it; each acquire applies its limits (a reload restarts every host with the new ones).
 */
export async function openListener(
  ip: string,
  port: number,
  limits: ListenerLimits,
  log: Logger,
): Promise<{ listener: ProxyListener; release: () => Promise<void> }> {
  const key = `${ip} ${port}`;
  let entry = shared.get(key);
  if (!entry) {
    const created = new ProxyListener(limits, log);
    const opened = { listener: created.listen(ip, port).then(() => created), users: 0 };
    shared.set(key, opened);
    opened.listener.catch(() => shared.delete(key));
    entry = opened;
  }
  const held = entry;
  held.users++;
  let listener: ProxyListener;
  try {
    listener = await held.listener;
  } catch (err) {
    held.users--;
    throw err;
  }
  listener.limits = limits;
  let released = false;
  return {
    listener,
    release: async () => {
      if (released) return;
      released = true;
      if (--held.users > 0) return;
      shared.delete(key);
      await listener.close();
    },
  };
}
