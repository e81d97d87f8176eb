import type { Logger } from "../log.js";
import { keys } from "./keys.js";
import { readStreamEntry, type InboxEntry } from "./protocol.js";
import type { RedisClient } from "./redis.js";

/** Entries read at once; a burst is taken in a few round trips. */
const READ_COUNT = 512;
/** How long one blocking read waits before it looks again (ms); bounds a clean stop. */
const READ_BLOCK_MS = 1_000;

interface Outgoing {
  entry: InboxEntry;
  resolve: () => void;
  reject: (err: unknown) => void;
}

/**
 * This node's inbox: a Redis stream other nodes append to, read through a consumer group so
 * that an entry stays pending until this node acknowledged it. `handle` gets each entry in the
 * stream's order with a `done` to call once the entry's effect is safe (a stanza written to the
 * client's socket or stored); only then is it acknowledged and deleted. An entry the node did
 * not finish when it died is still in the stream for the node that cleans up after it.
 */
export class Inbox {
  /** Entries sent this turn, by node, written together at its end (send()). */
  private readonly outbox = new Map<string, Outgoing[]>();
  private outboxScheduled = false;
  private running = false;
  private loop: Promise<void> | null = null;
  private readonly toAck: string[] = [];
  private ackScheduled = false;

  constructor(
    private readonly redis: RedisClient,
    /** A connection of its own: a blocking read holds it. */
    private readonly reader: RedisClient,
    private readonly node: string,
    private readonly handle: (entry: InboxEntry, done: () => void) => void,
    private readonly log: Logger,
    /** Told how long each entry waited (seconds), from the time in its stream id. */
    private readonly waited: (seconds: number) => void = () => undefined,
    /** Told of each entry written to another node's inbox (metrics). */
    private readonly sent: (entry: InboxEntry) => void = () => undefined,
    /** Told of each stream entry written (one entry, or a batch). */
    private readonly wrote: () => void = () => undefined,
  ) {}

  async start(): Promise<void> {
    try {
      await this.redis.xGroupCreate(keys.inbox(this.node), keys.inboxGroup, "0", {
        MKSTREAM: true,
      });
    } catch (err) {
      if (!String((err as Error).message).includes("BUSYGROUP")) throw err;
    }
    this.running = true;
    this.loop = this.run();
  }

  /**
   * Appends an entry to `node`'s inbox. Entries are written once the current synchronous work
   * is over (a microtask), in the order sent, so that until then the one sent last to a node
   * can still take more copies of the same fan-out (lastQueued(); cluster.ts). Resolves once
   * Redis has it.
   */
  send(node: string, entry: InboxEntry): Promise<void> {
    return new Promise((resolve, reject) => {
      let queue = this.outbox.get(node);
      if (!queue) this.outbox.set(node, (queue = []));
      queue.push({ entry, resolve, reject });
      if (this.outboxScheduled) return;
      this.outboxScheduled = true;
      queueMicrotask(() => this.flushOutbox());
    });
  }

  /** The entry sent last to `node` and not written yet: its fields may still change. */
  lastQueued(node: string): InboxEntry | undefined {
    return this.outbox.get(node)?.at(-1)?.entry;
  }

  /**
   * Writes what was sent this turn: one stream entry per node, holding a batch when there are
   * several (the receiver handles them in order and acknowledges the stream entry once all are
   * safe), so a busy node pays one XADD, one read and one XACK/XDEL per batch, not per stanza.
   */
  private flushOutbox(): void {
    this.outboxScheduled = false;
    for (const [node, queue] of this.outbox) {
      for (const { entry } of queue) this.sent(entry);
      this.wrote();
      const fields: Record<string, string> =
        queue.length === 1
          ? { d: JSON.stringify(queue[0]!.entry) }
          : { b: JSON.stringify(queue.map((o) => o.entry)) };
      this.redis.xAdd(keys.inbox(node), "*", fields).then(
        () => queue.forEach((o) => o.resolve()),
        (err: unknown) => queue.forEach((o) => o.reject(err)),
      );
    }
    this.outbox.clear();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
    this.flushAcks();
  }

  private async run(): Promise<void> {
    while (this.running) {
      let reply;
      try {
        reply = await this.reader.xReadGroup(
          keys.inboxGroup,
          this.node,
          { key: keys.inbox(this.node), id: ">" },
          { COUNT: READ_COUNT, BLOCK: READ_BLOCK_MS },
        );
      } catch (err) {
        if (!this.running) return;
        this.log.warn({ err }, "cannot read the cluster inbox; retrying");
        await new Promise((r) => setTimeout(r, 500));
        continue;
      }
      if (!reply) continue;
      for (const stream of reply as {
        messages: { id: string; message: Record<string, string> }[];
      }[]) {
        for (const { id, message } of stream.messages) this.dispatch(id, message);
      }
    }
  }

  private dispatch(id: string, message: Record<string, string>): void {
    // A stream id is "<ms>-<seq>", the ms on Redis's clock: the lag is meaningful as long as
    // the machines' clocks agree (one machine: exactly).
    const added = Number(id.slice(0, id.indexOf("-")));
    if (added > 0) this.waited(Math.max(0, Date.now() - added) / 1000);
    const entries = readStreamEntry(message);
    if (!entries) {
      this.log.warn({ id }, "unreadable cluster inbox entry dropped");
      this.ack(id);
      return;
    }
    // The stream entry is acknowledged once every entry it holds is safe.
    let open = entries.length;
    const settle = (): void => {
      if (--open === 0) this.ack(id);
    };
    if (open === 0) this.ack(id);
    for (const entry of entries) {
      if (!entry) {
        this.log.warn({ id }, "unreadable cluster inbox entry dropped");
        settle();
        continue;
      }
      let settled = false;
      const done = (): void => {
        if (settled) return;
        settled = true;
        settle();
      };
      try {
        this.handle(entry, done);
      } catch (err) {
        this.log.error({ err, id }, "error while handling a cluster inbox entry");
        done();
      }
    }
  }

  /** Acknowledges and deletes, many entries in one round trip. */
  private ack(id: string): void {
    this.toAck.push(id);
    if (this.ackScheduled) return;
    this.ackScheduled = true;
    setImmediate(() => this.flushAcks());
  }

  private flushAcks(): void {
    this.ackScheduled = false;
    if (this.toAck.length === 0) return;
    const ids = this.toAck.splice(0);
    const key = keys.inbox(this.node);
    this.redis
      .multi()
      .xAck(key, keys.inboxGroup, ids)
      .xDel(key, ids)
      .exec()
      .catch((err: unknown) => this.log.warn({ err }, "cannot acknowledge cluster inbox entries"));
  }
}

/** Every entry still in a (dead) node's inbox, oldest first, for the node cleaning up after it. */
export async function drainInbox(
  redis: RedisClient,
  node: string,
  each: (entry: InboxEntry | undefined) => void,
): Promise<number> {
  const key = keys.inbox(node);
  let start = "-";
  let count = 0;
  for (;;) {
    const batch = await redis.xRange(key, start, "+", { COUNT: 1000 });
    if (batch.length === 0) break;
    for (const { message } of batch) {
      for (const entry of readStreamEntry(message as Record<string, string>) ?? [undefined]) {
        count++;
        each(entry);
      }
    }
    start = `(${batch[batch.length - 1]!.id}`;
  }
  return count;
}
