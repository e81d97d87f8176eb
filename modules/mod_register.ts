// mod_register: XEP-0077 In-Band Registration. New users create an account on the stream
// before they authenticate; users change their password or remove their account after.
//
// Handles:
//   before authentication (c2s_unauthenticated_packet, encrypted streams only):
//     get <query xmlns='jabber:iq:register'/>              the fields to fill in (§3.1)
//     set <query><username/><password/></query>            creates the account (§3.1, §3.1.1)
//     the <register xmlns='http://jabber.org/features/iq-register'/> stream feature (§8)
//   after authentication (to the host, or with no 'to'):
//     get <query xmlns='jabber:iq:register'/>              <registered/> and the username (§3.1)
//     set <query><username/><password/></query>            changes the password (§3.3)
//     set <query><remove/></query>                         removes the account (§3.2)
//
// Who may register is ejabberd's: `access` is asked with the new account's JID, `ip_access`
// with the client's address, `access_remove` with the user leaving; a rule that denies gets
// forbidden (XEP-0077 §3.1, §3.2). `access: none` closes registration altogether (no stream
// feature, service-unavailable), as in ejabberd. The account store is reached through
// ctx.accounts.
import {
  defineModule,
  opt,
  xml,
  type Element,
  type IqRequest,
  prepLocalpart,
  errorReply,
  iqResult,
  type SessionHandle,
  type JID,
  makeJID,
} from "../src/moduleapi.js";

const NS_REGISTER = "jabber:iq:register";
const NS_FEATURE = "http://jabber.org/features/iq-register";
const NS_CLIENT = "jabber:client";

