import type { Server } from "node:net";
import type { Socket } from "node:net";
import type { Logger } from "../log.js";
import { TokenBucket } from "./token-bucket.js";

/** A listener's limits per peer address; Infinity for none. */
export interface PerIpLimits {
  /** `max_connections_per_ip`: connections one address may hold open at once. */
  maxConnections: number;
  /** `max_connection_rate_per_ip`: new connections one address may open per minute. */
  maxRatePerMinute?: number;
}

/** How often idle addresses are forgotten (and their refusals may be logged again). */
const SWEEP_MS = 60_000;

interface PerAddress {
  open: number;
  /** New connections allowed: a bucket of maxRatePerMinute, refilled over a minute. */
  bucket: TokenBucket | null;
  /** A refusal was logged since the last sweep (a flood gets one line a minute, not one each). */
  logged: boolean;
}

/**
 * Closes a connection at once, before TLS and before any XMPP, when its peer's address already
 * holds `maxConnections` on this listener or opened more than `maxRatePerMinute` in the last
 * minute (a burst of that many is allowed, then that many a minute). Memory stays bounded by
 * the addresses seen within a minute.
 */
export function limitPerIp(server: Server, limits: PerIpLimits, log: Logger): void {
  const { maxConnections: max, maxRatePerMinute: rate = Infinity } = limits;
  if (max === Infinity && rate === Infinity) return;
  const peers = new Map<string, PerAddress>();
  const sweep = setInterval(() => {
    const now = Date.now();
    for (const [ip, p] of peers) {
      p.logged = false;
      if (p.open === 0 && (!p.bucket || p.bucket.available(now) >= p.bucket.burst)) {
        peers.delete(ip);
      }
    }
  }, SWEEP_MS);
  sweep.unref();
  server.once("close", () => clearInterval(sweep));
  // Before the server's own listeners, so a refused connection reaches no parser or handshake.
  server.prependListener("connection", (socket: Socket) => {
    const ip = socket.remoteAddress ?? "unknown";
    const now = Date.now();
    let p = peers.get(ip);
    if (!p) {
      const bucket = rate === Infinity ? null : new TokenBucket(rate / 60, rate, now);
      p = { open: 0, bucket, logged: false };
      peers.set(ip, p);
    }
    const why =
      p.open >= max
        ? "max_connections_per_ip"
        : p.bucket && p.bucket.available(now) < 1
          ? "max_connection_rate_per_ip"
          : null;
    if (why) {
      if (!p.logged) {
        log.warn({ ip, limit: why, open: p.open }, `${why} reached; connections closed`);
        p.logged = true;
      }
      socket.destroy();
      return;
    }
    p.bucket?.take(1, now);
    p.open++;
    const peer = p;
    socket.once("close", () => {
      peer.open--;
    });
  });
}
