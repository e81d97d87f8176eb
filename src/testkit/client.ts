import { client, xml } from "@xmpp/client";
import type { Element } from "@xmpp/xml";

export { xml };

/** A logged-in @xmpp/client connection with a few conveniences for tests. */
export interface TestClient {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- @xmpp/client is untyped
  xmpp: any;
  jid: string;
  /**
   * Resolves with the next stanza matching `pred`, one that came earlier and was not taken
   * included; rejects after `ms` (5000 by default) with an error that shows `pred`'s source
   * and the stanzas that came and did not match. Give the test runner a longer timeout than
   * `ms` (mocha: `timeout: 20000` in .mocharc), so this error is the one you see.
   */
  next(pred: (el: Element) => boolean, ms?: number): Promise<Element>;
  send(el: Element): Promise<void>;
  stop(): Promise<void>;
}

export interface ConnectOptions {
  port: number;
  username: string;
  password: string;
  resource?: string;
  domain?: string;
  /** "xmpp" (STARTTLS) or "xmpps" (direct TLS, XEP-0368). */
  scheme?: "xmpp" | "xmpps";
  /** A whole service URL instead, such as "ws://127.0.0.1:5280/ws" (RFC 7395); port is then unused. */
  service?: string;
  /**
   * Let @xmpp/client use SASL2, Bind2 and FAST (XEP-0388, XEP-0386, XEP-0484) when offered, as it
   * does against any server that offers them. Off by default: the client then does not see the
   * SASL2 feature and logs in with RFC 6120 SASL and resource binding, so a session is bound to
   * exactly the resource asked for (Bind2 makes it "tag/generated").
   */
  sasl2?: boolean;
}

/**
 * Connects with STARTTLS + SCRAM-SHA-1 and binds (RFC 6120), or with `sasl2`, as @xmpp/client
 * does by default against a server with SASL2.
 */
export async function connect(opts: ConnectOptions): Promise<TestClient> {
  const xmpp = client({
    service: opts.service ?? `${opts.scheme ?? "xmpp"}://127.0.0.1:${opts.port}`,
    domain: opts.domain ?? "localhost",
    username: opts.username,
    password: opts.password,
    resource: opts.resource,
  });
  xmpp.reconnect.stop();
  if (!opts.sasl2) {
    // Before the library's own listener: it picks SASL2 whenever the features offer it.
    xmpp.prependListener("element", (el: Element) => {
      if (el.is("features", "http://etherx.jabber.org/streams")) {
        el.children = el.children.filter(
          (c) => typeof c === "string" || !c.is("authentication", "urn:xmpp:sasl:2"),
        );
      }
    });
  }
  // The library gives each step 2 s; a loaded CI machine (TLS + SCRAM on 2 cores) may need more.
  xmpp.timeout = 15000;
  const received: Element[] = [];
  const waiters: { pred: (el: Element) => boolean; resolve: (el: Element) => void }[] = [];
  xmpp.on("stanza", (el: Element) => {
    const i = waiters.findIndex((w) => w.pred(el));
    if (i >= 0) waiters.splice(i, 1)[0]!.resolve(el);
    else received.push(el);
  });
  xmpp.on("error", () => {
    /* surfaced through start() or next() */
  });
  const address = await xmpp.start();
  return {
    xmpp,
    jid: address.toString(),
    next(pred, ms = 5000) {
      const at = received.findIndex(pred);
      if (at >= 0) return Promise.resolve(received.splice(at, 1)[0]!);
      return new Promise((resolve, reject) => {
        const w = { pred, resolve: (el: Element) => (clearTimeout(timer), resolve(el)) };
        const timer = setTimeout(() => {
          waiters.splice(waiters.indexOf(w), 1);
          reject(new Error(timeoutMessage(pred, ms, received)));
        }, ms);
        waiters.push(w);
      });
    },
    send: (el) => xmpp.send(el),
    async stop() {
      try {
        await xmpp.stop();
      } catch {
        // already closed
      }
    },
  };
}

/** What a timed-out next() waited for (the filter's source) and what came instead. */
function timeoutMessage(pred: (el: Element) => boolean, ms: number, received: Element[]): string {
  const filter = pred.toString().replace(/\s+/g, " ");
  const short = (el: Element) => {
    const text = el.toString();
    return text.length > 200 ? `${text.slice(0, 200)}…` : text;
  };
  const others =
    received.length === 0
      ? "nothing else came"
      : `unmatched, ${received.length} came: ${received.slice(-5).map(short).join(" ")}`;
  return `timed out after ${ms} ms waiting for a stanza matching ${filter} (${others})`;
}
