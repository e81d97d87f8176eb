// BOSH (XEP-0124, XEP-0206) on the HTTP listeners: a connection manager whose sessions are client
// sessions like TCP and WebSocket ones (StartSession). mod_bosh asks for one with its options
// (ctx.boshHandler) and registers the handler under its name.
import type { CoreContext } from "../context.js";
import { BoshManager } from "../transport/bosh/manager.js";
import { boshHttpHandler, type ListenerConnection } from "../transport/bosh/http.js";
import { DEFAULT_LIMITS } from "../transport/bosh/types.js";
import type { StartSession } from "./c2s.js";
import type { HttpHandler } from "./types.js";

/** What a module chooses of a BOSH service (ejabberd's mod_bosh options). */
export interface BoshOptions {
  /** Seconds without a request before a session counts as gone (XEP-0124 §10 `inactivity`). */
  maxInactivity: number;
  /** The longest pause a client may ask for, in seconds (§10 `maxpause`); 0 turns pausing off. */
  maxPause: number;
  /** The most payloads one answer carries (Infinity for no cap); the rest go with the next. */
  maxConcat: number;
  /** Access-Control-Allow-Origin for browsers (CORS): "*" or one origin. */
  allowOrigin: string;
}

export interface BoshService {
  readonly handler: HttpHandler;
  /** BOSH sessions open now. */
  readonly sessions: number;
  /** Ends every session with system-shutdown (XEP-0124 §17.2). */
  close(why: string): void;
}

export function boshService(
  ctx: CoreContext,
  startSession: StartSession,
  options: BoshOptions,
): BoshService {
  const manager = new BoshManager<ListenerConnection>({
    limits: {
      ...DEFAULT_LIMITS,
      inactivity: options.maxInactivity,
      maxPause: options.maxPause,
      maxConcat: options.maxConcat,
    },
    isHost: (domain) => ctx.hosts.has(domain),
    accept: (conn, make) => startSession(conn.listener, make),
    log: ctx.log.child({ component: "bosh" }),
  });
  return {
    handler: boshHttpHandler(manager, { allowOrigin: options.allowOrigin }),
    get sessions() {
      return manager.size;
    },
    close: (why) => manager.closeAll(why),
  };
}
