// The rate limit per device: at most one notification per interval. What comes within the
// interval is not dropped but gathered, and goes out as one notification when it ends (with the
// count of everything gathered and the latest message), so the last message of a burst still
// reaches the phone while a chatty contact cannot make the server hammer an app server.

/** Starts a timer; the returned function cancels it (ctx.setTimeout). */
type SetTimer = (fn: () => void, ms: number) => () => void;

interface Device<E> {
  /** When the last notification went out (ms). */
  sentAt: number;
  /** Gathered since then, to send when the interval ends. */
  pending: E | undefined;
  cancel: (() => void) | undefined;
}

export class Throttle<E> {
  private readonly devices = new Map<string, Device<E>>();

  constructor(
    private readonly intervalMs: number,
    private readonly send: (device: string, event: E) => void,
    private readonly merge: (earlier: E, later: E) => E,
    private readonly setTimer: SetTimer,
    private readonly now: () => number = Date.now,
  ) {}

  /** An event for `device`: sent now, or gathered until its interval ends. */
  offer(device: string, event: E): void {
    const now = this.now();
    const d = this.devices.get(device);
    if (!d || now - d.sentAt >= this.intervalMs) {
      d?.cancel?.();
      this.devices.set(device, { sentAt: now, pending: undefined, cancel: undefined });
      this.prune(now);
      return this.send(device, event);
    }
    d.pending = d.pending === undefined ? event : this.merge(d.pending, event);
    d.cancel ??= this.setTimer(() => this.flush(device), d.sentAt + this.intervalMs - now);
  }

  /** The device is gone (disabled, refused by its app server): nothing more for it. */
  forget(device: string): void {
    this.devices.get(device)?.cancel?.();
    this.devices.delete(device);
  }

  private flush(device: string): void {
    const d = this.devices.get(device);
    if (!d || d.pending === undefined) return;
    const event = d.pending;
    this.devices.set(device, { sentAt: this.now(), pending: undefined, cancel: undefined });
    this.send(device, event);
  }

  /** Devices idle for a whole interval need no entry: the table stays as large as the traffic. */
  private prune(now: number): void {
    if (this.devices.size < 1024) return;
    for (const [id, d] of this.devices) {
      if (d.pending === undefined && now - d.sentAt >= this.intervalMs) this.devices.delete(id);
    }
  }
}