export default defineModule({
  name: "mod_register",
  description: "XEP-0077: in-band account registration, password change and removal",
  options: {
    access: opt.access(
      "none",
      "Which new accounts may be registered in-band (an access rule asked with the new JID); none closes registration",
    ),
    ip_access: opt.access(
      "all",
      "From which addresses accounts may be registered (an access rule asked with the client's IP)",
    ),
    access_remove: opt.access(
      "all",
      "Who may remove their own account in-band (an access rule asked with the user's JID)",
    ),
    password_strength: opt.integer(
      0,
      "Least entropy, in bits, of a new password (ejabberd's estimate); 0 checks nothing",
      { min: 0 },
    ),
    registration_timeout: opt.integer(
      600,
      "Seconds between two registrations from one IP address; 0 or infinity: no limit",
      { min: 0, infinity: true },
    ),
  },
  start(ctx) {
    const { StanzaError } = ctx;
    // As ejabberd's stream feature: only the literal none closes registration; a rule may
    // still refuse one username or address when it is tried.
    const open = ctx.options.access !== "none" && ctx.options.ip_access !== "none";
    const timeout = ctx.options.registration_timeout;
    const throttled = timeout > 0 && Number.isFinite(timeout);
    /** When each IP address last registered an account (for registration_timeout). */
    const lastByIp = new Map<string, number>();
    /** Streams that have registered an account already (§3.1.1). */
    const registeredOn = new WeakSet<SessionHandle>();

    // §10: the server speaks jabber:iq:register (password change and removal at least).
    ctx.feature(NS_REGISTER, "host");

    // §8: the stream feature, where registration is possible: open, and the stream encrypted.
    ctx.hook("c2s_stream_features", ({ session, features, stage }) => {
      if (stage === "pre-auth" && open && session.secure) {
        features.c("register", { xmlns: NS_FEATURE });
      }
    });

    // --- before authentication -------------------------------------------------------------

    ctx.hook("c2s_unauthenticated_packet", ({ session, stanza }) => {
      const type = stanza.attrs.type;
      const query = stanza.getChild("query", NS_REGISTER);
      if (stanza.name !== "iq" || stanza.getNS() !== NS_CLIENT || !query) return;
      if (!stanza.attrs.id || (type !== "get" && type !== "set")) return;
      // Registration with this server only; anything else waits for authentication.
      if (stanza.attrs.to !== undefined && stanza.attrs.to !== ctx.host) return;
      const answer = (payload: Element | null): void => {
        const reply = iqResult(stanza, payload ?? undefined);
        reply.attrs.from = stanza.attrs.to ?? ctx.host;
        delete reply.attrs.to; // the stream has no address yet
        session.deliver(reply);
      };
      const fail = (err: unknown): void => {
        const reply = errorReply(stanza, asStanzaError(err));
        if (!reply) return;
        reply.attrs.from = stanza.attrs.to ?? ctx.host;
        delete reply.attrs.to;
        session.deliver(reply);
      };
      try {
        if (type === "get") answer(registrationForm(session));
        else register(session, query).then(() => answer(null), fail);
      } catch (err) {
        fail(err);
      }
      return ctx.STOP;
    });

    /** Whether this stream may register at all; throws the error that says why not. */
    function mayRegister(session: SessionHandle): void {
      // §3.1: a host without in-band registration answers service-unavailable.
      if (!open) throw new StanzaError("service-unavailable", "in-band registration is closed");
      // §11: the password travels in the clear inside the stream; only over TLS. The condition
      // is the one §3.3 names for a channel not safe enough.
      if (!session.secure) {
        throw new StanzaError("not-authorized", "encrypt the stream (STARTTLS) before registering");
      }
    }

    /** §3.1: the fields an unregistered entity must provide. */
    function registrationForm(session: SessionHandle): Element {
      mayRegister(session);
      return xml(
        "query",
        { xmlns: NS_REGISTER },
        xml("instructions", {}, "Choose a username and password to register on this server."),
        xml("username"),
        xml("password"),
      );
    }

    /** §3.1: creates an account for an unauthenticated stream. */
    async function register(session: SessionHandle, query: Element): Promise<void> {
      mayRegister(session);
      // §3.2: cancelling needs a registered, authenticated entity.
      if (query.getChild("remove")) {
        throw new StanzaError("unexpected-request", "authenticate before removing an account");
      }
      // §3.1.1: one account per stream; then authenticate.
      if (registeredOn.has(session)) {
        throw new StanzaError("not-acceptable", "this stream has registered an account already");
      }
      const username = query.getChildText("username")?.trim() ?? "";
      const password = query.getChildText("password") ?? "";
      // §3.1: every field asked for, and a non-empty password (footnote), or not-acceptable.
      if (username === "" || password === "") {
        throw new StanzaError("not-acceptable", "both a username and a password are required");
      }
      const ip = session.remoteAddress;
      let jid: JID;
      try {
        jid = makeJID(username, ctx.host);
      } catch (err) {
        // Not a valid localpart (RFC 7622 §3.3), as the account store would say.
        throw new StanzaError("jid-malformed", (err as Error).message);
      }
      if (!ctx.allowed(ctx.options.access, jid) || !ctx.allowed(ctx.options.ip_access, { ip })) {
        ctx.log.info({ user: username, ip }, "in-band registration refused by access rules");
        throw new StanzaError("forbidden", "access denied by service policy");
      }
      checkStrength(password);
      const now = Date.now();
      if (throttled) {
        for (const [addr, at] of lastByIp) if (now - at >= timeout * 1000) lastByIp.delete(addr);
        if (lastByIp.has(ip)) {
          throw new StanzaError(
            "resource-constraint",
            "users are not allowed to register accounts so quickly",
            "wait",
          );
        }
        lastByIp.set(ip, now); // taken now, so two concurrent attempts cannot both pass
      }
      try {
        const user = await ctx.accounts.register(username, ctx.host, password);
        registeredOn.add(session);
        ctx.log.info({ user, ip }, "account registered in-band");
      } catch (err) {
        if (throttled && lastByIp.get(ip) === now) lastByIp.delete(ip);
        throw err;
      }
    }

    // --- after authentication --------------------------------------------------------------

    for (const target of ["host", "account"] as const) {
      ctx.iq("get", NS_REGISTER, "query", (req) => registered(req), target);
      ctx.iq("set", NS_REGISTER, "query", (req) => change(req), target);
    }

    /** The requesting user's name, once sure it is a local user asking about themselves. */
    async function requester(req: IqRequest): Promise<string> {
      // To a user's bare JID, only that user may ask (no one registers at another's address).
      if (req.to.local !== "" && !req.from.bare().equals(req.to)) {
        throw new StanzaError("forbidden", "this is another user's account");
      }
      // §3.2 table: not registered here.
      if (req.from.domain !== ctx.host || !(await ctx.accounts.exists(req.from.local, ctx.host))) {
        throw new StanzaError("registration-required", "you have no account on this server");
      }
      return req.from.local;
    }

    /** §3.1: an authenticated user is told they are registered, with what is on file. */
    async function registered(req: IqRequest): Promise<Element> {
      const user = await requester(req);
      return xml(
        "query",
        { xmlns: NS_REGISTER },
        xml("registered"),
        xml(
          "instructions",
          {},
          "You are registered. Send a new password to change it, or <remove/> to delete the account.",
        ),
        xml("username", {}, user),
        xml("password"),
      );
    }

    async function change(req: IqRequest): Promise<null> {
      const user = await requester(req);
      const query = req.payload;
      if (query.getChild("remove")) {
        // §3.2: <remove/> must be the only child.
        if (query.getChildElements().length !== 1) {
          throw new StanzaError("bad-request", "<remove/> must be the only child of <query/>");
        }
        // §3.2: not-allowed where in-band removal is off; forbidden where this user may not.
        if (ctx.options.access_remove === "none") {
          throw new StanzaError("not-allowed", "accounts cannot be removed in-band here");
        }
        if (!ctx.allowed(ctx.options.access_remove, makeJID(user, ctx.host))) {
          throw new StanzaError("forbidden", "access denied by service policy");
        }
        // §3.2: the result first; then the account goes and every session of it is closed with
        // the not-authorized stream error (ctx.accounts.unregister does both).
        ctx.setTimeout(() => {
          void ctx.accounts.unregister(user, ctx.host).then(
            () => ctx.log.info({ user }, "account removed in-band"),
            (err: unknown) => ctx.log.warn({ err, user }, "in-band account removal failed"),
          );
        }, 0);
        return null;
      }
      // §3.3: a password change.
      const session = ctx.server.session(req.from);
      if (session && !session.secure) {
        throw new StanzaError("not-authorized", "encrypt the stream before changing the password");
      }
      const username = query.getChildText("username")?.trim();
      const password = query.getChildText("password") ?? "";
      // §3.3 table: incomplete information is a bad request; an empty password leaves the old
      // one in place.
      if (!username) throw new StanzaError("bad-request", "the request needs your <username/>");
      if (password === "") throw new StanzaError("bad-request", "the new password is empty");
      if (!sameUser(username, user)) {
        throw new StanzaError("forbidden", "you may change your own password only");
      }
      checkStrength(password);
      try {
        await ctx.accounts.changePassword(user, ctx.host, password);
      } catch (err) {
        throw asStanzaError(err);
      }
      ctx.log.info({ user }, "password changed in-band");
      return null;
    }

    function checkStrength(password: string): void {
      const least = ctx.options.password_strength;
      if (least > 0 && entropy(password) < least) {
        throw new StanzaError("not-acceptable", "the password is too weak");
      }
    }

    /** Account-store failures as the stanza errors XEP-0077 names for them. */
    function asStanzaError(err: unknown): InstanceType<typeof StanzaError> {
      if (err instanceof StanzaError) return err;
      const e = err as { name?: string; reason?: string; message?: string };
      if (e.name === "AccountError") {
        switch (e.reason) {
          case "exists": // §3.1: the username is taken
            return new StanzaError("conflict", "that username is taken");
          case "invalid-username": // not a valid localpart (RFC 7622 §3.3)
            return new StanzaError("jid-malformed", e.message);
          case "invalid-password":
            return new StanzaError("not-acceptable", e.message);
        }
      }
      ctx.log.error({ err }, "in-band registration failed");
      return new StanzaError("internal-server-error");
    }

    /** Whether the <username/> a user sent (a localpart, or a bare JID) names them. */
    function sameUser(given: string, user: string): boolean {
      const at = given.indexOf("@");
      if (at >= 0 && given.slice(at + 1) !== ctx.host) return false;
      try {
        return prepLocalpart(at >= 0 ? given.slice(0, at) : given) === user;
      } catch {
        return false;
      }
    }
  },
});

/**
 * An estimate of a password's entropy in bits, the measure ejabberd's password_strength
 * compares against: its length times log2 of the size of the character classes it draws from.
 */
function entropy(password: string): number {
  let pool = 0;
  const chars = [...password];
  if (chars.some((c) => c >= "a" && c <= "z")) pool += 26;
  if (chars.some((c) => c >= "A" && c <= "Z")) pool += 26;
  if (chars.some((c) => c >= "0" && c <= "9")) pool += 10;
  if (chars.some((c) => c >= " " && c <= "~" && !/[A-Za-z0-9]/.test(c))) pool += 33;
  if (chars.some((c) => c > "~" || c < " ")) pool += 128;
  return pool === 0 ? 0 : chars.length * Math.log2(pool);
}
