// XEP-0386 Bind 2 (1.1): resource binding requested inside SASL2's <authenticate/> and done
// before its <success/>, with session features switched on in the same step. Sections cited are
// the XEP's: §Discovering support, §Performing the bind, §Resource identifier generation. The
// bound session is made by the same code as an RFC 6120 bind (bind.ts: bindSession).
import { createHash, randomBytes } from "node:crypto";
import { xml, type Element } from "@xmpp/xml";
import { SaslFailure } from "../auth/sasl.js";
import { JIDError, makeJID, prepResourcepart, type JID } from "../jid.js";
import { isPromise, type MaybePromise } from "../maybe.js";
import { isModuleFault } from "../module-fault.js";
import { isStanzaError } from "../xmpp/errors.js";
import { bindSession, checkSessionAllowed } from "./bind.js";
import { NS_SM } from "./stream-mgmt.js";
import type { C2SStream } from "./stream.js";

export const NS_BIND2 = "urn:xmpp:bind:0";

/** A tag names the client software ("AwesomeXMPP"): a short text, not a paragraph. */
const MAX_TAG_CHARS = 100;

/** A client's <bind/> request: its tag, and the session features it asks for inline. */
export interface Bind2Request {
  tag: string | null;
  features: Element[];
}

/** §Discovering support: <bind/> inside SASL2's <inline/>, listing the features it can enable. */
export function advertiseBind2(session: C2SStream, inline: Element): void {
  const features = inline.c("bind", { xmlns: NS_BIND2 }).c("inline");
  // XEP-0198 §SASL2 And BIND2 Interaction: <enable/> inline is the core's own.
  if (session.smHandler.options()) features.c("feature", { var: NS_SM });
  for (const f of session.ctx.bind2Inline.of(session.host!)) {
    features.c("feature", { var: f.xmlns });
  }
}

/**
 * The <bind/> of an <authenticate/>, checked before the exchange starts so that a bad one fails
 * the authentication (malformed-request) instead of binding something else than asked for.
 */
export function parseBind2Request(authenticate: Element): Bind2Request | null {
  const bind = authenticate.getChild("bind", NS_BIND2);
  if (!bind) return null;
  const tagEl = bind.getChild("tag");
  let tag: string | null = null;
  if (tagEl) {
    const text = tagEl.getText();
    try {
      if (text.length > MAX_TAG_CHARS)
        throw new JIDError(`longer than ${MAX_TAG_CHARS} characters`);
      tag = prepResourcepart(text);
    } catch (err) {
      if (!(err instanceof JIDError)) throw err;
      // §Resource identifier generation: the tag is used "subject to the necessary validation".
      throw new SaslFailure(
        "malformed-request",
        `the Bind2 tag is not usable in a resource: ${err.message}`,
      );
    }
  }
  const features = bind.getChildElements().filter((el) => el !== tagEl);
  return { tag, features };
}

/**
 * §Resource identifier generation: "[client tag]/[server generated identifier]". With a
 * <user-agent id/> the generated part is stable for the same tag and client installation (so a
 * reconnecting client replaces its own old session, as §Performing the bind asks), derived from
 * the id by a one-way hash that does not reveal it; without one, it is random.
 */
export function bind2Jid(
  session: C2SStream,
  username: string,
  request: Bind2Request,
  agentId: string | undefined,
): JID {
  const host = session.host!;
  const generated = agentId
    ? createHash("sha256")
        .update(`parley bind2\0${username}@${host}\0${agentId}\0${request.tag ?? ""}`)
        .digest("base64url")
        .slice(0, 12)
    : randomBytes(9).toString("base64url");
  const resource = request.tag ? `${request.tag}/${generated}` : generated;
  const jid = makeJID(username, host, resource);
  try {
    checkSessionAllowed(session, jid);
  } catch (err) {
    // Checked before <success/>: the client is told at once and may try again later.
    // A policy refusal (the listener's access rule) is final (RFC 6120 §6.5.10); too many
    // sessions may pass.
    if (isStanzaError(err)) {
      const final = err.condition === "not-allowed";
      throw new SaslFailure(final ? "not-authorized" : "temporary-auth-failure", err.text);
    }
    throw err;
  }
  return jid;
}

/**
 * §Performing the bind: what the modules put into <bound/> unasked (ctx.bind2Bound; XEP-0313's
 * archive <metadata/>), for a client of `account` about to be bound. Synchronous when no module
 * adds anything, so a login without them waits for nothing. A part that fails is left out (it
 * was logged): it never fails the login.
 */
export function boundParts(session: C2SStream, account: JID): MaybePromise<Element[]> {
  const parts = session.ctx.bind2Inline.boundPartsOf(session.host!);
  if (parts.length === 0) return [];
  const skip = (err: unknown): void => {
    // A ModuleFault was logged with its module.
    if (!isModuleFault(err)) session.log.error({ err }, "a Bind2 <bound/> part failed");
  };
  // In the order the parts were added, whichever answers first.
  const out: (Element | undefined)[] = [];
  const waiting: Promise<void>[] = [];
  parts.forEach((part, i) => {
    try {
      const el = part.bound(account);
      if (isPromise(el)) waiting.push(el.then((got) => void (out[i] = got), skip));
      else out[i] = el;
    } catch (err) {
      skip(err);
    }
  });
  const present = (): Element[] => out.filter((el): el is Element => el !== undefined);
  return waiting.length === 0 ? present() : Promise.all(waiting).then(present);
}

/**
 * §Performing the bind, once authenticated: binds `jid` as RFC 6120 binding does, switches on
 * the features the client asked for, in its order, and hands <bound/> with their answers and
 * `parts` (from boundParts) to `answer`, which tells the client. Settles when the session may
 * handle its first stanza.
 */
export function bind2(
  session: C2SStream,
  jid: JID,
  request: Bind2Request,
  parts: readonly Element[],
  answer: (bound: Element) => void,
): MaybePromise<void> {
  return bindSession(session, jid, () => answer(enableInline(session, request, parts)));
}

function enableInline(
  session: C2SStream,
  request: Bind2Request,
  parts: readonly Element[],
): Element {
  // The XEP's example puts the archive metadata first.
  const bound = xml("bound", { xmlns: NS_BIND2 }, ...parts);
  const offered = session.ctx.bind2Inline.of(session.host!);
  for (const el of request.features) {
    const ns = el.getNS();
    if (ns === NS_SM) {
      // XEP-0198 §Enable Stream Management Inline: the <enabled/> or <failed/> goes in <bound/>.
      if (el.name === "enable") bound.append(session.smHandler.enableInline(el));
      continue;
    }
    // A feature we did not offer is not enabled (XEP-0388 §Initiation: unknown inline
    // requests are ignored).
    const feature = offered.find((f) => f.xmlns === ns);
    try {
      const result = feature?.enable(session, el);
      if (result) bound.append(result);
    } catch (err) {
      // The session goes on without that feature (a ModuleFault was logged with its module).
      if (!isModuleFault(err)) session.log.error({ err, xmlns: ns }, "Bind2 inline feature failed");
    }
  }
  return bound;
}
