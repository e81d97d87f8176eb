// Publishing notifications to app servers (XEP-0357 §7): a pubsub publish from the server's JID
// to the registered service and node, sent through the router with ctx.request, so an app
// server on another domain is reached the same way as a local one. An error answer disables
// the registration (§7.1), unless it is a temporary one (type wait, or no answer in time).
import {
  buildForm,
  isStanzaError,
  xml,
  type Element,
  type ModuleContext,
  type ModuleCounter,
} from "../../src/moduleapi.js";
import { registrationKey, type Registration, type Registrations } from "./registrations.js";
import { merge, notification, type PushEvent, type Reveal } from "./summary.js";
import { Throttle } from "./throttle.js";

const NS_PUBSUB = "http://jabber.org/protocol/pubsub";
export const FORM_PUBLISH_OPTIONS = "http://jabber.org/protocol/pubsub#publish-options";

export interface PusherOptions extends Reveal {
  /** Seconds between two notifications to one device (0: no limit). */
  interval: number;
}

export class Pusher {
  private readonly throttle: Throttle<PushEvent>;
  private readonly results: ModuleCounter<"result">;
  private stopped = false;

  constructor(
    private readonly ctx: ModuleContext<unknown>,
    private readonly registrations: Registrations,
    private readonly opts: PusherOptions,
    /** Called when a registration was dropped after an error (to unlink it from sessions). */
    private readonly dropped: (username: string, key: string) => void,
  ) {
    this.throttle = new Throttle<PushEvent>(
      opts.interval * 1000,
      (device, event) => this.publish(device, event),
      merge,
      (fn, ms) => ctx.setTimeout(fn, ms),
    );
    this.results = ctx.counter(
      "notifications_total",
      "Push notifications published to app servers (XEP-0357), by the app server's answer",
      ["result"],
    );
    // ctx.request fails what still waits with service-unavailable: not the app server's answer.
    ctx.onStop(() => {
      this.stopped = true;
    });
  }

  /** Notifies the devices `keys` of the account `username`. */
  notify(username: string, keys: Iterable<string>, event: PushEvent): void {
    for (const key of keys) this.throttle.offer(JSON.stringify([username, key]), event);
  }

  /** Notifies every device of the account (a message went to offline storage). */
  async notifyAll(username: string, event: PushEvent): Promise<void> {
    const all = await this.registrations.all(username);
    this.notify(
      username,
      all.map((r) => registrationKey(r.jid, r.node)),
      event,
    );
  }

  /** The registration is gone (disabled): nothing gathered for it goes out. */
  forget(username: string, key: string): void {
    this.throttle.forget(JSON.stringify([username, key]));
  }

  private publish(device: string, event: PushEvent): void {
    const [username, key] = JSON.parse(device) as [string, string];
    this.registrations
      .get(username, key)
      .then((r) => (r ? this.send(username, key, r, event) : undefined))
      .catch((err: unknown) =>
        this.ctx.log.error({ err, user: username }, "could not send a push notification"),
      );
  }

  private async send(
    username: string,
    key: string,
    r: Registration,
    event: PushEvent,
  ): Promise<void> {
    const pubsub = xml(
      "pubsub",
      { xmlns: NS_PUBSUB },
      xml("publish", { node: r.node }, xml("item", {}, notification(event, this.opts))),
    );
    // §5, §7: what the client gave when enabling goes with every publish, as publish-options.
    if (r.options.length > 0) pubsub.append(publishOptions(r.options));
    const log = this.ctx.log.child({
      user: `${username}@${this.ctx.host}`,
      push: r.jid,
      node: r.node,
    });
    try {
      await this.ctx.request(xml("iq", { type: "set", to: r.jid }, pubsub));
      this.results.inc({ result: "accepted" });
      log.debug("push notification accepted");
    } catch (err) {
      if (this.stopped) return;
      if (!isStanzaError(err)) throw err;
      // §7.1: a temporary failure (type wait: the app server is busy, or no answer came in
      // time) leaves the registration; any other error disables it, as ejabberd does.
      if (err.type === "wait") {
        this.results.inc({ result: "temporary-error" });
        return log.info({ condition: err.condition }, "push notification failed for now");
      }
      this.results.inc({ result: "rejected" });
      this.forget(username, key);
      // Logged once the removal is stored (or failed), so that the line says what is so.
      let removed = false;
      try {
        removed = await this.registrations.removeRefused(username, r);
      } finally {
        log.warn(
          { condition: err.condition, text: err.text },
          removed
            ? "app server refused a push notification; registration removed"
            : "app server refused a push notification; its registration had changed or could not be removed",
        );
      }
      if (removed) this.dropped(username, key);
    }
  }
}

function publishOptions(options: Registration["options"]): Element {
  const fields = options.map(([name, values]) => ({ var: name, value: values }));
  return xml(
    "publish-options",
    {},
    buildForm({ type: "submit", formType: FORM_PUBLISH_OPTIONS, fields }),
  );
}
