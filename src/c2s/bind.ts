import { accessOf } from "../access.js";
import { randomBytes } from "node:crypto";
import { xml, type Element } from "@xmpp/xml";
import { JIDError, makeJID, type JID } from "../jid.js";
import { NS } from "../xmpp/ns.js";
import { StanzaError, StreamError } from "../xmpp/errors.js";
import { iqResult } from "../stanza.js";
import type { C2SStream, StreamFeature } from "./stream.js";
import { then, type MaybePromise } from "../maybe.js";

/** Resource binding (RFC 6120 §7), offered once authenticated. */
export function bindFeature(stream: C2SStream): StreamFeature {
  return {
    stage: "post-auth",
    // Not again once bound (XEP-0386 binds during SASL2).
    advertise: (features) => void (stream.bound || features.c("bind", { xmlns: NS.bind })),
    accepts: (el) => el.is("iq", NS.client) && el.getChild("bind", NS.bind) !== undefined,
    handle: (el) => handleBind(stream, el),
  };
}

/**
 * The legacy session establishment request (RFC 3921 §3), still sent by old clients: offered as
 * optional (RFC 6121 does not require it), and answered before and after binding.
 */
export function legacySessionFeature(stream: C2SStream): StreamFeature {
  return {
    stage: "post-auth",
    advertise: (features) => void features.c("session", { xmlns: NS.session }).c("optional"),
    accepts: isLegacySession,
    handle: (el) => handleLegacySession(stream, el),
  };
}

export function isLegacySession(el: Element): boolean {
  return el.is("iq", NS.client) && el.getChild("session", NS.session) !== undefined;
}

function handleBind(session: C2SStream, iq: Element): MaybePromise<void> {
  if (iq.attrs.type !== "set" || !iq.attrs.id) {
    throw new StanzaError("bad-request", "bind is an IQ set with an id (RFC 6120 §7.4)");
  }
  const requested = iq.getChild("bind", NS.bind)?.getChildText("resource");
  let jid: JID;
  try {
    // §7.6: an empty or absent resource means "pick one for me"; ours are unguessable.
    const resource = requested ? requested : randomBytes(9).toString("base64url");
    jid = makeJID(session.username!, session.host!, resource);
  } catch (err) {
    if (err instanceof JIDError) {
      throw new StanzaError("bad-request", `the resource is not allowed: ${err.message}`);
    }
    throw err;
  }
  checkSessionAllowed(session, jid);
  return bindSession(session, jid, () =>
    session.deliver(iqResult(iq, xml("bind", { xmlns: NS.bind }, xml("jid", {}, jid.toString())))),
  );
}

/**
 * Whether `jid` may open a session here: the listener's `access` rule, asked with the JID and
 * the client's address (ejabberd answers a denied bind with not-allowed), then RFC 6120 §7.6.2.1
 * resource-constraint when the account has no session to spare — ejabberd's `max_user_sessions`
 * shaper rule for this user, else the top-level max_user_sessions.
 */
export function checkSessionAllowed(session: C2SStream, jid: JID): void {
  const { ctx } = session;
  const access = accessOf(ctx.config);
  if (!access.allowed(session.listener.access, { jid, ip: session.transport.remoteAddress })) {
    session.log.warn({ jid: jid.toString() }, "session refused by the listener's access rule");
    throw new StanzaError("not-allowed", "access denied by service policy");
  }
  const existing = ctx.sm.get(jid);
  const others = ctx.sm.resourceCount(jid.bare()) - (existing ? 1 : 0);
  const limit = access.limit("max_user_sessions", jid, ctx.config.maxUserSessions);
  if (others >= limit) {
    throw new StanzaError("resource-constraint", `at most ${limit} sessions per account`);
  }
}

/**
 * Binds `jid` to the session: what every way of binding does (RFC 6120 §7 here, XEP-0386 in
 * bind2.ts), so a session is the same whichever way it was bound. `answer` tells the client,
 * synchronously, before anything else reaches it: what a replaced session hands back to routing
 * comes after. The returned promise settles once modules loaded the user's data: the session's
 * next stanza waits for it.
 */
export function bindSession(session: C2SStream, jid: JID, answer: () => void): MaybePromise<void> {
  session.onBound(jid);
  const ctx = session.ctx;
  const replaced = ctx.sm.register(session);
  answer();
  // §7.7.2.2: the newer session wins; the older one is told why it is closed.
  if (replaced && replaced !== session) {
    replaced.close(
      new StreamError("conflict", "replaced by a new connection with the same resource"),
    );
  }
  return then(ctx.hooks.runAsync("sm_register_connection", { session }), () => undefined);
}

/** Answered with an empty result so old clients proceed. */
export function handleLegacySession(session: C2SStream, iq: Element): void {
  if (iq.attrs.type !== "set") throw new StanzaError("bad-request");
  const reply = iqResult(iq);
  delete reply.attrs.from;
  session.deliver(reply);
}
