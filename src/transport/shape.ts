import { accessOf, type AccessSubject, type ShaperRuleRef } from "../access.js";
import type { ServerConfig } from "../config/config.js";
import type { ShaperStats } from "./read-control.js";
import type { Transport } from "./transport.js";

/**
 * Applies a listener's `shaper` rule to a connection for `who`: the peer's address when the
 * connection opens, its JID (or domain) and address once it authenticated — as ejabberd
 * re-evaluates c2s_shaper after login, so `none: admin` frees an admin's connection.
 */
export function shapeConnection(
  transport: Transport,
  config: ServerConfig,
  rule: ShaperRuleRef,
  who: AccessSubject,
  stats: ShaperStats,
): void {
  if (rule === "none" && !transport.reads.paused("shaper")) return;
  const rate = accessOf(config).shaper(rule, who);
  transport.reads.shape(rate, stats);
  if (rate) transport.log.debug({ rate: rate.rate, burst: rate.burst }, "input shaped");
}
