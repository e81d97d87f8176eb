// mod_ping: XEP-0199 XMPP Ping. Answers pings to the server (and, on the user's behalf, to a
// user's bare JID) with an empty result; with send_pings, pings clients that have sent nothing
// for ping_interval and, with timeout_action: kill, closes the session of one that does not
// answer within ping_ack_timeout (ejabberd's options and meaning). That keepalive is what ends a
// session whose client is gone without a TCP reset, or one that trickles a stanza a byte at a
// time (a slow-loris client: it sends bytes, never a whole stanza, so it never answers).
import {
  defineModule,
  isStanzaError,
  opt,
  StreamError,
  xml,
  type JID,
  type ModuleContext,
  type OptionsOf,
} from "../src/moduleapi.js";

const NS_PING = "urn:xmpp:ping";
/** Pings waiting for an answer at once, at most: the server's IQ table is shared (10 000). */
const MAX_IN_FLIGHT = 2000;

const options = {
  send_pings: opt.boolean(false, "Ping clients that have sent nothing for ping_interval"),
  ping_interval: opt.seconds(60, "Seconds without a stanza from a client before it is pinged", {
    min: 1,
  }),
  ping_ack_timeout: opt.seconds(32, "Seconds a client has to answer a ping", { min: 1 }),
  timeout_action: opt.oneOf(
    ["none", "kill"] as const,
    "none",
    "What to do with a client that does not answer: none, or kill (close its session)",
  ),
};

export default defineModule({
  name: "mod_ping",
  description: "XEP-0199: answers pings to the server, and pings idle clients (send_pings)",
  options,
  start(ctx) {
    ctx.feature(NS_PING);
    // XEP-0199 §4.2: client-to-server ping; the result carries no payload.
    ctx.iq("get", NS_PING, "ping", () => null);
    if (ctx.options.send_pings) keepalive(ctx);
  },
});

/**
 * XEP-0199 §4.1 server-to-client pings. A session's clock restarts with every stanza it sends
 * (the user_send_packet hook: a whole stanza, so bytes trickling into one do not count) and with
 * every answer to a ping. Each session has one timer, due ping_interval after the last of them
 * (a stanza only moves the clock; the timer, when it fires early, is set again for the rest), so
 * that the pings of ten thousand idle sessions spread out as their logins did, with no sweep over
 * all sessions. Any answer counts, an error too (§4.1: a client without ping support answers
 * service-unavailable): only silence for ping_ack_timeout means the client is gone.
 */
function keepalive(ctx: ModuleContext<OptionsOf<typeof options>>): void {
  const { ping_interval, ping_ack_timeout, timeout_action } = ctx.options;
  const intervalMs = ping_interval * 1000;
  const clock = ctx.sessionState<{ at: number; timer: NodeJS.Timeout | null }>();
  // Node's own timers, not ctx.setTimeout (which keeps every timer until the module stops): one
  // per session, set again every ping_interval.
  const timers = new Set<NodeJS.Timeout>();
  let inFlight = 0;
  const arm = (jid: JID, ms: number) => {
    const c = clock.get(jid);
    if (!c) return;
    if (c.timer) {
      clearTimeout(c.timer);
      timers.delete(c.timer);
    }
    const timer = setTimeout(() => {
      timers.delete(timer);
      c.timer = null;
      due(jid);
    }, ms);
    timer.unref();
    timers.add(timer);
    c.timer = timer;
  };
  const due = (jid: JID) => {
    const c = clock.get(jid);
    if (!c) return; // the session ended
    const quiet = Date.now() - c.at;
    if (quiet < intervalMs) return arm(jid, intervalMs - quiet);
    const session = ctx.server.session(jid);
    // A session waiting for resumption (XEP-0198) has no client to answer; the cap keeps the
    // server's shared IQ table from filling.
    if (!session?.live || inFlight >= MAX_IN_FLIGHT) return arm(jid, 1000);
    inFlight++;
    const iq = xml("iq", { type: "get", to: jid.toString() }, xml("ping", { xmlns: NS_PING }));
    ctx.request(iq, ping_ack_timeout * 1000).then(
      () => answered(jid),
      (err: unknown) => {
        if (isStanzaError(err) && err.condition === "remote-server-timeout") silent(jid);
        else answered(jid);
      },
    );
  };
  const answered = (jid: JID) => {
    inFlight--;
    const c = clock.get(jid);
    if (!c) return;
    c.at = Date.now();
    arm(jid, intervalMs);
  };
  const silent = (jid: JID) => {
    inFlight--;
    const c = clock.get(jid);
    if (!c) return; // the session ended meanwhile
    c.at = Date.now();
    if (timeout_action !== "kill") return arm(jid, intervalMs);
    ctx.log.info({ jid: jid.toString() }, "no answer to a ping: closing the session");
    // RFC 6120 §4.9.3.4: the other party has permanently lost the ability to communicate.
    ctx.server.session(jid)?.close(new StreamError("connection-timeout", "no answer to a ping"));
  };
  ctx.hook("sm_register_connection", ({ session }) => {
    clock.set(session.jid, { at: Date.now(), timer: null });
    arm(session.jid, intervalMs);
  });
  ctx.hook("user_send_packet", ({ session }) => {
    const c = clock.get(session.jid);
    if (c) c.at = Date.now();
  });
  ctx.hook("sm_remove_connection", ({ session }) => {
    const c = clock.get(session.jid);
    if (c?.timer && ctx.server.session(session.jid) === undefined) {
      clearTimeout(c.timer);
      timers.delete(c.timer);
      c.timer = null;
    }
  });
  ctx.onStop(() => {
    for (const t of timers) clearTimeout(t);
    timers.clear();
  });
}
