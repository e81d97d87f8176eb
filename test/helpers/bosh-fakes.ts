// Fakes for unit tests of the BOSH connection manager: a clock the test moves, HTTP replies
// that record their answer, and a transport owner that records what it hears.
import type { Element } from "@xmpp/xml";
import { BoshManager } from "../../src/transport/bosh/manager.js";
import {
  DEFAULT_LIMITS,
  type AbortListener,
  type BoshClock,
  type BoshLimits,
  type BoshReply,
  type ClockTimer,
} from "../../src/transport/bosh/types.js";
import type { Transport, TransportOwner } from "../../src/transport/transport.js";
import type { StreamError } from "../../src/xmpp/errors.js";
import { createLogger } from "../../src/log.js";

export class FakeClock implements BoshClock {
  t = 1_000_000;
  private timers: { at: number; fn: () => void; h: ClockTimer }[] = [];
  now(): number {
    return this.t;
  }
  setTimer(fn: () => void, ms: number): ClockTimer {
    const h = {};
    this.timers.push({ at: this.t + ms, fn, h });
    return h;
  }
  clearTimer(h: ClockTimer): void {
    this.timers = this.timers.filter((x) => x.h !== h);
  }
  /** Moves time on by `ms`, running the timers that fall due, in order. */
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      this.timers.sort((a, b) => a.at - b.at);
      const next = this.timers[0];
      if (!next || next.at > end) break;
      this.timers.shift();
      this.t = next.at;
      next.fn();
    }
    this.t = end;
  }
  get pending(): number {
    return this.timers.length;
  }
}

export class FakeReply implements BoshReply {
  body: string | null = null;
  status: number | null = null;
  aborted = false;
  private listener: AbortListener | null = null;
  send(body: string, _ct: string, cb?: (err?: Error | null) => void, status = 200): void {
    if (this.body !== null || this.aborted) throw new Error("answered twice");
    this.body = body;
    this.status = status;
    cb?.(null);
  }
  abort(): void {
    this.aborted = true;
  }
  onAbort(listener: AbortListener): void {
    this.listener = listener;
  }
  /** The client closes its connection before the answer. */
  clientCloses(): void {
    this.aborted = true;
    this.listener?.aborted(this);
  }
  get answered(): boolean {
    return this.body !== null;
  }
}

/** Records what the transport reports; answers like a tiny XMPP session. */
export class FakeOwner implements TransportOwner {
  transport!: Transport;
  starts: Record<string, string>[] = [];
  elements: Element[] = [];
  ended = false;
  errors: StreamError[] = [];
  disconnects: string[] = [];
  onStreamStart(attrs: Record<string, string>): void {
    this.starts.push(attrs);
    this.transport.sendHeader(attrs.to ?? "");
    this.transport.write("<stream:features><x/></stream:features>");
  }
  onElement(el: Element): void {
    this.elements.push(el);
    if (el.attrs.echo) this.transport.write(`<message id='${el.attrs.echo}'/>`);
  }
  onStreamEnd(): void {
    this.ended = true;
    this.transport.closeStream(undefined, "localhost");
  }
  onStreamError(err: StreamError): void {
    this.errors.push(err);
    this.transport.closeStream(err, "localhost");
  }
  onDisconnect(reason: string): void {
    this.disconnects.push(reason);
  }
}

export const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

/** What a test may set: the manager's limits, and the listener's max_stanza_size. */
export type FakeLimits = Partial<BoshLimits> & { maxStanzaSize?: number };

/** A manager on a fake clock whose sessions are FakeOwners. */
export function fakeManager({ maxStanzaSize = 262144, ...limits }: FakeLimits = {}): {
  manager: BoshManager;
  clock: FakeClock;
  owners: FakeOwner[];
  post(xml: string, secure?: boolean): FakeReply;
} {
  const clock = new FakeClock();
  const owners: FakeOwner[] = [];
  const manager = new BoshManager({
    limits: { ...DEFAULT_LIMITS, ...limits },
    isHost: (d) => d === "localhost",
    accept: (_conn, make) => {
      const owner = new FakeOwner();
      owners.push(owner);
      owner.transport = make(owner);
    },
    log: createLogger("silent"),
    clock,
  });
  return {
    manager,
    clock,
    owners,
    post(xml, secure = false) {
      const r = new FakeReply();
      manager.request(Buffer.from(xml), r, { secure, remoteAddress: "127.0.0.1", maxStanzaSize });
      return r;
    },
  };
}
