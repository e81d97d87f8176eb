// mod_stun_disco: XEP-0215 External Service Discovery, as ejabberd's module of that name: tells a
// client which STUN/TURN servers to use for audio/video calls (Jingle ICE), with temporary TURN
// credentials made per request from a secret shared with the TURN server (credentials.ts).
//
// Handles, on the user's own server domain:
//   <services/> get (§3.2): the configured services, optionally only those of one `type`;
//                 restricted ones carry fresh credentials and their expiry, as ejabberd does
//   <credentials/> get (§3.3): credentials for the one restricted service named by host and
//                 type (port and transport optional); item-not-found when none matches
//   set of either: not-allowed (only a server pushes service lists, §3.2)
// Disco: the feature urn:xmpp:extdisco:2 on the host (§4).
// Parley has no STUN/TURN server of its own: offer_local_services finds nothing to announce.
import {
  defineModule,
  StanzaError,
  xml,
  type Element,
  type JID,
  type ModuleContext,
  type OptionsOf,
} from "../../src/moduleapi.js";
import { turnCredentials, xepDateTime } from "./credentials.js";
import { stunDiscoOptions, type Service } from "./options.js";

export const NS_EXTDISCO = "urn:xmpp:extdisco:2";

type Ctx = ModuleContext<OptionsOf<typeof stunDiscoOptions>>;

export default defineModule({
  name: "mod_stun_disco",
  description: "XEP-0215: External Service Discovery of STUN/TURN services, with TURN credentials",
  options: stunDiscoOptions,
  start(ctx) {
    const o = ctx.options;
    // Without a secret shared with the TURN server, credentials we made would never be accepted
    // (ejabberd would make up a secret for its own TURN server; Parley has none).
    const needy = o.services.find((s) => s.restricted);
    if (needy && o.secret === "") {
      throw new Error(
        `the restricted service ${needy.type} ${needy.host}:${needy.port} needs credentials: set 'secret' to the TURN server's shared secret (coturn: static-auth-secret)`,
      );
    }
    ctx.feature(NS_EXTDISCO);
    ctx.iq("get", NS_EXTDISCO, "services", ({ payload, from }) => {
      allow(ctx, from);
      const type = payload.attrs.type as string | undefined;
      const list = o.services.filter((s) => type === undefined || s.type === type);
      return xml(
        "services",
        { xmlns: NS_EXTDISCO, type },
        ...list.map((s) => serviceElement(ctx, s, from)),
      );
    });
    ctx.iq("get", NS_EXTDISCO, "credentials", ({ payload, from }) => {
      allow(ctx, from);
      const matching = o.services.filter(credentialsRequest(payload));
      if (matching.length === 0) {
        throw new StanzaError("item-not-found", "no service that hands out credentials matches");
      }
      return xml(
        "credentials",
        { xmlns: NS_EXTDISCO },
        ...matching.map((s) => serviceElement(ctx, s, from)),
      );
    });
    for (const name of ["services", "credentials"]) {
      ctx.iq("set", NS_EXTDISCO, name, () => {
        throw new StanzaError("not-allowed", "service lists are pushed by the server only");
      });
    }
  },
});

/** §3.2: forbidden to those the access option leaves out. */
function allow(ctx: Ctx, from: JID): void {
  if (!ctx.allowed(ctx.options.access, from)) {
    throw new StanzaError("forbidden", "access denied by service policy");
  }
}

/** A <service/> as §3.3 describes it; a restricted one with credentials for `from`'s account. */
function serviceElement(ctx: Ctx, s: Service, from: JID): Element {
  const attrs: Record<string, string> = {
    host: s.host,
    port: String(s.port),
    transport: s.transport,
    type: s.type,
  };
  if (s.restricted) {
    const c = turnCredentials(
      ctx.options.secret,
      from.bare().toString(),
      ctx.options.credentials_lifetime,
    );
    Object.assign(attrs, {
      restricted: "true",
      username: c.username,
      password: c.password,
      expires: xepDateTime(c.expires),
    });
  }
  return xml("service", attrs);
}

/**
 * §3.3.1: the request's one <service/> names the service by host and type (both required),
 * and port if several share them; transport is accepted too, as ejabberd does. Only restricted
 * services have credentials to give.
 */
function credentialsRequest(payload: Element): (s: Service) => boolean {
  const asked = payload.getChildren("service").filter((c) => c.getNS() === NS_EXTDISCO);
  if (asked.length !== 1) {
    throw new StanzaError("bad-request", "a credentials request names exactly one <service/>");
  }
  const { host, type, port, transport } = asked[0]!.attrs as Record<string, string | undefined>;
  if (!host || !type) {
    throw new StanzaError("bad-request", "the <service/> needs its host and type");
  }
  if (port !== undefined && !/^\d{1,5}$/.test(port)) {
    throw new StanzaError("bad-request", "port is a port number");
  }
  if (transport !== undefined && transport !== "udp" && transport !== "tcp") {
    throw new StanzaError("bad-request", "transport is udp or tcp");
  }
  return (s) =>
    s.restricted &&
    s.host.toLowerCase() === host.toLowerCase() &&
    s.type === type &&
    (port === undefined || s.port === Number(port)) &&
    (transport === undefined || s.transport === transport);
}
