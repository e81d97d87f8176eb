// mod_bosh: XMPP over BOSH (XEP-0124, XEP-0206) for web clients behind proxies that pass no
// WebSocket. The connection manager is in the core (ctx.boshHandler: its sessions are client
// sessions like TCP ones); this module takes ejabberd's options and serves the paths an
// ejabberd_http listener maps to it (`request_handlers: { /bosh: mod_bosh }`).
import { defineModule, opt, OptionError } from "../src/moduleapi.js";

/** An ejabberd option Parley refuses when switched on, saying why. */
function unsupported(name: string, why: string) {
  return opt.custom("false", false, `not supported: ${why}`, (v) => {
    if (v === false) return false;
    if (v === true) throw new OptionError(`${name}: true is not supported: ${why}`);
    throw new OptionError(`expected false, got ${JSON.stringify(v)}`);
  });
}

/** "*" or one origin (RFC 6454 §6.2): what may stand in Access-Control-Allow-Origin. */
const ORIGIN =
  /^https?:\/\/[A-Za-z0-9.-]+(:[0-9]{1,5})?$|^https?:\/\/\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?$/;

export default defineModule({
  name: "mod_bosh",
  description: "XEP-0206: XMPP over BOSH (XEP-0124) on the ejabberd_http listeners",
  options: {
    max_inactivity: opt.integer(
      30,
      "seconds without a request before a BOSH session counts as gone (XEP-0124 §10)",
      { min: 1, max: 3600 },
    ),
    max_pause: opt.integer(
      120,
      "the longest pause a client may ask for, in seconds (XEP-0124 §10); 0 turns pausing off",
      { min: 0, max: 86400 },
    ),
    max_concat: opt.integer(
      Infinity,
      "the most stanzas one HTTP answer carries; the rest go with the next request",
      { min: 1, infinity: true },
    ),
    allow_origin: opt.custom(
      '"*" or an origin such as https://chat.example.org',
      "*",
      "Access-Control-Allow-Origin of every answer (CORS): which web pages may use this BOSH URL",
      (v) => {
        if (typeof v === "string" && (v === "*" || ORIGIN.test(v))) return v;
        throw new OptionError(
          `expected "*" or an origin such as https://chat.example.org, got ${JSON.stringify(v)}`,
        );
      },
    ),
    queue_type: opt.oneOf(
      ["ram", "file"],
      "ram",
      "accepted for ejabberd configs; no effect: a BOSH session's queue is in memory",
    ),
    ram_db_type: opt.oneOf(
      ["mnesia", "redis", "sql"],
      "mnesia",
      "accepted for ejabberd configs; no effect: BOSH sessions are in memory on this one node",
    ),
    json: unsupported("json", "BOSH bodies are XML only (XEP-0124); use WebSocket or XML BOSH"),
    prebind: unsupported(
      "prebind",
      "sessions are created by the web client itself, not attached from a web application",
    ),
  },
  start(ctx) {
    const o = ctx.options;
    ctx.httpHandler(
      ctx.boshHandler({
        maxInactivity: o.max_inactivity,
        maxPause: o.max_pause,
        maxConcat: o.max_concat,
        allowOrigin: o.allow_origin,
      }),
    );
  },
});
