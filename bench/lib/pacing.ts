// What the worker's paced scenarios share (worker.ts, pep-client.ts): bounded concurrency, the
// wall clock the workers agree on, and sending on a schedule with TCP backpressure.
import { performance } from "node:perf_hooks";
import type { Conn } from "./xmpp.js";

/** Unsent bytes on one connection past which the generator waits for the server to read. */
export const BACKPRESSURE_BYTES = 256 * 1024;

export const wallMs = (): number => performance.timeOrigin + performance.now();
/** The wall clock in µs: unlike performance.now(), comparable between the worker processes
 * (they agree to ~10 µs on one machine), as a message's copies reach occupants in all of them. */
export const wallUs = (): number => Math.round(wallMs() * 1000);

/** Runs `fn` over `items` with at most `concurrency` at a time. */
export async function pool<T>(items: T[], concurrency: number, fn: (item: T) => Promise<void>) {
  let next = 0;
  const lanes = Array.from({ length: Math.min(concurrency, items.length) }, async () => {
    while (next < items.length) await fn(items[next++]!);
  });
  await Promise.all(lanes);
}

export interface Sender {
  conn: Conn;
  /** The start of each message, up to its id's running number. */
  prefix: string;
}

/**
 * Paced sending: every tick, what the schedule (rate msg/s over durationMs) asks for by now,
 * round-robin over the senders, one write per connection per tick (over WebSocket, a frame per
 * message: Conn.writeAll); a sender with over BACKPRESSURE_BYTES unsent is skipped. `message` makes the n-th message (from 0) of sender s.
 */
export async function paced<S extends Sender>(
  senders: S[],
  rate: number,
  durationMs: number,
  message: (s: S, n: number) => string,
): Promise<{ offered: number; sent: number; windowMs: number; backpressured: number }> {
  const start = performance.now();
  const offered = Math.floor((rate * durationMs) / 1000);
  let sent = 0;
  let backpressured = 0;
  let rr = 0;
  await new Promise<void>((resolve) => {
    const batches = new Map<Conn, string[]>();
    const tick = () => {
      const elapsed = performance.now() - start;
      // The n-th message is due in the middle of its slot, (n + ½) / rate: the last is not due
      // at the very end of the window, where all its deliveries would fall after it (at a few
      // messages per second, as into a room, that alone would be percents of the step).
      const due = Math.min(
        offered,
        Math.floor((rate * Math.min(elapsed, durationMs)) / 1000 + 0.5),
      );
      let skips = 0;
      while (sent < due && skips < senders.length) {
        const s = senders[rr++ % senders.length]!;
        if (s.conn.backlog > BACKPRESSURE_BYTES || s.conn.closed) {
          skips++;
          backpressured++;
          continue;
        }
        skips = 0;
        const msg = message(s, sent++);
        const pending = batches.get(s.conn);
        if (pending === undefined) batches.set(s.conn, [msg]);
        else pending.push(msg);
      }
      for (const [conn, stanzas] of batches) conn.writeAll(stanzas);
      batches.clear();
      if (elapsed >= durationMs) resolve();
      else setTimeout(tick, 2);
    };
    tick();
  });
  return { offered, sent, windowMs: performance.now() - start, backpressured };
}
